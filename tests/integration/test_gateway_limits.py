"""SPEC-gateway "Frames and limits", on a local cloud of its own with shrunk limits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.timing import SECOND
from workshop_utils.localcloud import GatewayLimits, LocalCloud

from . import kit

LIMITS = GatewayLimits(frame_bytes=1024, message_bytes=4096, idle_timeout_s=1 * SECOND,
                       max_duration_s=3 * SECOND, integration_timeout_s=0.5 * SECOND)

SLEEP_SOURCE = f"""
import time

def handler(event, context):
    time.sleep({6 * LIMITS.integration_timeout_s!r})
    return {{"statusCode": 200, "body": "too late"}}
"""


@pytest.fixture(scope="module")
def small() -> Iterator[LocalCloud]:
    """A local cloud of this module's own, with the gateway limits shrunk to LIMITS."""
    with LocalCloud(limits=LIMITS) as running:
        yield running


@pytest.fixture(scope="module")
def api(small: LocalCloud) -> dict[str, Any]:
    """Two-way echo $default, a slow route, a one-way "quiet" route (the echo function, but no
    route response: nothing is sent back), and $disconnect logging its event."""
    echo = kit.deploy_function(small, "gwl-echo", kit.ECHO_SOURCE)
    slow = kit.deploy_function(small, "gwl-slow", SLEEP_SOURCE, timeout=10 * SECOND)
    return kit.build_websocket_api(small, "gwl", {"$default": echo, "$disconnect": echo,
                                                  "slow": slow, "quiet": echo},
                                   two_way=("$default", "slow"))


async def closed_with(ws: Any) -> tuple[int | None, str | None]:
    """The close code and reason of ``ws``, once the gateway has closed it."""
    with pytest.raises(ConnectionClosed):
        async with asyncio.timeout(10 * SECOND):
            while True:
                await ws.recv()
    return ws.close_code, ws.close_reason


async def open_and_id(url: str) -> tuple[Any, str]:
    """An open connection (no client pings, no size limit) and its id, from an echo."""
    ws = await connect(url, open_timeout=20 * SECOND, ping_interval=None, max_size=None)
    await ws.send("hello")
    return ws, json.loads(await ws.recv())["requestContext"]["connectionId"]


def disconnect_of(small: LocalCloud, cid: str) -> tuple[int, str]:
    """The disconnectStatusCode and disconnectReason $disconnect got for ``cid``."""
    [event] = kit.logged_events(small, "gwl-echo", where=lambda e: (
        e["requestContext"]["connectionId"] == cid
        and e["requestContext"]["eventType"] == "DISCONNECT"))
    ctx = event["requestContext"]
    return ctx["disconnectStatusCode"], ctx["disconnectReason"]


def test_a_frame_over_the_frame_limit_closes_1009(small: LocalCloud,
                                                  api: dict[str, Any]) -> None:
    """Rule: a frame over 32 KB (here 1 KB) closes 1009; a frame at the limit is fine."""

    async def scenario() -> None:
        ws, _ = await open_and_id(api["url"])
        await ws.send("a" * LIMITS.frame_bytes)
        assert json.loads(await ws.recv())["body"] == "a" * LIMITS.frame_bytes
        await ws.send("a" * (LIMITS.frame_bytes + 1))
        assert (await closed_with(ws))[0] == 1009

    kit.run_async(scenario())


def test_a_message_over_the_message_limit_closes_1009(small: LocalCloud,
                                                      api: dict[str, Any]) -> None:
    """Rule: a message (fragments assembled) over 128 KB (here 4 KB) closes 1009, each
    fragment being within the frame limit; $disconnect reports 1009."""

    async def scenario() -> str:
        ws, cid = await open_and_id(api["url"])
        await ws.send(["b" * 1000] * 4)  # 4000 bytes in four frames: fine
        assert json.loads(await ws.recv())["body"] == "b" * 4000
        await ws.send(["b" * 1000] * 5)
        assert (await closed_with(ws))[0] == 1009
        return cid

    assert disconnect_of(small, kit.run_async(scenario()))[0] == 1009


def test_a_binary_frame_closes_1003(small: LocalCloud, api: dict[str, Any]) -> None:
    """Rule: binary frame from a client: close 1003."""

    async def scenario() -> None:
        ws, _ = await open_and_id(api["url"])
        await ws.send(b"\x00\x01")
        assert (await closed_with(ws))[0] == 1003

    kit.run_async(scenario())


def test_idle_connections_close_1001_going_away(small: LocalCloud,
                                                api: dict[str, Any]) -> None:
    """Rules: idle timeout closes 1001 "Going away"; $disconnect gets 1001 "Going away";
    pings are answered but are not data."""

    async def scenario() -> str:
        ws, cid = await open_and_id(api["url"])
        loop = asyncio.get_running_loop()
        started = loop.time()
        pong = await ws.ping()
        await asyncio.wait_for(pong, 1 * SECOND)  # answered
        assert await closed_with(ws) == (1001, "Going away")
        idle = LIMITS.idle_timeout_s
        assert 0.8 * idle < loop.time() - started < 3 * idle  # the ping did not count as data
        return cid

    assert disconnect_of(small, kit.run_async(scenario())) == (1001, "Going away")


def test_data_in_either_direction_resets_the_idle_timer(small: LocalCloud,
                                                        api: dict[str, Any]) -> None:
    """Rule: data in either direction resets the idle timer. Server side: @connections posts
    alone keep a connection open past the idle timeout. Client side: messages to a one-way
    route (no reply, so no server data at all) alone keep another connection open past it.
    Each phase runs on its own connection, well within the maximum duration."""
    mgmt = small.management_client(api["api_id"], "test")
    quiet = json.dumps({"action": "quiet"})

    async def server_side() -> None:
        ws, cid = await open_and_id(api["url"])
        for _ in range(4):  # 1.6 idle timeouts of traffic from the server only
            await asyncio.sleep(0.4 * LIMITS.idle_timeout_s)
            await asyncio.to_thread(mgmt.post_to_connection, ConnectionId=cid, Data=b"tick")
            assert await ws.recv() == "tick"
        assert ws.close_code is None
        await ws.close()

    async def client_side() -> str:
        ws, cid = await open_and_id(api["url"])
        loop = asyncio.get_running_loop()
        started = loop.time()
        sent = 0
        while loop.time() - started < 2 * LIMITS.idle_timeout_s:  # twice the idle timeout
            await ws.send(quiet)
            sent += 1
            # Nothing comes back (no echo, no error frame): only the client's frames count.
            # Had the timer not been reset, recv would raise ConnectionClosed (1001) here.
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.4 * LIMITS.idle_timeout_s):
                    await ws.recv()
        assert ws.close_code is None and sent >= 5
        await ws.close()
        return cid

    kit.run_async(server_side())
    cid = kit.run_async(client_side())
    # The one-way messages did reach the function (they were data, not just bytes).
    kit.logged_events(small, "gwl-echo", count=5, where=lambda e: (
        e["requestContext"]["connectionId"] == cid
        and e["requestContext"]["routeKey"] == "quiet"))


def test_maximum_duration_closes_1001(small: LocalCloud, api: dict[str, Any]) -> None:
    """Rule: maximum connection duration (2 h, here 3 s times the factor) closes 1001 "Going
    away", even with traffic."""

    async def scenario() -> str:
        ws, cid = await open_and_id(api["url"])
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(ConnectionClosed):
            async with asyncio.timeout(10 * SECOND):
                while True:
                    await ws.send("keep alive")
                    await ws.recv()
                    await asyncio.sleep(0.1 * LIMITS.max_duration_s)
        assert (ws.close_code, ws.close_reason) == (1001, "Going away")
        duration = LIMITS.max_duration_s
        assert duration - 0.5 * SECOND < loop.time() - started < duration + 2 * SECOND
        return cid

    assert disconnect_of(small, kit.run_async(scenario())) == (1001, "Going away")


def test_integration_timeout_is_capped_by_the_limit(small: LocalCloud,
                                                    api: dict[str, Any]) -> None:
    """Rule: the integration times out (29 s default; configurable, here 0.5 s times the
    factor): the Internal server error frame, connection kept."""

    async def scenario() -> None:
        ws, cid = await open_and_id(api["url"])
        loop = asyncio.get_running_loop()
        started = loop.time()
        await ws.send('{"action": "slow"}')
        answer = json.loads(await ws.recv())
        assert answer["message"] == "Internal server error"
        assert answer["connectionId"] == cid
        assert loop.time() - started < LIMITS.integration_timeout_s + 2 * SECOND
        await ws.send("after")
        assert json.loads(await ws.recv())["body"] == "after"
        await ws.close()

    kit.run_async(scenario())


SLOW_AUTHORIZER_SOURCE = f"""
import time

def handler(event, context):
    time.sleep({6 * LIMITS.integration_timeout_s!r})
    return {{"principalId": "late", "policyDocument": {{"Version": "2012-10-17", "Statement": [
        {{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}}]}}}}
"""


def test_an_authorizer_that_outlives_the_integration_timeout_is_refused_with_500(
        small: LocalCloud) -> None:
    """Rule: API Gateway waits for a $connect authorizer no longer than the integration
    timeout (chosen: WebSocket's 29 s, here shrunk; REST answers 500 when it "times out while
    waiting for the Lambda authorizer"); its late Allow does not let the client in."""
    echo = kit.deploy_function(small, "gwl-auth-echo", kit.ECHO_SOURCE)
    slow = kit.deploy_function(small, "gwl-auth-slow", SLOW_AUTHORIZER_SOURCE,
                               timeout=10 * SECOND)
    built = kit.build_websocket_api(small, "gwl-auth", {"$connect": echo}, auto_deploy=True)
    kit.attach_authorizer(small, built, slow)

    async def scenario() -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(built["url"] + "?token=t", open_timeout=20 * SECOND):
                pass
        return refused.value.response.status_code

    assert kit.run_async(scenario()) == 500
