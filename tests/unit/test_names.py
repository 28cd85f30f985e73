"""Exact names: no two prefixes share a name, so nobody's clean-up can reach another's stack."""

from __future__ import annotations

import itertools
import random

from workshop_utils.packaging import functions
from workshop_utils.target import CHAT_FUNCTIONS, LATER_FUNCTIONS, Names

# Prefixes that extend one another (the wschat / wschat-alice, sam / sam-lee) and ones
# built to hit the suffixes (-chat-role, -authorizer-role, -connect, -disconnect, -chat-api,
# -chat-token-secret).
TRICKY = ["wschat", "wschat-alice", "sam", "sam-lee", "wschat-chat", "wschat-dis",
          "wschat-chat-api", "wschat-connect", "wschat-broad", "wschat-connections", "abc",
          "abc-chat-role", "abc-chat", "abc-dis", "abc-authorizer", "abc-authorizer-role",
          "abc-chat-token", "wschat-chat-token-secret"]


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
    """Names.everything() lists the table, both roles, every function (the authorizer's
    included), the API, every log group and the token secret, exactly."""
    names = Names("wschat")
    assert names.everything() == {
        "apis": ["wschat-chat-api"],
        "functions": ["wschat-connect", "wschat-disconnect", "wschat-broadcast",
                      "wschat-authorizer"],
        "log groups": ["/aws/lambda/wschat-connect", "/aws/lambda/wschat-disconnect",
                       "/aws/lambda/wschat-broadcast", "/aws/lambda/wschat-authorizer",
                       "/aws/apigateway/wschat-chat-api/access"],
        "parameters": ["wschat-chat-token-secret"],
        "roles": ["wschat-chat-role", "wschat-authorizer-role"],
        "tables": ["wschat-connections"],
    }
    assert tuple(names.functions) == CHAT_FUNCTIONS


def test_the_authorizer_is_a_later_function_of_the_series() -> None:
    """The authorizer (lambda_src/authorizer/) is in LATER_FUNCTIONS: every function of the
    series has its code, and notebook 03's chat functions stay three."""
    assert LATER_FUNCTIONS == ("authorizer",)
    assert sorted(CHAT_FUNCTIONS + LATER_FUNCTIONS) == functions()
    names = Names("wschat")
    assert names.function("authorizer") in names.every_function.values()
    assert "authorizer" not in names.functions
    assert names.authorizer_policy == "wschat-authorizer-policy"


def test_later_functions_join_the_list_and_their_log_groups(monkeypatch) -> None:
    """A later notebook's function is cleaned up with the rest, its log group too."""
    monkeypatch.setattr("workshop_utils.target.LATER_FUNCTIONS", ("authorizer", "moderator"))
    names = Names("wschat")
    assert "wschat-moderator" in names.everything()["functions"]
    assert "/aws/lambda/wschat-moderator" in names.log_groups
    assert "moderator" not in names.functions  # notebook 03 still makes only the chat's
