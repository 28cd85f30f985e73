"""Notebook 06's chat, built by ``stack.ensure_authorizer``: what clients see once ``$connect``
has the workshop's authorizer, that the step is idempotent, that later notebooks find it and
that clean-up leaves nothing of it.

What AWS does at the handshake (401 without the identity source, 403 for a Deny, the name from
``requestContext.authorizer``) is tested rule by rule in ``test_gateway_authorizers.py``, with
its sources; here the same rules meet the real ``lambda_src/authorizer`` and the real chat.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.timing import SECOND
from workshop_utils import cleanup, inventory, logging_role, stack, tokens
from workshop_utils.chat import ChatRoom, connect_url
from workshop_utils.localcloud import LocalCloud
from workshop_utils.terminal_chat import choose_token

from .chatstack import chat_stack_fixture, target_for
from .test_gateway_authorizers import access_lines

secure_stack = chat_stack_fixture(prefix="wschat-sec", name="secure_stack", secure=True)
WAIT_S = 15 * SECOND


def status_of(url: str) -> int:
    """101 for a handshake that succeeds (closed again at once), else its HTTP status."""
    async def attempt() -> int:
        try:
            ws = await connect(url, open_timeout=WAIT_S)
        except InvalidStatus as exc:
            return exc.response.status_code
        await ws.close()
        return 101

    return asyncio.run(asyncio.wait_for(attempt(), WAIT_S))


def test_the_door_answers_as_notebook_06_shows(secure_stack) -> None:
    """No token 401, a token signed with another secret or expired 403, a valid one 101."""
    _, target, api = secure_stack
    secret = tokens.read_secret(target)
    assert status_of(connect_url(api.url, "mallory")) == 401
    forged = tokens.mint_token(tokens.new_secret(), "alice")
    assert status_of(connect_url(api.url, "alice", forged)) == 403
    expired = tokens.mint_token(secret, "alice", ttl_s=60, now=time.time() - 3600)
    assert status_of(connect_url(api.url, "alice", expired)) == 403
    assert status_of(connect_url(api.url, "alice", tokens.mint_token(secret, "alice"))) == 101


def test_chat_room_joins_with_a_minted_token_and_the_tokens_name(secure_stack) -> None:
    """``ChatRoom(url, target).join(name)`` without a token gets in as ``name`` (it mints one
    from the learner's secret), as notebook 07 joins; a token given wins over ``?name=``."""
    _, target, api = secure_stack
    bob_token = tokens.mint_token(tokens.read_secret(target), "bob")

    async def scenario() -> None:
        room = ChatRoom(api.url, target)
        try:
            carol = await room.join("carol")
            mallory = await room.join("alice", token=bob_token)  # claims alice, holds bob's
            welcome = await mallory.wait_for(lambda f: f.get("type") == "welcome")
            assert welcome is not None and welcome["name"] == "bob"
            await carol.send("hi")
            told = await carol.wait_for(lambda f: f.get("type") == "presence"
                                        and f.get("event") == "join")
            assert told is not None and told["name"] == "bob"
        finally:
            await room.close()

    asyncio.run(asyncio.wait_for(scenario(), 60 * SECOND))


def test_chat_room_without_a_target_sends_no_token_and_says_why_it_was_refused(
        secure_stack) -> None:
    """A room that cannot read the secret (no target) sends no token: refused, with the 401
    explained in one line that never shows the URL."""
    _, _, api = secure_stack

    async def scenario() -> None:
        room = ChatRoom(api.url)
        with pytest.raises(ConnectionRefusedError, match="needs a token .*401") as caught:
            await room.join("carol")
        assert api.url not in str(caught.value)
        await room.close()

    asyncio.run(asyncio.wait_for(scenario(), 60 * SECOND))


def test_no_token_for_an_api_that_is_not_the_learners(secure_stack) -> None:
    """The secret signs tokens for the learner's own API only: another learner's room on the
    same cloud (their own prefix, no API of theirs) mints nothing for this URL."""
    cloud, _, api = secure_stack
    other = target_for(cloud, "wschat-other")
    assert ChatRoom(api.url, other).auto_token("carol") is None


def test_workshop_chat_mints_for_the_secured_api(secure_stack) -> None:
    """``workshop chat`` without ``--token`` on the workshop's API (found by itself) mints a
    token for ``--name`` that lets it in under that name."""
    _, target, api = secure_stack
    token = choose_token(None, "erin", (target, api.api_id), home=None, ttl_s=60)
    assert token is not None
    claims = tokens.token_format().verify(tokens.read_secret(target), token, time.time())
    assert claims.name == "erin"
    assert status_of(connect_url(api.url, "erin", token)) == 101


def test_the_step_is_found_done_and_is_idempotent(secure_stack) -> None:
    """After the step nothing is missing; a second ensure_authorizer keeps the secret (tokens
    minted before still work), one authorizer, one permission statement."""
    _, target, api = secure_stack
    assert stack.missing_step(target) is None
    stack.require(7, target)
    secret = tokens.read_secret(target)
    before = tokens.mint_token(secret, "alice")
    authorizer_id = stack.ensure_authorizer(target)
    assert tokens.read_secret(target) == secret
    assert status_of(connect_url(api.url, "alice", before)) == 101
    apigw = target.client("apigatewayv2")
    assert [a["AuthorizerId"] for a in apigw.get_authorizers(ApiId=api.api_id)["Items"]] == [
        authorizer_id]
    policy = json.loads(target.client("lambda").get_policy(
        FunctionName=target.names.function("authorizer"))["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == [f"apigateway-authorizer-{authorizer_id}"]
    assert policy["Statement"][0]["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(
        f":{api.api_id}/authorizers/{authorizer_id}")


def test_rotating_the_secret_ends_old_tokens(tmp_path) -> None:
    """``ensure_token_secret(rotate=True)`` puts a new value: a token minted before is now
    refused (403), a new one works; the parameter keeps its tags. (The authorizer reads the
    secret once per execution environment: the first handshake after the rotation starts its
    first one here. A warm one on AWS keeps the old value until it is recycled.)"""
    with LocalCloud() as cloud:
        target = target_for(cloud, "wschat-rot")
        api = stack.build_secure_chat(target)
        old = tokens.mint_token(tokens.read_secret(target), "alice")
        assert stack.ensure_token_secret(target, rotate=True) is True
        assert status_of(connect_url(api.url, "alice", old)) == 403
        new = tokens.mint_token(tokens.read_secret(target), "alice")
        assert status_of(connect_url(api.url, "alice", new)) == 101
        found = inventory.parameter(target, target.names.token_parameter)
        assert found is not None and found.tags == target.tags


def test_require_names_notebook_06_until_its_step_is_done(tmp_path) -> None:
    """Before the step, notebook 07 is told to run 06 first; 06 itself may run."""
    with LocalCloud() as cloud:
        target = target_for(cloud, "wschat-req")
        stack.build_chat(target)
        assert stack.missing_step(target) == 6
        stack.require(6, target)
        with pytest.raises(stack.MissingPrerequisite, match="06_secure_chat.ipynb"):
            stack.require(7, target)
        stack.ensure_prerequisites(7, target)
        assert stack.missing_step(target) is None


def test_cleanup_leaves_nothing_of_the_step(tmp_path) -> None:
    """``workshop cleanup``'s delete_everything after notebook 06's step: no API (with its
    authorizer), no authorizer function (with its permission), role, policy, log group or
    secret is left."""
    with LocalCloud() as cloud:
        target = target_for(cloud, "wschat-cln")
        stack.build_secure_chat(target)
        names = target.names
        assert {names.authorizer_role, names.function("authorizer"), names.token_parameter,
                f"/aws/lambda/{names.function('authorizer')}"} <= {
            n for ns in cleanup.leftovers(target).values() for n in ns}
        assert cleanup.delete_everything(target, say=lambda _: None) == []
        assert not any(cleanup.leftovers(target).values())
        assert inventory.role(target, names.authorizer_role) is None
        assert inventory.parameter(target, names.token_parameter) is None


def test_the_access_log_in_07s_format_never_has_the_token(secure_stack) -> None:
    """With notebook 07's access-log format, a valid, a forged and a missing token each write
    their CONNECT line (200, 403, 401), and no line holds a token or the secret."""
    cloud, target, api = secure_stack
    logging_role.ensure(target, say=lambda _: None)
    group_arn = stack.ensure_access_log_group(target)
    apigw = target.client("apigatewayv2")
    apigw.update_stage(ApiId=api.api_id, StageName=api.stage, AccessLogSettings={
        "DestinationArn": group_arn,
        "Format": "$context.eventType $context.routeKey $context.status $context.connectionId "
                  "$context.requestId"})
    secret = tokens.read_secret(target)
    good = tokens.mint_token(secret, "ivan")
    forged = tokens.mint_token(tokens.new_secret(), "ivan")
    assert status_of(connect_url(api.url, "ivan", good)) == 101
    assert status_of(connect_url(api.url, "ivan", forged)) == 403
    assert status_of(connect_url(api.url, "ivan")) == 401
    lines = access_lines(cloud, target.names.access_log_group, 4)
    connects = sorted(line.split()[2] for line in lines if line.startswith("CONNECT"))
    assert connects == ["200", "401", "403"]
    for line in lines:
        assert good not in line and forged not in line and secret not in line
        assert good.split(".")[3] not in line  # not even the signature
