"""The policies around a Lambda authorizer: may API Gateway invoke it, and what its answer allows.

Asked by the gateway at a handshake on a ``$connect`` route with a Lambda REQUEST authorizer
(:mod:`..gateway.authorizers`):

- :func:`policy_decision`: the ``policyDocument`` an authorizer returned, evaluated for
  ``execute-api:Invoke`` on the ``methodArn`` as IAM evaluates a policy: ``*``/``?``
  wildcards in actions (case-insensitive, as IAM's action names are) and resources
  (case-sensitive), ``NotAction``/``NotResource``, an explicit Deny wins, nothing that matches
  is an implicit deny. moto's own evaluator cannot do it: it reads a pattern as a regular
  expression, so the ``$`` of ``…/$connect`` becomes an anchor and an exact ``methodArn``
  never matches, and it compares actions case-sensitively (checked on moto 5.2.5).
- :class:`AuthorizerInvokePolicies`: whether API Gateway may invoke the authorizer function:
  its resource policy for ``apigateway.amazonaws.com`` with the authorizer's source ARN
  ``arn:aws:execute-api:{region}:{account}:{api-id}/authorizers/{authorizer-id}``
  (:mod:`.resource_policies`), or, when the authorizer has ``AuthorizerCredentialsArn``, that
  role: it must trust ``apigateway.amazonaws.com`` (:mod:`.trust_policies`) and allow
  ``lambda:InvokeFunction`` on the function (:mod:`.identity_policies`); "To use
  resource-based permissions on the Lambda function, don't specify this parameter" (the
  apigatewayv2 model).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .statements import wildcard
from .trust_policies import API_GATEWAY, service_may_assume

if TYPE_CHECKING:
    from ..parts import CloudParts
    from .resource_policies import ResourcePolicies

INVOKE = "execute-api:Invoke"


class MalformedPolicy(ValueError):
    """The authorizer's policyDocument is not a policy (API Gateway: a 500, as for any
    malformed authorizer output)."""


def _strings(statement: dict[str, Any], key: str) -> list[str]:
    value = statement[key]
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise MalformedPolicy(f"{key} must be a string or a list of strings")
    return values


def _matches(statement: dict[str, Any], key: str, not_key: str, value: str, *,
             fold_case: bool) -> bool:
    """Whether ``Action``/``Resource`` (or their ``Not``) of ``statement`` covers ``value``."""
    if (key in statement) == (not_key in statement):
        raise MalformedPolicy(f"a statement needs exactly one of {key} and {not_key}")
    present = key if key in statement else not_key
    hit = any(wildcard(p, fold_case).match(value) for p in _strings(statement, present))
    return hit if present == key else not hit


def policy_decision(document: Any, method_arn: str) -> str:
    """``"allow"``, ``"deny"`` (an explicit Deny) or ``"neutral"`` (no statement applies):
    what ``document`` says about ``execute-api:Invoke`` on ``method_arn``.

    Raises :class:`MalformedPolicy` for a document that is not a policy. A statement with a
    ``Condition`` is not evaluated here (API Gateway gives no condition keys for it that AWS
    documents; chosen): it never allows, and a Deny with a Condition still denies, so an
    authorizer that relies on one fails closed.
    """
    if isinstance(document, str):  # REST's authorizers may return it as a JSON string
        try:
            document = json.loads(document)
        except ValueError:
            raise MalformedPolicy("policyDocument is not JSON") from None
    if not isinstance(document, dict) or "Statement" not in document:
        raise MalformedPolicy("policyDocument has no Statement")
    statements = document["Statement"]
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise MalformedPolicy("Statement must be a list of statements")
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            raise MalformedPolicy("a statement must be an object")
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise MalformedPolicy(f"Effect must be Allow or Deny, not {effect!r}")
        if not (_matches(statement, "Action", "NotAction", INVOKE, fold_case=True)
                and _matches(statement, "Resource", "NotResource", method_arn,
                             fold_case=False)):
            continue
        if effect == "Deny":
            return "deny"
        if not statement.get("Condition"):
            allowed = True
    return "allow" if allowed else "neutral"


class AuthorizerInvokePolicies:
    """May API Gateway invoke an authorizer's function (resource policy or credentials)?"""

    def __init__(self, parts: CloudParts, resource_policies: ResourcePolicies) -> None:
        self.parts = parts
        self.resource_policies = resource_policies

    def denial(self, function_arn: str, source_arn: str, credentials_arn: str | None) -> (
            str | None):
        """None when API Gateway may invoke ``function_arn`` for the authorizer whose source
        ARN is ``source_arn``; otherwise why not (for the cloud's log)."""
        if not credentials_arn:
            return self.resource_policies.check(function_arn, source_arn)
        denied = self._assume_denial(credentials_arn, source_arn)
        if denied is not None:
            return denied
        return self.parts.identity_policies.denial(credentials_arn, "apigateway",
                                                   "lambda:InvokeFunction", function_arn)

    def may_assume(self, credentials_arn: str, source_arn: str) -> bool:
        """Whether API Gateway can assume the authorizer's credentials role at all."""
        return self._assume_denial(credentials_arn, source_arn) is None

    def _assume_denial(self, credentials_arn: str, source_arn: str) -> str | None:
        role_name = credentials_arn.rsplit("/", 1)[-1]
        try:
            role = self.parts.moto_backend("iam", "global").get_role(role_name)
        except Exception:  # moto's NoSuchEntity: the role is gone
            return f"the authorizer's credentials role {credentials_arn} does not exist"
        if not service_may_assume(role.assume_role_policy_document, API_GATEWAY,
                                  account_id=self.parts.settings.account_id,
                                  source_arn=source_arn):
            return (f"the authorizer's credentials role {credentials_arn} does not trust "
                    f"{API_GATEWAY} (its trust policy must allow sts:AssumeRole)")
        return None
