"""SPEC-gateway "Events" and "Disconnect": the Lambda proxy events the gateway sends."""

from __future__ import annotations

import asyncio
import calendar
import json
import re
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud

from . import kit

REQUEST_TIME = re.compile(r"^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000$")
AWS_ID = re.compile(r"^[A-Za-z0-9_-]{15}=$")
COMMON_KEYS = {"routeKey", "eventType", "extendedRequestId", "requestTime", "messageDirection",
               "stage", "connectedAt", "requestTimeEpoch", "identity", "requestId",
               "domainName", "connectionId", "apiId"}


GONE_DISCONNECT_SOURCE = kit.self_post_source(
    b"from $disconnect", 'raise RuntimeError("the $disconnect function fails")')


@pytest.fixture(scope="module")
def api(cloud: LocalCloud) -> dict[str, Any]:
    """$connect, $disconnect and a two-way $default, all echoing their event."""
    fn = kit.deploy_function(cloud, "gwe-echo", kit.ECHO_SOURCE)
    return kit.build_websocket_api(cloud, "gwe", {"$connect": fn, "$disconnect": fn,
                                                  "$default": fn}, two_way=("$default",))


def events_of(cloud: LocalCloud, connection_id: str, event_type: str,
              count: int = 1) -> list[dict[str, Any]]:
    """The events of one type that gwe-echo logged for one connection."""
    return kit.logged_events(cloud, "gwe-echo", count=count, where=lambda e: (
        e["requestContext"]["connectionId"] == connection_id
        and e["requestContext"]["eventType"] == event_type))


async def exchange(url: str, message: str = "hello", **kwargs: Any) -> dict[str, Any]:
    """Connect, send ``message``, return the MESSAGE event echoed back; then close."""
    async with connect(url, open_timeout=20 * SECOND, **kwargs) as ws:
        await ws.send(message)
        return json.loads(await ws.recv())


def test_the_connect_event_is_shaped_as_aws_sends_it(cloud: LocalCloud,
                                                     api: dict[str, Any]) -> None:
    """Rules: CONNECT headers/multiValueHeaders (client casing) + X-Forwarded-* and
    X-Amzn-Trace-Id; query maps only with a query string; no body; isBase64Encoded false."""
    message = kit.run_async(exchange(api["url"] + "?name=ann&room=1&room=2",
                                     additional_headers={"X-Custom-Thing": "Yes"}))
    cid = message["requestContext"]["connectionId"]
    [event] = events_of(cloud, cid, "CONNECT")
    ctx = event["requestContext"]
    assert set(ctx) == COMMON_KEYS
    assert ctx["routeKey"] == "$connect" and ctx["messageDirection"] == "IN"
    assert ctx["requestId"] == ctx["extendedRequestId"] and AWS_ID.match(ctx["requestId"])
    assert ctx["domainName"] == f"{api['api_id']}.execute-api.{cloud.region}.amazonaws.com"
    assert ctx["apiId"] == api["api_id"] and ctx["stage"] == "test"
    assert REQUEST_TIME.match(ctx["requestTime"])
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"].startswith("Python/")
    headers = event["headers"]
    assert headers["X-Custom-Thing"] == "Yes"  # client casing kept
    assert headers["Host"] == ctx["domainName"]
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Port"] and headers["X-Forwarded-Proto"]
    assert headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert "Sec-WebSocket-Key" in headers and "Upgrade" not in headers
    assert event["multiValueHeaders"]["X-Custom-Thing"] == ["Yes"]
    assert set(event["multiValueHeaders"]) == set(headers)
    assert event["queryStringParameters"] == {"name": "ann", "room": "2"}
    assert event["multiValueQueryStringParameters"] == {"name": ["ann"], "room": ["1", "2"]}
    assert "body" not in event and event["isBase64Encoded"] is False


def test_a_connect_event_without_query_or_user_agent_has_none(cloud: LocalCloud,
                                                              api: dict[str, Any]) -> None:
    """Rules: no query maps without a query string; identity.userAgent only if sent."""
    message = kit.run_async(exchange(api["url"], user_agent_header=None))
    assert "userAgent" not in message["requestContext"]["identity"]
    [event] = events_of(cloud, message["requestContext"]["connectionId"], "CONNECT")
    assert "queryStringParameters" not in event
    assert "multiValueQueryStringParameters" not in event
    assert "userAgent" not in event["requestContext"]["identity"]


def test_the_message_event_is_shaped_as_aws_sends_it(cloud: LocalCloud,
                                                     api: dict[str, Any]) -> None:
    """Rules: MESSAGE has body and messageId, no headers or query; requestId new per event;
    connectedAt the same for the whole connection."""

    async def scenario() -> list[dict[str, Any]]:
        async with connect(api["url"] + "?q=1", open_timeout=20 * SECOND) as ws:
            out = []
            for text in ('{"action": "x"}', "second"):
                await ws.send(text)
                out.append(json.loads(await ws.recv()))
            return out

    first, second = kit.run_async(scenario())
    ctx = first["requestContext"]
    assert set(ctx) == COMMON_KEYS | {"messageId"}
    assert ctx["eventType"] == "MESSAGE" and ctx["routeKey"] == "$default"
    assert AWS_ID.match(ctx["messageId"])
    assert first["body"] == '{"action": "x"}' and second["body"] == "second"
    assert first["isBase64Encoded"] is False
    assert not {"headers", "multiValueHeaders", "queryStringParameters"} & set(first)
    ids = {ctx["requestId"], second["requestContext"]["requestId"], ctx["messageId"],
           second["requestContext"]["messageId"]}
    assert len(ids) == 4
    [connect_ev] = events_of(cloud, ctx["connectionId"], "CONNECT")
    connected = {ctx["connectedAt"], second["requestContext"]["connectedAt"],
                 connect_ev["requestContext"]["connectedAt"]}
    assert len(connected) == 1
    assert connect_ev["requestContext"]["requestId"] not in ids


def request_time_epoch_s(text: str) -> int:
    """``dd/MMM/yyyy:HH:mm:ss +0000`` as epoch seconds (month names parsed locale-free)."""
    day, month, rest = text.split("/")
    year, hh, mm, ss = rest.split(" ")[0].split(":")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return calendar.timegm((int(year), months.index(month) + 1, int(day), int(hh), int(mm),
                            int(ss), 0, 0, 0))


def test_times_are_epoch_milliseconds(cloud: LocalCloud, api: dict[str, Any]) -> None:
    """Rules: connectedAt (epoch ms, the same for the whole connection, DISCONNECT included),
    requestTimeEpoch (epoch ms), requestTime (dd/MMM/yyyy:HH:mm:ss +0000) the same instant."""
    before_ms = time.time() * 1000
    pause = 0.05 * SECOND

    async def scenario() -> str:
        async with connect(api["url"], open_timeout=20 * SECOND) as ws:
            await asyncio.sleep(pause)  # so the MESSAGE is later than connectedAt
            await ws.send("when")
            return json.loads(await ws.recv())["requestContext"]["connectionId"]

    cid = kit.run_async(scenario())
    contexts = [events_of(cloud, cid, kind)[0]["requestContext"]
                for kind in ("CONNECT", "MESSAGE", "DISCONNECT")]
    after_ms = time.time() * 1000
    connected_at = contexts[0]["connectedAt"]
    for ctx in contexts:
        assert ctx["connectedAt"] == connected_at, ctx["eventType"]
        epoch = ctx["requestTimeEpoch"]
        for value in (ctx["connectedAt"], epoch):
            # Milliseconds of now: a value in seconds (or in microseconds) is far outside.
            assert isinstance(value, int) and before_ms - 60_000 < value < after_ms + 60_000
        assert connected_at <= epoch
        assert REQUEST_TIME.match(ctx["requestTime"])
        assert request_time_epoch_s(ctx["requestTime"]) == epoch // 1000, ctx
    epochs = [ctx["requestTimeEpoch"] for ctx in contexts]
    assert epochs == sorted(epochs) and epochs[1] - connected_at >= pause * 1000


def disconnect_context(cloud: LocalCloud, connection_id: str) -> dict[str, Any]:
    """The requestContext of the connection's DISCONNECT event, after checking the event's
    fixed shape (AWS's four headers, no body)."""
    [event] = events_of(cloud, connection_id, "DISCONNECT")
    assert event["headers"] == {"Host": event["requestContext"]["domainName"], "x-api-key": "",
                                "X-Forwarded-For": "", "x-restapi": ""}
    assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}
    assert "body" not in event and event["isBase64Encoded"] is False
    ctx = event["requestContext"]
    assert set(ctx) == COMMON_KEYS | {"disconnectStatusCode", "disconnectReason"}
    assert ctx["routeKey"] == "$disconnect"
    return ctx


def test_disconnect_reports_the_clients_close_code_and_reason(
        cloud: LocalCloud, api: dict[str, Any]) -> None:
    """Rule: disconnectStatusCode/Reason are the client's close code and reason."""

    async def scenario() -> str:
        async with connect(api["url"], open_timeout=20 * SECOND) as ws:
            await ws.send("hi")
            cid = json.loads(await ws.recv())["requestContext"]["connectionId"]
            await ws.close(4000, "bye now")
        return cid

    ctx = disconnect_context(cloud, kit.run_async(scenario()))
    assert (ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (4000, "bye now")


def test_disconnect_without_close_code_is_1005(cloud: LocalCloud, api: dict[str, Any]) -> None:
    """Rule: 1005 "Client-side close frame status not set" when the client sent no code."""

    async def scenario() -> str:
        async with connect(api["url"], open_timeout=20 * SECOND) as ws:
            await ws.send("hi")
            cid = json.loads(await ws.recv())["requestContext"]["connectionId"]
            ws.protocol.send_close()  # an empty close frame: no status code
            ws.send_data()  # flush what the Sans-I/O protocol queued
            await ws.wait_closed()
        return cid

    ctx = disconnect_context(cloud, kit.run_async(scenario()))
    assert ctx["disconnectStatusCode"] == 1005
    assert ctx["disconnectReason"] == "Client-side close frame status not set"


def test_disconnect_after_delete_is_1000(cloud: LocalCloud, api: dict[str, Any]) -> None:
    """Rule: 1000 "Connection Closed Normally" for DELETE @connections."""
    mgmt = cloud.management_client(api["api_id"], "test")

    async def scenario() -> str:
        async with connect(api["url"], open_timeout=20 * SECOND) as ws:
            await ws.send("hi")
            cid = json.loads(await ws.recv())["requestContext"]["connectionId"]
            await asyncio.to_thread(mgmt.delete_connection, ConnectionId=cid)
            await ws.wait_closed()
            assert ws.close_code == 1000
        return cid

    ctx = disconnect_context(cloud, kit.run_async(scenario()))
    assert (ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (
        1000, "Connection Closed Normally")


def test_disconnect_after_a_drop_is_1006_and_runs_once(cloud: LocalCloud,
                                                        api: dict[str, Any]) -> None:
    """Rules: 1006 for a drop without a close frame; $disconnect once per connection."""

    async def scenario() -> str:
        ws = await connect(api["url"], open_timeout=20 * SECOND)
        await ws.send("hi")
        cid = json.loads(await ws.recv())["requestContext"]["connectionId"]
        ws.transport.abort()  # TCP gone, no close frame
        await ws.wait_closed()
        return cid

    cid = kit.run_async(scenario())
    ctx = disconnect_context(cloud, cid)
    assert ctx["disconnectStatusCode"] == 1006
    events = kit.logged_events(cloud, "gwe-echo", where=lambda e: (
        e["requestContext"]["connectionId"] == cid))
    assert [e["requestContext"]["eventType"] for e in events].count("DISCONNECT") == 1


def test_disconnect_runs_after_the_socket_is_gone_and_its_result_is_ignored(
        cloud: LocalCloud) -> None:
    """Rules: $disconnect runs once, after the socket is gone (posting to its own id gets
    GoneException), best effort, its result ignored: the function raising sends nothing to
    anyone, and the gateway keeps serving."""
    fn = kit.deploy_function(cloud, "gwe-gone", GONE_DISCONNECT_SOURCE, timeout=10 * SECOND)
    api = kit.build_websocket_api(cloud, "gwe-gone", {"$disconnect": fn})  # no $default

    async def forbidden_id(ws: Any) -> str:
        await ws.send("who am I")
        return json.loads(await ws.recv())["connectionId"]

    async def scenario() -> tuple[str, str]:
        async with connect(api["url"], open_timeout=20 * SECOND) as bystander:
            bystander_id = await forbidden_id(bystander)
            async with connect(api["url"], open_timeout=20 * SECOND) as leaving:
                cid = await forbidden_id(leaving)
            await asyncio.to_thread(kit.logged_events, cloud, "gwe-gone",
                                    where=lambda e: e["connectionId"] == cid)
            with pytest.raises(TimeoutError):  # nothing from the failed $disconnect
                async with asyncio.timeout(0.5 * SECOND):
                    await bystander.recv()
            assert await forbidden_id(bystander) == bystander_id  # still served
            # new connections too
            async with connect(api["url"], open_timeout=20 * SECOND) as newcomer:
                assert await forbidden_id(newcomer) not in (cid, bystander_id)
        return cid, bystander_id

    cid, bystander_id = kit.run_async(scenario())
    time.sleep(0.5 * SECOND)  # a second (wrong) invocation would have logged by now
    runs = kit.logged_events(cloud, "gwe-gone", where=lambda e: e["connectionId"] == cid)
    assert [e["result"] for e in runs] == ["gone"]
    logs = cloud.client("logs").filter_log_events(logGroupName="/aws/lambda/gwe-gone")
    text = "\n".join(e["message"] for e in logs["events"])
    assert text.count("[ERROR] RuntimeError: the $disconnect function fails") >= 1
