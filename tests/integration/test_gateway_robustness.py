"""Robustness, access logs and status: bad clients get AWS behaviour, everyone else is served."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import connect

from tests.timing import SECOND
from workshop_utils.cli import format_status
from workshop_utils.localcloud import LocalCloud

from . import kit

UPGRADE = ("GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

SLOW_CONNECT_SOURCE = f"""
import json, time

def handler(event, context):
    print("EVENT " + json.dumps(event))
    if event["requestContext"]["eventType"] == "CONNECT":
        time.sleep({1 * SECOND!r})
    return {{"statusCode": 200}}
"""


async def still_served(url: str) -> None:
    """A fresh client connects and gets an answer: the gateway keeps serving everyone."""
    async with connect(url, open_timeout=20 * SECOND) as ws:
        await ws.send('{"action": "ping"}')
        assert await ws.recv()


def test_a_garbage_frame_closes_only_that_client(cloud: LocalCloud) -> None:
    """Robustness: an unmasked (invalid) frame closes that connection with 1002; a client
    connected alongside is unaffected."""
    api = kit.build_mock_api(cloud, "gwx-garbage")
    url = urlsplit(api["url"])

    async def scenario() -> None:
        async with connect(api["url"]) as bystander:
            sock = socket.create_connection((url.hostname, url.port), timeout=5 * SECOND)
            try:
                sock.sendall(UPGRADE.format(path=url.path).encode())
                assert sock.recv(4096).startswith(b"HTTP/1.1 101")
                sock.sendall(b"\x81\x05hello")  # not masked: a protocol error from a client
                answer = sock.recv(4096)
                assert answer[:1] == b"\x88" and answer[2:4] == (1002).to_bytes(2, "big")
            finally:
                sock.close()
            await bystander.send("still there?")
            assert "Forbidden" in await bystander.recv()

    kit.run_async(scenario())


def test_malformed_http_gets_a_small_error_never_a_traceback(cloud: LocalCloud) -> None:
    """Robustness: garbage, an oversized head, a bad Content-Length: 4xx and close."""
    api = kit.build_mock_api(cloud, "gwx-http")
    for request, status in ((b"\x16\x03\x01 hello\r\n\r\n", b"400"),
                            (b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n", b"431"),
                            (b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n", b"400"),
                            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"411")):
        answer = kit.raw_http(api["url"], request)
        assert answer.split(b" ")[1] == status, answer[:100]
        assert b"Traceback" not in answer
    kit.run_async(still_served(api["url"]))


def test_a_client_vanishing_mid_handshake_harms_nobody_and_gets_its_disconnect(
        cloud: LocalCloud) -> None:
    """Robustness: a client that leaves during $connect harms nobody; as AWS saw the
    connection succeed, $disconnect runs for it with 1006."""
    fn = kit.deploy_function(cloud, "gwx-slow-connect", SLOW_CONNECT_SOURCE,
                             timeout=10 * SECOND)
    api = kit.build_websocket_api(cloud, "gwx-vanish", {"$connect": fn, "$disconnect": fn,
                                                        "$default": fn})
    url = urlsplit(api["url"])
    sock = socket.create_connection((url.hostname, url.port), timeout=5 * SECOND)
    sock.sendall(UPGRADE.format(path=url.path).encode())
    sock.close()
    kit.run_async(still_served_quietly(api["url"]))
    [event] = kit.logged_events(cloud, "gwx-slow-connect", where=lambda e: (
        e["requestContext"]["eventType"] == "DISCONNECT"
        and e["requestContext"]["disconnectStatusCode"] == 1006))
    connects = kit.logged_events(cloud, "gwx-slow-connect", count=2, where=lambda e: (
        e["requestContext"]["eventType"] == "CONNECT"))
    assert event["requestContext"]["connectionId"] in {
        e["requestContext"]["connectionId"] for e in connects}


async def still_served_quietly(url: str) -> None:
    """A fresh client completes its handshake: the gateway still accepts connections."""
    async with connect(url, open_timeout=20 * SECOND) as ws:
        assert ws.response.status_code == 101


def test_a_function_deleted_under_open_connections_answers_internal_error(
        cloud: LocalCloud) -> None:
    """Robustness: the route's function is deleted under open connections: messages get the
    Internal server error frame, the connections stay, other APIs keep working."""
    fn = kit.deploy_function(cloud, "gwx-doomed", kit.ECHO_SOURCE)
    api = kit.build_websocket_api(cloud, "gwx-doomed", {"$default": fn}, two_way=("$default",))
    other = kit.build_mock_api(cloud, "gwx-bystander", ("ping",))

    async def scenario() -> None:
        async with connect(api["url"], open_timeout=20 * SECOND) as a, connect(api["url"]) as b:
            await a.send("before")
            assert json.loads(await a.recv())["body"] == "before"
            await asyncio.to_thread(cloud.client("lambda").delete_function,
                                    FunctionName="gwx-doomed")
            for ws in (a, b):
                await ws.send("after")
                assert json.loads(await ws.recv())["message"] == "Internal server error"
            await still_served(other["url"])

    kit.run_async(scenario())


ACCESS_FORMAT = json.dumps({k: f"$context.{k}" for k in (
    "requestId", "extendedRequestId", "eventType", "routeKey", "status", "connectionId",
    "messageId", "apiId", "stage", "domainName", "integrationLatency", "requestTime",
    "requestTimeEpoch", "connectedAt", "identity.sourceIp", "error.message", "nope")})
REQUEST_TIME = re.compile(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$")

RAISE_SOURCE = """
def handler(event, context):
    raise RuntimeError("boom")
"""


def access_logged_api(cloud: LocalCloud, name: str, routes: dict[str, str],
                      **kwargs: Any) -> tuple[dict[str, Any], str]:
    """A deployed API whose stage writes ACCESS_FORMAT lines to its own log group."""
    group = f"/workshop/{name}-access"
    kit.ensure_logging_role(cloud)
    api = kit.build_websocket_api(cloud, name, routes, stage_kwargs={"AccessLogSettings": {
        "DestinationArn": f"arn:aws:logs:{cloud.region}:123456789012:log-group:{group}",
        "Format": ACCESS_FORMAT}}, **kwargs)
    return api, group


def access_lines(cloud: LocalCloud, group: str, cid: str, count: int) -> list[dict[str, Any]]:
    """The access-log lines of connection ``cid``, once ``count`` are there (10 s at most)."""
    logs = cloud.client("logs")
    deadline = time.monotonic() + 10 * SECOND
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline and len(lines) < count:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        lines = [json.loads(e["message"]) for e in events]
        lines = [line for line in lines if line["connectionId"] == cid]
        time.sleep(0.1 * SECOND)
    return lines


def check_common_values(cloud: LocalCloud, api: dict[str, Any], lines: list[dict[str, Any]],
                        before_ms: float) -> None:
    """Values every line must have: AWS-form domain, client IP, epoch-ms times that agree
    with requestTime, one connectedAt per connection, a request id per line."""
    after_ms = time.time() * 1000
    domain = f"{api['api_id']}.execute-api.{cloud.region}.amazonaws.com"
    connected_at = lines[0]["connectedAt"]
    for line in lines:
        assert line["apiId"] == api["api_id"] and line["stage"] == api["stage"]
        assert line["domainName"] == domain
        assert line["identity.sourceIp"] == "127.0.0.1"
        assert line["connectedAt"] == connected_at
        epoch = int(line["requestTimeEpoch"])
        for value in (int(connected_at), epoch):  # epoch milliseconds of now
            assert before_ms - 60_000 < value < after_ms + 60_000, line
        assert int(connected_at) <= epoch
        assert REQUEST_TIME.match(line["requestTime"])
        assert line["requestTime"] == time.strftime("%d/%b/%Y:%H:%M:%S +0000",
                                                    time.gmtime(epoch // 1000)), line
        assert line["requestId"] == line["extendedRequestId"] != "-"
        assert line["nope"] == "-"
    assert len({line["requestId"] for line in lines}) == len(lines)


def test_access_log_lines_fill_the_context_variables(cloud: LocalCloud) -> None:
    """Observability: with AccessLogSettings, one line per event (CONNECT, MESSAGE,
    DISCONNECT) with $context.* filled in with the event's values; unknown variables are "-".
    This stage has no $connect route: its CONNECT line is written all the same."""
    fn = kit.deploy_function(cloud, "gwx-logged", kit.ECHO_SOURCE)
    api, group = access_logged_api(cloud, "gwx-logged", {"$default": fn},
                                   two_way=("$default",))
    before_ms = time.time() * 1000

    async def scenario() -> dict[str, Any]:
        async with connect(api["url"], open_timeout=20 * SECOND) as ws:
            await ws.send("logged")
            return json.loads(await ws.recv())["requestContext"]

    ctx = kit.run_async(scenario())
    lines = access_lines(cloud, group, ctx["connectionId"], 3)
    assert [line["eventType"] for line in lines] == ["CONNECT", "MESSAGE", "DISCONNECT"]
    check_common_values(cloud, api, lines, before_ms)
    connect_line, message_line, disconnect_line = lines
    assert connect_line["routeKey"] == "$connect" and connect_line["status"] == "200"
    assert disconnect_line["routeKey"] == "$disconnect"
    assert message_line["routeKey"] == "$default" and message_line["status"] == "200"
    assert message_line["messageId"] == ctx["messageId"] and connect_line["messageId"] == "-"
    # The MESSAGE line describes the same request the function saw.
    assert message_line["requestId"] == ctx["requestId"]
    assert message_line["requestTimeEpoch"] == str(ctx["requestTimeEpoch"])
    assert message_line["requestTime"] == ctx["requestTime"]
    assert message_line["connectedAt"] == str(ctx["connectedAt"])
    assert message_line["integrationLatency"].isdigit()
    assert connect_line["integrationLatency"] == "-"  # nothing was invoked
    assert all(line["error.message"] == "-" for line in lines)


def test_access_log_records_the_connect_route_and_error_statuses(cloud: LocalCloud) -> None:
    """Observability: a stage with a $connect route logs its CONNECT line (status 200, the
    integration's latency); a message no route takes (no $default) logs status 403 and
    error.message Forbidden; a function that raises logs status 500 and error.message
    "Internal server error"."""
    echo = kit.deploy_function(cloud, "gwx-logged-connect", kit.ECHO_SOURCE)
    boom = kit.deploy_function(cloud, "gwx-logged-boom", RAISE_SOURCE)
    api, group = access_logged_api(cloud, "gwx-logged-errors",
                                   {"$connect": echo, "boom": boom})
    before_ms = time.time() * 1000

    async def scenario() -> str:
        async with connect(api["url"], open_timeout=20 * SECOND) as ws:
            await ws.send('{"action": "nowhere"}')
            forbidden = json.loads(await ws.recv())
            assert forbidden["message"] == "Forbidden"
            await ws.send('{"action": "boom"}')
            assert json.loads(await ws.recv())["message"] == "Internal server error"
            return forbidden["connectionId"]

    cid = kit.run_async(scenario())
    lines = access_lines(cloud, group, cid, 4)
    assert sorted(line["eventType"] for line in lines) == [
        "CONNECT", "DISCONNECT", "MESSAGE", "MESSAGE"]
    check_common_values(cloud, api, lines, before_ms)
    [connect_line] = [line for line in lines if line["eventType"] == "CONNECT"]
    assert connect_line["routeKey"] == "$connect" and connect_line["status"] == "200"
    assert connect_line["integrationLatency"].isdigit()
    assert connect_line["error.message"] == "-"
    messages = {line["status"]: line for line in lines if line["eventType"] == "MESSAGE"}
    assert set(messages) == {"403", "500"}
    assert messages["403"]["error.message"] == "Forbidden"
    assert messages["403"]["integrationLatency"] == "-"  # nothing was invoked
    assert messages["500"]["error.message"] == "Internal server error"
    assert messages["500"]["routeKey"] == "boom"
    assert messages["500"]["integrationLatency"].isdigit()
    assert all(m["messageId"] != "-" for m in messages.values())


def test_status_lists_served_stages_and_open_connections(cloud: LocalCloud) -> None:
    """status(): every served stage with its ws:// URL, deployment and open connections."""
    api = kit.build_mock_api(cloud, "gwx-status")

    async def scenario() -> tuple[str, dict[str, Any]]:
        async with connect(api["url"], user_agent_header="status-test") as ws:
            await ws.send("who")
            cid = json.loads(await ws.recv())["connectionId"]
            return cid, await asyncio.to_thread(cloud.status)

    cid, state = kit.run_async(scenario())
    [entry] = [a for a in state["apis"] if a["api_id"] == api["api_id"]]
    assert entry["name"] == "gwx-status"
    [stage] = entry["stages"]
    assert stage["url"] == api["url"] and stage["deployment_id"]
    [conn] = stage["connections"]
    assert conn["connection_id"] == cid and conn["user_agent"] == "status-test"
    assert conn["source_ip"] == "127.0.0.1" and conn["connected_at"].endswith("Z")
    assert cid in format_status(state)


def test_stopping_the_cloud_closes_every_connection_with_1001() -> None:
    """stop(): every connection is closed with 1001 "Going away", within a bound."""
    with LocalCloud() as own:
        api = kit.build_mock_api(own, "gwx-stop")

        async def scenario() -> list[tuple[int | None, str | None]]:
            clients = [await connect(api["url"]) for _ in range(20)]
            loop = asyncio.get_running_loop()
            started = loop.time()
            await asyncio.to_thread(own.close)
            for ws in clients:
                await ws.wait_closed()
            assert loop.time() - started < 15 * SECOND
            return [(ws.close_code, ws.close_reason) for ws in clients]

        codes = kit.run_async(scenario())
    assert codes == [(1001, "Going away")] * 20
