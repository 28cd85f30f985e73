"""Exact names: no two prefixes share a name, so nobody's clean-up can reach another's stack."""

from __future__ import annotations

import itertools
import random

from workshop_utils.target import CHAT_FUNCTIONS, Names

# Prefixes that extend one another (the wschat / wschat-alice, sam / sam-lee) and ones
# built to hit the suffixes (-chat-role, -connect, -disconnect, -chat-api).
TRICKY = ["wschat", "wschat-alice", "sam", "sam-lee", "wschat-chat", "wschat-dis",
          "wschat-chat-api", "wschat-connect", "wschat-broad", "wschat-connections", "abc",
          "abc-chat-role", "abc-chat", "abc-dis"]


def random_prefixes(count: int, seed: int = 14) -> list[str]:
    rng = random.Random(seed)
    alphabet = "abc-"
    prefixes = set()
    while len(prefixes) < count:
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        prefix = f"a{body}".rstrip("-")
        if "--" not in prefix and len(prefix) >= 3:
            prefixes.add(prefix)
    return sorted(prefixes)


def test_no_two_prefixes_give_one_name_of_the_same_kind() -> None:
    """For every pair of prefixes, including ones that extend each other, no name of one kind
    is shared."""
    prefixes = TRICKY + random_prefixes(300)
    for first, second in itertools.combinations(sorted(set(prefixes)), 2):
        a, b = Names(first).everything(), Names(second).everything()
        for kind in a:
            assert not set(a[kind]) & set(b[kind]), (kind, first, second)


def test_the_one_list_has_every_resource_the_series_makes() -> None:
    """Names.everything() lists the table, role, functions, API and every log group, exactly."""
    names = Names("wschat")
    assert names.everything() == {
        "apis": ["wschat-chat-api"],
        "functions": ["wschat-connect", "wschat-disconnect", "wschat-broadcast"],
        "log groups": ["/aws/lambda/wschat-connect", "/aws/lambda/wschat-disconnect",
                       "/aws/lambda/wschat-broadcast", "/aws/apigateway/wschat-chat-api/access"],
        "roles": ["wschat-chat-role"],
        "tables": ["wschat-connections"],
    }
    assert tuple(names.functions) == CHAT_FUNCTIONS


def test_later_functions_join_the_list_and_their_log_groups(monkeypatch) -> None:
    """A later notebook's function (e.g. an authorizer) is cleaned up with the rest."""
    monkeypatch.setattr("workshop_utils.target.LATER_FUNCTIONS", ("authorizer",))
    names = Names("wschat")
    assert "wschat-authorizer" in names.everything()["functions"]
    assert "/aws/lambda/wschat-authorizer" in names.log_groups
    assert "authorizer" not in names.functions  # notebook 03 still makes only the chat's
