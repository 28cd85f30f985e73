"""ChatRoom against the real chat: a re-run meets no ghosts of the earlier run, and a wait
that ends without its answer names the log groups that hold the reason."""

from __future__ import annotations

import asyncio

from tests.integration.chatstack import chat_stack_fixture
from tests.timing import SECOND
from workshop_utils import logging_role
from workshop_utils.chat import ChatRoom
from workshop_utils.route_logs import where_to_look

chat_stack = chat_stack_fixture(prefix="wschat-rerun")


def run(coro):
    async def bounded():
        async with asyncio.timeout(60 * SECOND):
            return await coro
    return asyncio.run(bounded())


def test_a_second_run_of_a_notebook_is_welcomed_without_the_first_run_s_clients(
        chat_stack) -> None:
    """The first run's alice and bob are still open when the notebook runs again (a kernel
    that was not restarted): the new room closes them first, and waits until $disconnect has
    taken them off the table, so carol's welcome lists the new alice and bob once each (the
    issue's "alice, alice, bob, carol")."""
    cloud, target, api = chat_stack

    async def scenario() -> list[str]:
        first_run = ChatRoom(api.url, target)
        for name in ("alice", "bob"):
            await first_run.join(name)
        room = ChatRoom(api.url, target)  # the re-run's first cell
        for name in ("alice", "bob"):
            await room.join(name)
        carol = await room.join("carol")
        welcome = await carol.wait_for(lambda f: f.get("type") == "welcome")
        await room.close()
        assert all(c.closed.is_set() for c in first_run.clients.values())
        return welcome["online"]

    assert run(scenario()) == ["alice", "bob"]


def test_joining_again_is_one_leave_and_one_join_for_the_others(chat_stack) -> None:
    """Re-running ``room.join("alice")`` closes the old alice (the others are told she left)
    and connects a new one (they are told she joined), so the table has one alice."""
    cloud, target, api = chat_stack

    async def scenario() -> tuple[list[tuple[str, str]], list[str]]:
        room = ChatRoom(api.url, target)
        bob = await room.join("bob")
        await room.join("alice")
        await room.join("alice")
        await room.settle()
        seen = [(f.get("event"), f.get("name")) for f in map(_json, bob.received)
                if f.get("type") == "presence"]
        dave = await room.join("dave")
        online = (await dave.wait_for(lambda f: f.get("type") == "welcome"))["online"]
        await room.close()
        return seen, online

    seen, online = run(scenario())
    assert seen == [("join", "alice"), ("leave", "alice"), ("join", "alice")]
    assert sorted(online) == ["alice", "bob"]


def test_where_to_look_names_the_route_s_function_log_and_the_execution_log(chat_stack) -> None:
    """For a frame on sendmessage: the broadcast function's log group, read from the route's
    integration; the stage's execution log group once execution logging is on (LoggingLevel
    INFO), named as API Gateway names it."""
    cloud, target, api = chat_stack
    broadcast = (f"/aws/lambda/{target.names.function('broadcast')} (the sendmessage route's "
                 "function)")
    assert where_to_look(target, api.url, "sendmessage") == [broadcast]
    assert where_to_look(target, api.url, "nosuchroute") == [
        broadcast.replace("sendmessage route", "nosuchroute route")]  # $default's function
    apigw = target.client("apigatewayv2")
    logging_role.ensure(target, say=lambda _line: None)  # stage logging needs the account's role
    apigw.update_stage(ApiId=api.api_id, StageName=api.stage,
                       DefaultRouteSettings={"LoggingLevel": "INFO"})
    try:
        assert where_to_look(target, api.url, "sendmessage") == [
            broadcast,
            f"API-Gateway-Execution-Logs_{api.api_id}/{api.stage} (API Gateway's execution log)"]
    finally:
        apigw.update_stage(ApiId=api.api_id, StageName=api.stage,
                           DefaultRouteSettings={"LoggingLevel": "OFF"})


def _json(frame: str) -> dict:
    import json

    try:
        data = json.loads(frame)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
