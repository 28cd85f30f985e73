"""May API Gateway invoke this function? Lambda's resource policy, read from moto in-process.

Asked by the gateway before every integration call (:mod:`..gateway.integrations`).

``add_permission`` stores statements on the function (moto: ``LambdaFunction.policy``, a list of
statements plus a ``revision`` uuid that changes on every add/remove). API Gateway may invoke
when an Allow statement names the service principal ``apigateway.amazonaws.com``, the action
``lambda:InvokeFunction`` (or a wildcard) and its conditions hold for the execute-api source
ARN ``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{route}``; a matching Deny wins.

The hot path asks once per message, so decisions are cached by (function, source ARN, policy
revision): a new add_permission/remove_permission changes the revision and so the answer.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..parts import CloudParts

_PRINCIPAL = "apigateway.amazonaws.com"
_ACTIONS = frozenset({"lambda:invokefunction", "lambda:*", "*"})
_CACHE_LIMIT = 4096


@lru_cache(maxsize=1024)
def wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's ``*``/``?`` wildcards (``*`` crosses ``/`` and ``:``), everything else literal
    (``$connect`` too: moto's evaluator would read its ``$`` as a regex anchor)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.DOTALL)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _principal_matches(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, str):
        return principal == _PRINCIPAL
    if isinstance(principal, dict):
        return any(p == "*" or p == _PRINCIPAL for p in _as_list(principal.get("Service", [])))
    return False


def _action_matches(action: Any) -> bool:
    return any(isinstance(a, str) and a.lower() in _ACTIONS for a in _as_list(action))


def _condition_holds(condition: Any, source_arn: str, account_id: str) -> bool:
    if not condition:
        return True
    if not isinstance(condition, dict):
        return False
    for operator, pairs in condition.items():
        if not isinstance(pairs, dict):
            return False
        op = operator.lower()
        for key, wanted in pairs.items():
            k = key.lower()
            if k == "aws:sourcearn":
                actual = source_arn
            elif k == "aws:sourceaccount":
                actual = account_id
            else:
                return False  # a key API Gateway does not provide: the statement does not apply
            values = [v for v in _as_list(wanted) if isinstance(v, str)]
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


def evaluate(statements: list[dict[str, Any]], source_arn: str, account_id: str) -> str | None:
    """None when the statements let API Gateway invoke from ``source_arn``, else why not."""
    allowed = False
    for st in statements:
        if not (_principal_matches(st.get("Principal")) and _action_matches(st.get("Action"))
                and _condition_holds(st.get("Condition"), source_arn, account_id)):
            continue
        if st.get("Effect", "Allow") == "Deny":
            return f"a Deny statement ({st.get('Sid', '?')}) of the function's policy matches"
        allowed = True
    if allowed:
        return None
    if not statements:
        return "the function has no resource-based policy (call lambda add_permission)"
    return (f"no statement of the function's policy allows apigateway.amazonaws.com to call "
            f"lambda:InvokeFunction for {source_arn}")


class ResourcePolicies:
    """Lambda resource policies as API Gateway meets them, decisions cached per revision."""

    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts
        self._cache: dict[tuple[str, str, str], str | None] = {}

    def check(self, function_arn: str, source_arn: str) -> str | None:
        """None when API Gateway may invoke ``function_arn``, else the reason it may not."""
        fields = function_arn.split(":")
        region = fields[3] if len(fields) > 6 and fields[3] else None
        try:
            fn = self.parts.moto_backend("lambda", region).get_function(function_arn)
        except Exception:  # moto's UnknownFunctionException & co: the function is gone
            return f"function not found: {function_arn}"
        policy = fn.policy
        key = (function_arn, source_arn, policy.revision)
        try:
            return self._cache[key]
        except KeyError:
            pass
        account_id = fields[4] if len(fields) > 4 else self.parts.settings.account_id
        decision = evaluate(list(policy.statements), source_arn, account_id)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = decision
        return decision
