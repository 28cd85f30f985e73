"""SPEC-gateway "What is served" and "Handshake ($connect)": the opening handshake."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.timing import SECOND, milliseconds
from workshop_utils.localcloud import LocalCloud

from . import kit

CONNECTION_ID = re.compile(r"^[A-Za-z0-9_-]{15}=$")

STATUS_SOURCE = """
import json, os

def handler(event, context):
    print("EVENT " + json.dumps(event))
    headers = json.loads(os.environ.get("HEADERS", "{}"))
    return {"statusCode": int(os.environ["STATUS"]), "headers": headers,
            "body": "the function's body"}
"""

QUERY_STATUS_SOURCE = """
def handler(event, context):
    return {"statusCode": int(event["queryStringParameters"]["status"]),
            "body": "the function's body"}
"""

RAISE_SOURCE = """
def handler(event, context):
    raise RuntimeError("boom")
"""

SLEEP_S = 3 * SECOND  # how long gwh-sleep's $connect takes
SLEEP_SOURCE = f"""
import time

def handler(event, context):
    time.sleep({SLEEP_S!r})
    return {{"statusCode": 200}}
"""

EARLY_POST_SOURCE = kit.self_post_source(b"too early", 'return {"statusCode": 200}')


@pytest.fixture(scope="module")
def fns(cloud: LocalCloud) -> dict[str, str]:
    """The functions of this module, by role (ARNs)."""
    return {
        "ok": kit.deploy_function(cloud, "gwh-ok", STATUS_SOURCE, environment={"STATUS": "200"}),
        "401": kit.deploy_function(cloud, "gwh-401", STATUS_SOURCE,
                                   environment={"STATUS": "401"}),
        "chat": kit.deploy_function(cloud, "gwh-chat", STATUS_SOURCE, environment={
            "STATUS": "200", "HEADERS": json.dumps({"Sec-WebSocket-Protocol": "chat"})}),
        "query": kit.deploy_function(cloud, "gwh-query-status", QUERY_STATUS_SOURCE),
        "raise": kit.deploy_function(cloud, "gwh-raise", RAISE_SOURCE),
        "sleep": kit.deploy_function(cloud, "gwh-sleep", SLEEP_SOURCE, timeout=10 * SECOND),
        "early": kit.deploy_function(cloud, "gwh-early", EARLY_POST_SOURCE,
                                     timeout=10 * SECOND),
    }


async def refused_status(url: str, **kwargs: Any) -> tuple[int, bytes]:
    """The status and body of a handshake the gateway refuses."""
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, open_timeout=15 * SECOND, **kwargs):
            pass
    return refused.value.response.status_code, bytes(refused.value.response.body)


async def forbidden_frame_id(url: str) -> str:
    """Connect, send a message no route takes, and read the connection id from the answer."""
    async with connect(url) as ws:
        await ws.send('{"action": "nowhere"}')
        return json.loads(await ws.recv())["connectionId"]


def test_without_connect_route_the_handshake_is_accepted(cloud: LocalCloud) -> None:
    """Rule: without a $connect route, accepted."""
    api = kit.build_mock_api(cloud, "gwh-no-connect")

    async def scenario() -> None:
        async with connect(api["url"]) as ws:
            assert ws.response.status_code == 101

    kit.run_async(scenario())


def test_unknown_api_or_stage_is_refused_with_403(cloud: LocalCloud) -> None:
    """Rule: unknown api or stage: the handshake is refused with 403 (chosen)."""
    api = kit.build_mock_api(cloud, "gwh-unknown")

    async def scenario() -> None:
        assert (await refused_status(cloud.websocket_url("nosuchapi", "test")))[0] == 403
        assert (await refused_status(cloud.websocket_url(api["api_id"], "nostage")))[0] == 403
        async with connect(api["url"]):  # the gateway keeps serving
            pass

    kit.run_async(scenario())


def test_connection_ids_are_aws_shaped_and_new_for_every_connection(cloud: LocalCloud) -> None:
    """Rule: 16 characters of URL-safe base64 ending in '=', a new id for every connection."""
    api = kit.build_mock_api(cloud, "gwh-ids")

    async def scenario() -> list[str]:
        return [await forbidden_frame_id(api["url"]) for _ in range(5)]

    ids = kit.run_async(scenario())
    assert all(CONNECTION_ID.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


def test_connection_ids_come_from_a_seeded_generator() -> None:
    """Rule: connection ids come from a seeded generator, so notebook outputs are stable: two
    fresh clouds give the same ids for the same sequence of connections."""

    def first_ids() -> list[str]:
        with LocalCloud() as fresh:
            api = kit.build_mock_api(fresh, "gwh-seeded")

            async def scenario() -> list[str]:
                return [await forbidden_frame_id(api["url"]) for _ in range(3)]

            return kit.run_async(scenario())

    with ThreadPoolExecutor(2) as pool:  # the two clouds start side by side
        first, second = pool.map(lambda _: first_ids(), range(2))
    assert first == second
    assert len(set(first)) == 3 and all(CONNECTION_ID.match(i) for i in first)


def test_connect_2xx_completes_the_upgrade_and_its_body_is_never_sent(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Rules: $connect statusCode 2xx (not only 200: 204 and 299 too) gives 101; the response
    body is never sent; the connection then works."""
    api = kit.build_websocket_api(cloud, "gwh-2xx", {"$connect": fns["query"]})

    async def scenario() -> None:
        for status in (200, 204, 299):
            async with connect(f"{api['url']}?status={status}",
                               open_timeout=15 * SECOND) as ws:
                assert ws.response.status_code == 101
                with pytest.raises(TimeoutError):  # the function's body never arrives
                    async with asyncio.timeout(0.5 * SECOND):
                        await ws.recv()
                await ws.send('{"action": "nowhere"}')  # open for data: the Forbidden frame
                assert json.loads(await ws.recv())["message"] == "Forbidden"

    kit.run_async(scenario())


def test_connect_other_status_refuses_with_that_status(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Rules: any other statusCode refuses the handshake with it; the body is never sent."""
    api = kit.build_websocket_api(cloud, "gwh-401", {"$connect": fns["401"]})
    status, body = kit.run_async(refused_status(api["url"]))
    assert status == 401
    assert b"the function's body" not in body


def test_connect_that_raises_is_refused_with_502(cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Rule: the $connect function raises: refused with 502."""
    api = kit.build_websocket_api(cloud, "gwh-raise", {"$connect": fns["raise"]})
    assert kit.run_async(refused_status(api["url"]))[0] == 502


def test_connect_that_times_out_is_refused_with_502(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Rule: the $connect function times out (the integration's TimeoutInMillis): 502."""
    api = kit.build_websocket_api(cloud, "gwh-timeout", {"$connect": fns["sleep"]},
                                  auto_deploy=True)
    apigw = cloud.client("apigatewayv2")
    integration_timeout = SLEEP_S / 6
    apigw.update_integration(ApiId=api["api_id"],
                             IntegrationId=api["integration_ids"]["$connect"],
                             TimeoutInMillis=milliseconds(integration_timeout))

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert (await refused_status(api["url"]))[0] == 502
        return loop.time() - started

    assert kit.run_async(scenario()) < 5 * integration_timeout  # did not wait for the function


def test_connect_without_permission_is_refused_with_502(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Rule: cannot be invoked (no permission for apigateway): refused with 502."""
    api = kit.build_websocket_api(cloud, "gwh-noperm", {"$connect": fns["ok"]}, permit=False)
    assert kit.run_async(refused_status(api["url"]))[0] == 502


def test_permission_for_another_api_does_not_count(cloud: LocalCloud) -> None:
    """Rule: the permission's SourceArn must match this API's execute-api ARN."""
    fn = kit.deploy_function(cloud, "gwh-other-perm", STATUS_SOURCE,
                             environment={"STATUS": "200"})
    api = kit.build_websocket_api(cloud, "gwh-otherperm", {"$connect": fn}, permit=False)
    lam = cloud.client("lambda")
    lam.add_permission(FunctionName="gwh-other-perm", StatementId="other-api",
                       Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:{cloud.region}:123456789012:zzzz/*")
    assert kit.run_async(refused_status(api["url"]))[0] == 502
    lam.add_permission(FunctionName="gwh-other-perm", StatementId="this-api",
                       Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                       SourceArn=f"arn:aws:execute-api:{cloud.region}:123456789012:"
                                 f"{api['api_id']}/*/$connect")

    async def scenario() -> None:  # the new statement is noticed at once
        async with connect(api["url"], open_timeout=15 * SECOND) as ws:
            assert ws.response.status_code == 101

    kit.run_async(scenario())


def test_connect_to_a_missing_function_is_refused_with_502(cloud: LocalCloud) -> None:
    """Rule: cannot be invoked (missing function): refused with 502."""
    missing = f"arn:aws:lambda:{cloud.region}:123456789012:function:gwh-does-not-exist"
    api = kit.build_websocket_api(cloud, "gwh-missing", {"$connect": missing}, permit=False)
    assert kit.run_async(refused_status(api["url"]))[0] == 502


def test_subprotocol_only_when_the_function_returns_it(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Rule: only a Sec-WebSocket-Protocol the function returns is put in the 101."""
    plain = kit.build_mock_api(cloud, "gwh-noproto")
    chat = kit.build_websocket_api(cloud, "gwh-proto", {"$connect": fns["chat"]})
    no_header = kit.build_websocket_api(cloud, "gwh-proto-none", {"$connect": fns["ok"]})

    async def scenario() -> None:
        async with connect(plain["url"], subprotocols=["chat"]) as ws:
            assert ws.subprotocol is None
            assert "Sec-WebSocket-Protocol" not in ws.response.headers
        async with connect(no_header["url"], subprotocols=["chat"],
                           open_timeout=15 * SECOND) as ws:
            assert ws.subprotocol is None
        async with connect(chat["url"], subprotocols=["chat"], open_timeout=15 * SECOND) as ws:
            assert ws.subprotocol == "chat"

    kit.run_async(scenario())


def test_connections_answers_410_until_the_upgrade_completes(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Rule: until the upgrade completes, @connections answers 410 (posting from $connect)."""
    api = kit.build_websocket_api(cloud, "gwh-early", {"$connect": fns["early"]})

    async def scenario() -> str:
        async with connect(api["url"], open_timeout=20 * SECOND) as ws:
            with pytest.raises(TimeoutError):  # "too early" was never delivered
                async with asyncio.timeout(0.3 * SECOND):
                    await ws.recv()
        return "ok"

    kit.run_async(scenario())
    [event] = kit.logged_events(cloud, "gwh-early")[-1:]
    assert event["result"] == "gone"


def test_plain_http_to_the_gateway_gets_aws_like_answers(cloud: LocalCloud) -> None:
    """Rule (chosen): a plain GET is refused without a traceback: 403 JSON, or 426 on a stage."""
    api = kit.build_mock_api(cloud, "gwh-plain")
    root = kit.raw_http(api["url"], b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert root.startswith(b"HTTP/1.1 403 ") and root.endswith(b'{"message":"Forbidden"}')
    stage = kit.raw_http(api["url"], f"GET /{api['api_id']}/test HTTP/1.1\r\nHost: x\r\n"
                         "Connection: close\r\n\r\n".encode())
    assert stage.startswith(b"HTTP/1.1 426 ")
    assert b"Traceback" not in root + stage
