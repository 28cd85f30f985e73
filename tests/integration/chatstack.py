"""The real chat stack on a local cloud of its own, for end-to-end tests of chat clients.

In a test module::

    from tests.integration.chatstack import chat_stack_fixture

    chat_stack = chat_stack_fixture()

    def test_something(chat_stack):
        cloud, target, api = chat_stack

The fixture is module-scoped: it starts a ``LocalCloud``, points a ``Target`` at it and deploys
``lambda_src/`` with the same ``workshop_utils.stack`` steps the notebooks teach.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest

from workshop_utils import stack
from workshop_utils.localcloud import GatewayLimits, LocalCloud
from workshop_utils.target import Target, local_target

PREFIX = "wschat-e2e"


class ChatStack(NamedTuple):
    cloud: LocalCloud
    target: Target
    api: stack.ChatApi


def target_for(cloud: LocalCloud, prefix: str = PREFIX) -> Target:
    """A ``local`` target on ``cloud`` (what ``target.current()`` builds for the default one)."""
    return local_target(cloud.state, prefix)


def chat_stack_fixture(
    *, prefix: str = PREFIX, limits: GatewayLimits | None = None, name: str = "chat_stack",
    secure: bool = False,
) -> Callable[..., Any]:
    """A module-scoped fixture ``name`` yielding ``ChatStack(cloud, target, api)``; ``limits``
    shrinks the gateway's quotas (e.g. its idle timeout) for that module's cloud; ``secure``
    adds notebook 06's authorizer on ``$connect`` (``stack.build_secure_chat``)."""

    @pytest.fixture(scope="module", name=name)
    def chat_stack() -> Iterator[ChatStack]:
        with LocalCloud(limits=limits) as cloud:
            target = target_for(cloud, prefix)
            build = stack.build_secure_chat if secure else stack.build_chat
            yield ChatStack(cloud, target, build(target))

    return chat_stack


def connection_ids(target: Target, name: str) -> list[str]:
    """The ids of ``name``'s open connections, from the connections table (paginated)."""
    ddb = target.client("dynamodb")
    ids: list[str] = []
    for page in ddb.get_paginator("scan").paginate(
        TableName=target.names.table,
        FilterExpression="#name = :name",
        ExpressionAttributeNames={"#name": "name"},
        ExpressionAttributeValues={":name": {"S": name}},
        ConsistentRead=True,
    ):
        ids += [item["connectionId"]["S"] for item in page.get("Items", [])]
    return ids
