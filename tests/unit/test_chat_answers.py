"""ChatRoom and ChatClient answer at once: error frames end a wait, timeouts and refusals say
why, and a re-run closes the clients an earlier run left open.

Each test runs a tiny scripted WebSocket server on 127.0.0.1 (port 0) that answers like API
Gateway and the chat would: the shapes of API Gateway's own error frames and of a refused
handshake are SPEC-gateway.md's ("Route selection", "Handshake"), the chat's error frame is
``lambda_src/broadcast/app.py``'s. An error frame arrives and nothing more: a client that kept
waiting for its echo or welcome would only give up after its timeout (30 s), so every test is
bounded well below that and fails there.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Response

from tests.timing import SECOND
from workshop_utils import chat
from workshop_utils.chat import ChatError, ChatRoom

FORBIDDEN = ('{"message": "Forbidden", "connectionId":"AbCdEfGhIjKlMnO=", '
             '"requestId":"ZyXwVuTsRqPoNmL="}')
INTERNAL = ('{"message": "Internal server error", "connectionId":"AbCdEfGhIjKlMnO=", '
            '"requestId":"ZyXwVuTsRqPoNmL="}')
TOO_LONG = json.dumps({"type": "error", "error": '"message" is too long (max 1000 characters)'})
BOUND_S = 10 * SECOND  # far below the clients' own 30 s: reaching it means they kept waiting

Reply = Callable[[ServerConnection, str], Awaitable[None]]


@asynccontextmanager
async def scripted(reply: Reply, refuse: int | None = None):
    """A server whose answer to each frame is ``reply``; ``refuse`` refuses every handshake
    with that HTTP status. Yields ``(url, open connections)``."""
    open_now: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        open_now.add(ws)
        try:
            async for frame in ws:
                await reply(ws, frame)
        finally:
            open_now.discard(ws)

    def process_request(_connection: Any, _request: Any) -> Response | None:
        if refuse is None:
            return None
        return Response(refuse, "Refused", Headers(), b"")

    async with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/abcd1234/dev", open_now


def answer(text: str) -> Reply:
    async def reply(ws: ServerConnection, _frame: str) -> None:
        await ws.send(text)
    return reply


def run(coro: Awaitable[Any]) -> Any:
    async def bounded() -> Any:
        async with asyncio.timeout(BOUND_S):
            return await coro
    return asyncio.run(bounded())


def test_forbidden_instead_of_the_echo_raises_at_once_and_says_what_it_means() -> None:
    """API Gateway's Forbidden frame in answer to a message ends the wait for its echo with a
    ChatError naming the reason and the usual cause (no deployed route)."""
    async def scenario() -> ChatError:
        async with scripted(answer(FORBIDDEN)) as (url, _):
            room = ChatRoom(url)
            alice = await room.join("alice", announce=False)
            with pytest.raises(ChatError) as caught:
                await alice.send("hello?")
            await room.close()
            return caught.value

    error = run(scenario())
    assert error.reason == "Forbidden"
    assert error.frame["requestId"] == "ZyXwVuTsRqPoNmL="
    assert "deploy again" in str(error) and str(error).startswith("alice: API Gateway answered")


def test_the_chat_s_error_frame_ends_the_wait_and_is_shown() -> None:
    """The chat's own error frame ("message" is too long) ends the wait with that text."""
    async def scenario() -> str:
        async with scripted(answer(TOO_LONG)) as (url, _):
            room = ChatRoom(url)
            alice = await room.join("alice", announce=False)
            try:
                await alice.send("x" * 1001)
            except ChatError as error:
                return str(error)
            finally:
                await room.close()
        return "no error"

    assert run(scenario()) == ('alice: the chat answered with an error: "message" is too long '
                               "(max 1000 characters)")


def test_an_error_instead_of_the_welcome_ends_the_join_at_once() -> None:
    """Internal server error in answer to the join frame ends join with a ChatError that points
    at the integration (the function failed, or API Gateway may not invoke it)."""
    async def scenario() -> str:
        async with scripted(answer(INTERNAL)) as (url, _):
            room = ChatRoom(url)
            with pytest.raises(ChatError) as caught:
                await room.join("alice")
            await room.close()
            return str(caught.value)

    message = run(scenario())
    assert "'Internal server error'" in message and "add_permission" in message


def test_a_timeout_says_what_did_arrive_and_where_to_look() -> None:
    """With no echo within the wait, the TimeoutError lists the frames that did arrive and where
    the reason would be written."""
    presence = json.dumps({"type": "presence", "event": "join", "name": "bob"})

    async def scenario() -> str:
        async with scripted(answer(presence)) as (url, _):
            room = ChatRoom(url)
            alice = await room.join("alice", announce=False)
            with pytest.raises(TimeoutError) as caught:
                await alice.send("anyone?", timeout_s=0.5 * SECOND)
            await room.close()
            return str(caught.value)

    message = run(scenario())
    assert message.startswith("alice: no echo of 'anyone?' within")
    assert "received meanwhile: * bob joined" in message
    assert "look in the route's function log group (/aws/lambda/<function>)" in message


@pytest.mark.parametrize(("status", "meaning"), [
    (502, "HTTP 502 Bad Gateway: the $connect function could not run"),
    (400, "HTTP 400 Bad Request: the $connect function refused it"),
    (403, "HTTP 403 Forbidden: usually no deployed API and stage at this URL"),
    (429, "HTTP 429 Too Many Requests: throttled"),
])
def test_a_refused_handshake_says_its_status_and_what_it_usually_means(status, meaning) -> None:
    """A refused handshake raises ConnectionRefusedError with the status and its usual cause."""
    async def scenario() -> str:
        async with scripted(answer(""), refuse=status) as (url, _):
            with pytest.raises(ConnectionRefusedError) as caught:
                await ChatRoom(url).join("alice")
            return str(caught.value)

    assert meaning in run(scenario())


def test_joining_a_name_again_closes_the_old_connection_first() -> None:
    """A re-run of ``room.join("alice")`` leaves one alice connected, not two."""
    async def scenario() -> tuple[bool, int]:
        async with scripted(answer("")) as (url, open_now):
            room = ChatRoom(url)
            first = await room.join("alice", announce=False)
            second = await room.join("alice", announce=False)
            count = len(open_now)
            replaced = first.closed.is_set() and not second.closed.is_set()
            await room.close()
            return replaced, count

    assert run(scenario()) == (True, 1)


def test_a_new_room_on_the_same_url_closes_the_clients_of_the_earlier_room() -> None:
    """A re-run notebook makes a new ChatRoom on the same URL: the earlier room's clients are
    closed before the new room's first join, so only the new ones are connected."""
    async def scenario() -> tuple[list[bool], int]:
        async with scripted(answer("")) as (url, open_now):
            earlier = ChatRoom(url)
            for name in ("alice", "bob"):
                await earlier.join(name, announce=False)
            room = ChatRoom(f"{url}?ignored=1")  # the same stage: the query is per client
            await room.join("alice", announce=False)
            count = len(open_now)
            closed = [c.closed.is_set() for c in earlier.clients.values()]
            await room.close()
            return closed, count

    assert run(scenario()) == ([True, True], 1)


def test_rooms_on_different_urls_leave_each_other_alone() -> None:
    """A room on another stage URL does not close the clients of this one."""
    async def scenario() -> bool:
        async with scripted(answer("")) as (url, _):
            room = ChatRoom(url)
            alice = await room.join("alice", announce=False)
            other = ChatRoom(url.replace("/dev", "/prod"))
            await other.settle(0.1 * SECOND)
            still_open = not alice.closed.is_set()
            await room.close()
            return still_open

    assert run(scenario()) is True


def test_the_stage_of_a_url_is_read_in_both_forms() -> None:
    """AWS's and the local cloud's stage URLs both name their API and stage."""
    from workshop_utils.route_logs import api_and_stage, execution_log_group

    assert api_and_stage("wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/dev") == (
        "a1b2c3d4e5", "dev")
    assert api_and_stage("ws://127.0.0.1:4510/abcd1234/dev?name=x") == ("abcd1234", "dev")
    assert api_and_stage("ws://127.0.0.1:4510/") is None
    assert execution_log_group("abcd1234", "dev") == "API-Gateway-Execution-Logs_abcd1234/dev"


def test_error_frames_are_told_from_other_frames() -> None:
    """Only API Gateway's error frames and the chat's error frames are errors."""
    assert chat.error_reason(json.loads(FORBIDDEN)) == "Forbidden"
    assert chat.error_reason(json.loads(TOO_LONG)).startswith('"message" is too long')
    assert chat.error_reason({"type": "message", "from": "a", "text": "Forbidden"}) is None
    assert chat.error_reason("Forbidden") is None
