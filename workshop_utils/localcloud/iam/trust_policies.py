"""May a service assume a role? The role's trust policy, read from moto in-process.

Asked when a service is handed a role it will act with: API Gateway's account-level CloudWatch
role (``apigateway update_account``, :mod:`..apigateway.models`). The IAM User Guide's role
trust policies name the service in ``Principal.Service`` with the action ``sts:AssumeRole``;
a matching Deny wins. Conditions (``aws:SourceAccount``, ``aws:SourceArn``) are not evaluated:
a statement with a Condition counts as allowing, since the service's own request would carry
what it tests (chosen; moto has no request context to evaluate them with).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from ..parts import CloudParts

ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(?P<account>\d{12}):role/(?:[\w+=,.@/-]+/)?"
                      r"(?P<name>[\w+=,.@-]{1,64})$")
_ACTIONS = frozenset({"sts:assumerole", "sts:*", "*"})


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _names_service(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any(p in ("*", service) for p in _as_list(principal.get("Service", [])))
    return False


def _document(raw: Any) -> dict[str, Any]:
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
    return {}


def trusts(document: Any, service: str) -> bool:
    """Whether a trust policy lets ``service`` (``apigateway.amazonaws.com``) assume the role."""
    allowed = False
    for statement in _as_list(_document(document).get("Statement", [])):
        if not isinstance(statement, dict):
            continue
        actions = [a.lower() for a in _as_list(statement.get("Action", []))
                   if isinstance(a, str)]
        if not any(a in _ACTIONS for a in actions):
            continue
        if not _names_service(statement.get("Principal"), service):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def assumable_role(parts: CloudParts, role_arn: str, service: str) -> Any | None:
    """moto's ``Role`` for ``role_arn`` when it exists in this account and trusts ``service``;
    else None."""
    match = ROLE_ARN.match(role_arn or "")
    if match is None or match["account"] != parts.settings.account_id:
        return None
    try:
        role = parts.moto_backend("iam", "global").get_role(match["name"])
    except Exception:  # moto's NotFoundException: no such role
        return None
    if role.arn != role_arn:  # same name, another path
        return None
    return role if trusts(role.assume_role_policy_document, service) else None
