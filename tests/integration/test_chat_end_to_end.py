"""The workshop's real handlers (exactly the files in lambda_src/), deployed through boto3 to
the local cloud, with three real WebSocket clients talking through the gateway."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator

from tests.integration.chatstack import chat_stack_fixture, connection_ids
from tests.timing import SECOND
from workshop_utils.chat import ChatRoom, parse
from workshop_utils.waiting import read_log_events, wait_for_log_events

chat_stack = chat_stack_fixture(prefix="wschat-trio")


def frames(room: ChatRoom, name: str) -> list:
    """The frames ``name`` received, decoded."""
    return [parse(f) for f in room.clients[name].received]


def without_time(frame: dict) -> dict:
    """``frame`` without its ``at`` timestamp, to compare frames by content."""
    return {k: v for k, v in frame.items() if k != "at"}


async def chat_session(url: str, target) -> ChatRoom:
    """alice, bob and carol join; alice says hello; bob sends a bad frame; carol leaves."""
    room = ChatRoom(url, settle_s=0.2 * SECOND)
    await room.join("alice")
    await room.join("bob")
    await room.join("carol")
    await room.clients["alice"].send("hello all")
    for name in ("bob", "carol"):
        assert await room.clients[name].wait_for(lambda f: f.get("text") == "hello all")
    bob = room.clients["bob"]
    await bob.send_raw("{not json")
    assert await bob.wait_for(lambda f: f.get("type") == "error")
    await room.leave("carol")
    return room


def test_three_clients_chat_through_the_gateway(chat_stack) -> None:
    """A welcome naming who is here, presence once per client, a broadcast to everyone (sender
    included), an error to the sender only, a leave notice from $disconnect, and the table
    follows connections."""
    cloud, target, api = chat_stack

    async def scenario() -> ChatRoom:
        async with asyncio.timeout(60 * SECOND):
            room = await chat_session(api.url, target)
            try:
                return room
            finally:
                await room.close()

    room = asyncio.run(scenario())
    message = {"type": "message", "from": "alice", "text": "hello all"}
    assert [without_time(f) for f in frames(room, "alice")] == [
        {"type": "welcome", "name": "alice", "online": []},
        {"type": "presence", "event": "join", "name": "bob"},
        {"type": "presence", "event": "join", "name": "carol"},
        message,
        {"type": "presence", "event": "leave", "name": "carol"},
    ]
    assert [without_time(f) for f in frames(room, "bob")] == [
        {"type": "welcome", "name": "bob", "online": ["alice"]},
        {"type": "presence", "event": "join", "name": "carol"},
        message,
        {"type": "error", "error": "frame is not valid JSON"},
        {"type": "presence", "event": "leave", "name": "carol"},
    ]
    assert [without_time(f) for f in frames(room, "carol")] == [
        {"type": "welcome", "name": "carol", "online": ["alice", "bob"]}, message]
    # every recipient saw the same timestamp for the same message
    stamps = {f["at"] for n in room.clients for f in frames(room, n) if f["type"] == "message"}
    assert len(stamps) == 1
    # all three closed: $disconnect (which runs after the close) removed every item
    deadline = time.monotonic() + 30 * SECOND
    while any(connection_ids(target, n) for n in ("alice", "bob", "carol")):
        assert time.monotonic() < deadline, "items left after every client closed"
        time.sleep(0.05 * SECOND)


@contextlib.asynccontextmanager
async def room_with_a_stray_row(chat_stack, row_id: str, *names: str) -> AsyncIterator[ChatRoom]:
    """``names`` join, then a row for ``row_id`` (a connection the gateway does not have) is
    put in the table, as a missed $disconnect leaves one; the room closes on the way out."""
    cloud, target, api = chat_stack
    async with asyncio.timeout(60 * SECOND):
        room = ChatRoom(api.url, settle_s=0.2 * SECOND)
        try:
            for name in names:
                await room.join(name)
            target.client("dynamodb").put_item(TableName=target.names.table, Item={
                "connectionId": {"S": row_id}, "name": {"S": "stray"}})
            yield room
        finally:
            await room.close()


def test_a_stale_connection_is_removed_by_the_next_broadcast(chat_stack) -> None:
    """A real connection that closed without its $disconnect reaching the table (as notebook
    05 shows it: save its item, let it leave, put the item back): posting to it is a real 410
    GoneException, and the next broadcast deletes exactly that id; the others stay.

    Not a made-up id: AWS answers BadRequestException, not 410, for an id that is not one it
    issued, so only a connection that really existed is stale in AWS's sense."""
    cloud, target, api = chat_stack
    ddb = target.client("dynamodb")
    mgmt = target.management_client(api.api_id, api.stage)

    async def scenario() -> tuple[ChatRoom, dict]:
        async with asyncio.timeout(60 * SECOND):
            room = ChatRoom(api.url, settle_s=0.2 * SECOND)
            try:
                await room.join("dora")
                await room.join("eve")
                await room.join("ghost")
                (ghost,) = connection_ids(target, "ghost")
                saved = ddb.get_item(TableName=target.names.table,
                                     Key={"connectionId": {"S": ghost}},
                                     ConsistentRead=True)["Item"]
                await room.leave("ghost")  # closes; $disconnect deletes the item
                assert connection_ids(target, "ghost") == []
                ddb.put_item(TableName=target.names.table, Item=saved)  # as if it was missed
                try:
                    mgmt.post_to_connection(ConnectionId=ghost, Data=b"anyone there?")
                except mgmt.exceptions.GoneException as exc:
                    assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 410
                else:
                    raise AssertionError("a closed connection accepted a post")
                await room.clients["dora"].send("anyone?")
                await room.settle()
                assert connection_ids(target, "ghost") == []
                assert len(connection_ids(target, "eve")) == 1
                return room, saved
            finally:
                await room.close()

    room, saved = asyncio.run(scenario())
    assert "expiresAt" in saved  # a real $connect's item: TTL would remove it too, in time
    assert [without_time(f) for f in frames(room, "eve")][-1] == {
        "type": "message", "from": "dora", "text": "anyone?"}
    lines = [json.loads(e["message"]) for e in read_log_events(
        target.client("logs"), f"/aws/lambda/{target.names.function('broadcast')}",
        filter_pattern='"stale_removed"')]
    stale = [s for s in lines if s.get("kind") == "message" and s["stale_removed"]]
    assert stale and stale[-1]["stale_removed"] == 1 and stale[-1]["failed"] == 0
    assert any(line.get("event") == "stale_removed"
               and line["connectionId"] == saved["connectionId"]["S"] for line in lines)


def test_a_malformed_id_in_the_table_is_a_failed_post_and_stays(chat_stack) -> None:
    """@connections answers 400 BadRequestException for a string that is not a connection id
    (as AWS does), not 410: the broadcast counts it as failed and logs its error code, does not
    delete the row (only a GoneException means "gone"), and everyone else gets the message."""
    cloud, target, api = chat_stack
    bogus = "GhostConnId0="  # 13 characters: not an id's shape

    async def scenario() -> None:
        async with room_with_a_stray_row(chat_stack, bogus, "fay", "gus") as room:
            await room.clients["fay"].send("hello, is this on?")
            assert await room.clients["gus"].wait_for(
                lambda f: f.get("text") == "hello, is this on?")

    asyncio.run(scenario())
    group = f"/aws/lambda/{target.names.function('broadcast')}"
    # The line is written when the broadcast ends, which may be after gus got the message.
    failures = [json.loads(e["message"]) for e in wait_for_log_events(
        target.client("logs"), group, filter_pattern='"post_failed"', timeout_s=30 * SECOND)]
    assert failures, "no post_failed line from the broadcast"
    assert {"event": "post_failed", "connectionId": bogus,
            "errorCode": "BadRequestException"}.items() <= failures[-1].items()
    assert connection_ids(target, "stray") == [bogus]
    target.client("dynamodb").delete_item(TableName=target.names.table,
                                          Key={"connectionId": {"S": bogus}})
