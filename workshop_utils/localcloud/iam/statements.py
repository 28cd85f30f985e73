"""One policy statement against one request: its principal, its action, its conditions.

Shared by the two policies the local cloud evaluates itself, because moto's evaluator knows no
principal and no request context: a Lambda function's resource policy
(:mod:`.resource_policies`: may API Gateway invoke it?) and a role's trust policy
(:mod:`.trust_policies`: may a service assume it?); the authorizer's returned policy
(:mod:`.authorizer_policies`) uses the wildcards. IAM's rules as far as those policies need them
(IAM User Guide, "IAM JSON policy elements"): ``*``/``?`` wildcards in actions and ARNs, action
names case-insensitive, a service principal as a string or a list, and condition operators
over the request's context keys; a condition on a key the request does not carry does not
hold, so the statement does not apply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1024)
def wildcard(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's ``*``/``?`` wildcards (``*`` crosses ``/`` and ``:``), everything else literal."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def service_principal_matches(principal: Any, service: str) -> bool:
    """Does a statement's ``Principal`` name ``service`` (or everyone, ``"*"``)?"""
    if principal == "*":
        return True
    if isinstance(principal, str):
        return principal == service
    if isinstance(principal, dict):
        return any(p == "*" or p == service for p in as_list(principal.get("Service", [])))
    return False


def action_matches(statement: Mapping[str, Any], action: str) -> bool:
    """Does the statement's ``Action`` (or ``NotAction``) cover ``action``?"""
    if "NotAction" in statement:
        return not any(isinstance(a, str) and wildcard(a, True).match(action)
                       for a in as_list(statement["NotAction"]))
    return any(isinstance(a, str) and wildcard(a, True).match(action)
               for a in as_list(statement.get("Action", [])))


def condition_holds(condition: Any, context: Mapping[str, str]) -> bool:
    """Does every operator of ``condition`` hold for the request's ``context`` (lower-case key
    -> value)? A key missing from the context, or an operator not known here, does not."""
    if not condition:
        return True
    if not isinstance(condition, dict):
        return False
    for operator, pairs in condition.items():
        if not isinstance(pairs, dict):
            return False
        op = operator.lower()
        for key, wanted in pairs.items():
            actual = context.get(key.lower())
            if actual is None:
                return False
            values = [v for v in as_list(wanted) if isinstance(v, str)]
            if op in ("arnlike", "stringlike"):
                ok = any(wildcard(v).match(actual) for v in values)
            elif op in ("arnequals", "stringequals"):
                ok = actual in values
            elif op == "stringequalsignorecase":
                ok = actual.lower() in (v.lower() for v in values)
            else:
                return False
            if not ok:
                return False
    return True
