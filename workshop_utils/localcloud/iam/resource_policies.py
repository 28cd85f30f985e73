"""May API Gateway invoke this function? Lambda's resource policy, read from moto in-process.

Asked by the gateway before every integration call (:mod:`..gateway.integrations`).

``add_permission`` stores statements on the function (moto: ``LambdaFunction.policy``, a list of
statements plus a ``revision`` uuid that moto changes on every add and the local cloud on every
remove, :func:`~..awslambda.models.policy_changed`). API Gateway may invoke
when an Allow statement names the service principal ``apigateway.amazonaws.com``, the action
``lambda:InvokeFunction`` (or a wildcard) and its conditions hold for the execute-api source
ARN ``arn:aws:execute-api:{region}:{account}:{api}/{stage}/{route}``; a matching Deny wins.

The hot path asks once per message, so decisions are cached by (function, source ARN, policy
revision): a new add_permission/remove_permission changes the revision and so the answer, from
the next message on; a function deleted and created again has a new policy, so a new revision.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .statements import action_matches, condition_holds, service_principal_matches

if TYPE_CHECKING:
    from ..parts import CloudParts

_PRINCIPAL = "apigateway.amazonaws.com"
_ACTION = "lambda:InvokeFunction"
_CACHE_LIMIT = 4096


def evaluate(statements: list[dict[str, Any]], source_arn: str, account_id: str) -> str | None:
    """None when the statements let API Gateway invoke from ``source_arn``, else why not."""
    allowed = False
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": account_id}
    for st in statements:
        if not (service_principal_matches(st.get("Principal"), _PRINCIPAL)
                and action_matches(st, _ACTION)
                and condition_holds(st.get("Condition"), context)):
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
