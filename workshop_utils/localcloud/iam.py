"""The execution role, enforced on what a function does: as on AWS, a missing statement fails.

Each function runs with credentials of its execution role (an "assumed-role" session named
after the function). Requests signed with those credentials are checked against the role's
identity-based policies (inline and attached, evaluated by moto's own policy evaluator):

- DynamoDB calls (``dynamodb:<Operation>`` on the table ARN), in front of moto;
- ``@connections`` calls to the gateway (``execute-api:ManageConnections``);
- the function's own log delivery (``logs:CreateLogGroup/CreateLogStream/PutLogEvents``):
  without them, as on AWS, the invocation runs and its logs are lost.

Calls signed with any other key (the learner's notebook, tests) are not checked; neither are
services other than these (the README says so). Statement conditions are evaluated by moto
with no request context, so a statement with a Condition does not grant locally.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from typing import Any

from werkzeug.wrappers import Request, Response

from . import moto_internals
from .awsapp import Forward

CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/\d{8}/([a-z0-9-]+)/")
MAX_CACHED = 20_000


class RoleSessions:
    """Credentials handed to functions, and what their role allows."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self._sessions: dict[str, tuple[str, str]] = {}  # access key id -> (role ARN, name)
        self._decisions: dict[tuple[Any, ...], str | None] = {}
        self._lock = threading.Lock()

    def credentials(self, role_arn: str, session_name: str) -> tuple[str, str, str]:
        """Access key, secret and token of ``role_arn`` assumed as ``session_name``
        (deterministic: the same function gets the same key in every run)."""
        digest = hashlib.sha256(f"{role_arn}|{session_name}".encode()).digest()
        key_id = "ASIA" + base64.b32encode(digest).decode()[:16]
        secret = base64.b64encode(digest + digest[:10]).decode()[:40]
        token = base64.b64encode(b"localcloud-session:" + digest[:24]).decode()
        with self._lock:
            self._sessions[key_id] = (role_arn, session_name)
        return key_id, secret, token

    def session_of(self, authorization: str | None) -> tuple[str, str, str] | None:
        """``(role ARN, session name, region)`` when a request is signed by a function."""
        match = CREDENTIAL.search(authorization or "")
        if not match or match[1] not in self._sessions:
            return None
        role_arn, session_name = self._sessions[match[1]]
        return role_arn, session_name, match[2]

    def denial(self, role_arn: str, session_name: str, action: str, resource: str) -> str | None:
        """None when the role allows ``action`` on ``resource``; otherwise AWS's message."""
        role_name = role_arn.rsplit("/", 1)[-1]
        account = self.cloud.settings.account_id
        principal = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"
        try:
            role = self.cloud.moto_backend("iam", "global").get_role(role_name)
        except Exception:
            return (f"User: {principal} is not authorized to perform: {action} on resource: "
                    f"{resource} because the role {role_name} does not exist")
        documents = tuple(sorted(role.policies.items()))
        managed = tuple(sorted(role.managed_policies))
        key = (role_name, documents, managed, action, resource)
        if key in self._decisions:
            return self._decisions[key]
        verdict = moto_internals.identity_policy_decision(
            [doc for _, doc in documents] + list(role.managed_policies.values()), action, resource)
        if verdict == "deny":
            decision: str | None = (
                f"User: {principal} is not authorized to perform: {action} on resource: "
                f"{resource} with an explicit deny in an identity-based policy")
        elif verdict == "allow":
            decision = None
        else:
            decision = (f"User: {principal} is not authorized to perform: {action} on resource: "
                        f"{resource} because no identity-based policy allows the {action} action")
        if len(self._decisions) > MAX_CACHED:
            self._decisions.clear()
        self._decisions[key] = decision
        return decision


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

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def handle(self, request: Request, forward: Forward) -> Response | None:
        target = request.headers.get("X-Amz-Target", "")
        if not target.startswith("DynamoDB_20120810."):
            return None
        session = self.cloud.iam_sessions.session_of(request.headers.get("Authorization"))
        if session is None:
            return None
        role_arn, session_name, region = session
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            return None  # moto answers the malformed request as DynamoDB would
        action = "dynamodb:" + target.split(".", 1)[1]
        account = self.cloud.settings.account_id
        for table in dynamodb_tables(body if isinstance(body, dict) else {}):
            resource = f"arn:aws:dynamodb:{region}:{account}:table/{table}"
            message = self.cloud.iam_sessions.denial(role_arn, session_name, action, resource)
            if message is not None:
                return Response(
                    json.dumps({"__type": "com.amazon.coral.service#AccessDeniedException",
                                "Message": message}),
                    status=400, mimetype="application/x-amz-json-1.0")
        return None
