"""The execution role, enforced on what a function does: as on AWS, a missing statement fails.

A request signed by a function (:mod:`.sessions`) is checked against its role's
identity-based policies (inline, customer managed and AWS managed, such as
``AWSLambdaBasicExecutionRole``, all evaluated by moto's own policy evaluator through
:func:`~..moto_internals.identity_policy_decision`):

- DynamoDB calls (``dynamodb:<Operation>`` on the table ARN), in front of moto;
- ``@connections`` calls to the gateway (``execute-api:ManageConnections``);
- the function's own log delivery (``logs:CreateLogGroup/CreateLogStream/PutLogEvents``):
  without them, as on AWS, the invocation runs and its logs are lost;
- API Gateway's delivery of a stage's access and execution logs, with the account's CloudWatch
  role (the same three actions): without them the logs are lost, the API works.

Calls signed with any other key (the learner's notebook, tests) are not checked; neither are
services other than these (the README says so). Statement conditions are evaluated by moto
with no request context, so a statement with a Condition does not grant locally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import moto_internals

if TYPE_CHECKING:
    from ..parts import CloudParts

MAX_CACHED = 20_000


class IdentityPolicies:
    """What a role's identity-based policies allow, decided once per policy version."""

    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts
        self._decisions: dict[tuple[Any, ...], str | None] = {}

    def denial(self, role_arn: str, session_name: str, action: str, resource: str) -> str | None:
        """None when the role allows ``action`` on ``resource``; otherwise AWS's message."""
        role_name = role_arn.rsplit("/", 1)[-1]
        account = self.parts.settings.account_id
        principal = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"
        try:
            role = self.parts.moto_backend("iam", "global").get_role(role_name)
        except Exception:
            return (f"User: {principal} is not authorized to perform: {action} on resource: "
                    f"{resource} because the role {role_name} does not exist")
        documents = tuple(sorted(role.policies.items()))
        # a managed policy's default version can change (create_policy_version), so it is in
        # the key: a changed policy is decided again at once
        managed = tuple(sorted((arn, str(getattr(policy, "default_version_id", "")))
                               for arn, policy in role.managed_policies.items()))
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

    def log_delivery_denial(self, role_arn: str, session_name: str, group: str, stream: str,
                            region: str, *, group_exists: bool) -> str | None:
        """None when the role may write ``stream`` of ``group`` (and create the group when it
        does not exist yet); otherwise AWS's message for the first action it may not do."""
        prefix = (f"arn:aws:logs:{region}:{self.parts.settings.account_id}:log-group:{group}")
        needed = [("logs:CreateLogStream", f"{prefix}:log-stream:{stream}"),
                  ("logs:PutLogEvents", f"{prefix}:log-stream:{stream}")]
        if not group_exists:
            needed.insert(0, ("logs:CreateLogGroup", prefix))
        for action, resource in needed:
            denied = self.denial(role_arn, session_name, action, resource)
            if denied is not None:
                return denied
        return None
