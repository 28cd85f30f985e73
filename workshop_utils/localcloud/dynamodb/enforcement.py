"""A function's DynamoDB calls, checked against its execution role before moto answers them.

An AWS API extension (:mod:`..awsapi.dispatch`): a request signed by a function
(:mod:`..iam.sessions`) needs ``dynamodb:<Operation>`` on each table it names in the role's
identity-based policies (:mod:`..iam.identity_policies`); other callers pass straight to moto.
On the hot path of every broadcast (GetItem, Scan), so a decision is cached until the
role's policies change (:mod:`..iam.identity_policies`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..awsapi.dispatch import Forward
from .exceptions import AccessDeniedException

if TYPE_CHECKING:
    from ..parts import CloudParts


def dynamodb_tables(body: dict[str, Any]) -> list[str]:
    """The tables a DynamoDB request names (TableName, or the keys of RequestItems)."""
    if isinstance(body.get("TableName"), str):
        return [body["TableName"]]
    items = body.get("RequestItems")
    if isinstance(items, dict):
        return sorted(items)
    return ["*"]


class DynamoDBEnforcement:
    """An AwsExtension: a function's DynamoDB call must be allowed by its execution role."""

    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts

    def handle(self, request: Request, forward: Forward) -> Response | None:
        target = request.headers.get("X-Amz-Target", "")
        if not target.startswith("DynamoDB_20120810."):
            return None
        session = self.parts.iam_sessions.session_of(request.headers.get("Authorization"))
        if session is None:
            return None
        role_arn, session_name, region = session
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return None  # moto answers the malformed request as DynamoDB would
        action = "dynamodb:" + target.split(".", 1)[1]
        account = self.parts.settings.account_id
        for table in dynamodb_tables(body if isinstance(body, dict) else {}):
            resource = f"arn:aws:dynamodb:{region}:{account}:table/{table}"
            message = self.parts.identity_policies.denial(role_arn, session_name, action,
                                                          resource)
            if message is not None:
                raise AccessDeniedException(message)
        return None
