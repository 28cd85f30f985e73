"""May a service assume this role? The role's trust policy, evaluated where a service is handed
a role it will act with.

- Lambda, a function's execution role (CreateFunction, UpdateFunctionConfiguration): AWS
  refuses a role Lambda cannot assume with ``InvalidParameterValueException: The role defined
  for the function cannot be assumed by Lambda.`` (the same text since 2016:
  /work/research/lambda-and-iam.md §4.2); moto checks only that the role exists.
- API Gateway, a Lambda authorizer's ``AuthorizerCredentialsArn`` (:mod:`.authorizer_policies`)
  and the account's CloudWatch role (``apigateway update_account``, :mod:`..apigateway.models`).

A service may assume the role when an Allow statement of its trust policy names the service
principal (a string, or in a list, or ``"*"``), covers ``sts:AssumeRole`` (wildcards too) and
its conditions hold, and no Deny statement matches (IAM User Guide, "IAM JSON policy
elements"; the role trust policies of its service-linked and service roles).

Conditions (chosen): the service is taken to assume the role with the context keys
``aws:SourceAccount`` (the account it acts for) and ``aws:SourceArn`` (the resource it acts
for: the function, the authorizer; none for the account's CloudWatch role, which serves every
API of the account and region), the keys of AWS's confused-deputy advice and of AWS's own
samples of service trust policies; a condition on any other key does not hold, so its
statement does not grant.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .statements import action_matches, as_list, condition_holds, service_principal_matches

if TYPE_CHECKING:
    from ..parts import CloudParts

LAMBDA = "lambda.amazonaws.com"
API_GATEWAY = "apigateway.amazonaws.com"
ASSUME_ROLE = "sts:AssumeRole"
ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(?P<account>\d{12}):role/(?:[\w+=,.@/-]+/)?"
                      r"(?P<name>[\w+=,.@-]{1,64})$")


def _document(raw: Any) -> dict[str, Any] | None:
    """moto keeps the document as it was sent: JSON text, sometimes URL-encoded."""
    if isinstance(raw, dict):
        return raw
    text = str(raw or "")
    for candidate in (text, unquote(text)):
        try:
            document = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(document, dict):
            return document
    return None


def service_may_assume(document: str | dict[str, Any] | None, service: str, *,
                       account_id: str, source_arn: str | None = None) -> bool:
    """Does the trust policy ``document`` let ``service`` assume the role, acting for
    ``source_arn`` (when it acts for one resource) in ``account_id``?"""
    parsed = _document(document)
    if parsed is None:
        return False
    context = {"aws:sourceaccount": account_id}
    if source_arn is not None:
        context["aws:sourcearn"] = source_arn
    allowed = False
    for statement in as_list(parsed.get("Statement", [])):
        if not isinstance(statement, dict):
            continue
        if not (service_principal_matches(statement.get("Principal"), service)
                and action_matches(statement, ASSUME_ROLE)
                and condition_holds(statement.get("Condition"), context)):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def lambda_may_assume(document: str | dict[str, Any] | None, *, account_id: str,
                      function_arn: str) -> bool:
    """Does the trust policy ``document`` let Lambda assume the role for ``function_arn``?"""
    return service_may_assume(document, LAMBDA, account_id=account_id, source_arn=function_arn)


def assumable_role(parts: CloudParts, role_arn: str, service: str) -> Any | None:
    """moto's ``Role`` for ``role_arn`` when it exists in this account and trusts ``service``
    (acting for the whole account); else None."""
    match = ROLE_ARN.match(role_arn or "")
    account_id = parts.settings.account_id
    if match is None or match["account"] != account_id:
        return None
    try:
        role = parts.moto_backend("iam", "global").get_role(match["name"])
    except Exception:  # moto's NotFoundException: no such role
        return None
    if role.arn != role_arn:  # same name, another path
        return None
    if not service_may_assume(role.assume_role_policy_document, service, account_id=account_id):
        return None
    return role
