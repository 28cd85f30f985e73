"""API Gateway's account-level CloudWatch Logs role: what stage access logging needs first.

A stage writes access logs through a role set once per account and region in API Gateway's
account settings (``cloudwatchRoleArn``). Without it, ``update_stage`` with
``AccessLogSettings`` fails with "CloudWatch Logs role ARN must be set in account settings to
enable logging" (API Gateway Developer Guide, "Set up CloudWatch logging for WebSocket APIs";
"Permissions for CloudWatch logging"). A fresh account has none, and it is not a learner's to
change in a shared account: ``workshop class setup`` makes it (an instructor, once), and
notebook 07 checks it with :func:`check` before turning access logging on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from .target import TAG_OWNER, TAG_WORKSHOP, WORKSHOP_TAG, Target

ROLE_NAME = "workshop-apigateway-logs"
POLICY_NAME = "workshop-apigateway-logs"
# The actions of AWS's managed policy AmazonAPIGatewayPushToCloudWatchLogs (the one the
# developer guide attaches), as an inline policy scoped to this account's logs.
ACTIONS = [
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:PutLogEvents",
    "logs:GetLogEvents",
    "logs:FilterLogEvents",
]
ROLE_NOT_READY = "role arn"  # BadRequestException while IAM propagates the new role
FIX = ("an instructor runs `workshop class setup` once for this account and region (on "
       "your own account you may run it yourself), then run this cell again")


class LoggingRoleMissing(RuntimeError):
    """The account has no CloudWatch role for API Gateway; the message says what to do."""


def trust_policy() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
        "Action": "sts:AssumeRole"}]}


def permissions(target: Target) -> dict[str, Any]:
    # Every region: the role is global, set in each region's account settings.
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": ACTIONS,
        "Resource": f"arn:{target.partition}:logs:*:{target.account_id}:*"}]}


def current_role_arn(target: Target) -> str | None:
    """``cloudwatchRoleArn`` of API Gateway's account settings in the target's region."""
    return target.client("apigateway").get_account().get("cloudwatchRoleArn") or None


def check(target: Target) -> str:
    """The role's ARN, or :class:`LoggingRoleMissing` saying what to do."""
    arn = current_role_arn(target)
    if not arn:
        raise LoggingRoleMissing(
            f"API Gateway has no CloudWatch Logs role in account {target.account_id} "
            f"({target.region}), so access logging cannot be turned on: {FIX}")
    return arn


def _role_arn(target: Target) -> str:
    """Make the role (idempotent): trusts API Gateway, may write CloudWatch Logs."""
    iam = target.client("iam")
    try:
        arn = iam.create_role(
            RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust_policy()),
            Description="API Gateway writes the workshop's access logs with this role",
            Tags=[{"Key": TAG_WORKSHOP, "Value": WORKSHOP_TAG},
                  {"Key": TAG_OWNER, "Value": target.owner}],
            **target.role_options(),
        )["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        tags = {t["Key"]: t["Value"] for page in iam.get_paginator("list_role_tags").paginate(
            RoleName=ROLE_NAME) for t in page["Tags"]}
        if tags.get(TAG_WORKSHOP) != WORKSHOP_TAG:
            raise LoggingRoleMissing(
                f"a role named {ROLE_NAME} exists and was not made by the workshop; delete or "
                "rename it, or set API Gateway's CloudWatch role by hand") from None
        arn = iam.get_role(RoleName=ROLE_NAME)["Role"]["Arn"]
    iam.put_role_policy(RoleName=ROLE_NAME, PolicyName=POLICY_NAME,
                        PolicyDocument=json.dumps(permissions(target)))
    return arn


def _role_exists(target: Target, arn: str) -> bool:
    iam = target.client("iam")
    try:
        iam.get_role(RoleName=arn.rsplit("/", 1)[-1])
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def setup(target: Target, say: Callable[[str], Any] = print, *, timeout_s: float = 90.0,
          sleep: Callable[[float], None] = time.sleep) -> str:
    """``workshop class setup``: set API Gateway's CloudWatch role, once per account and
    region. Idempotent: a role already set (and existing) is kept."""
    arn = current_role_arn(target)
    if arn and _role_exists(target, arn):
        say(f"API Gateway's CloudWatch Logs role in {target.region} is already set: {arn}")
        return arn
    arn = _role_arn(target)
    apigateway = target.client("apigateway")
    delay, deadline = 1.0, time.monotonic() + timeout_s
    while True:
        try:
            apigateway.update_account(patchOperations=[
                {"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
            break
        except apigateway.exceptions.BadRequestException as exc:
            # A new role is not assumable by API Gateway for a few seconds (IAM is
            # eventually consistent); any other bad request is raised at once.
            if ROLE_NOT_READY not in str(exc).lower() or time.monotonic() + delay > deadline:
                raise
        sleep(delay)
        delay = min(delay * 2, 10.0)
    say(f"API Gateway's CloudWatch Logs role in {target.region} is now {arn}")
    return arn


def ensure(target: Target, say: Callable[[str], Any] = print) -> str:
    """The role's ARN: checked, and set up if missing and the caller may (a learner on their
    own account, the local cloud); otherwise :class:`LoggingRoleMissing` with what to do."""
    try:
        return check(target)
    except LoggingRoleMissing as missing:
        say(f"{missing}\nsetting it up now (what `workshop class setup` does)")
    try:
        return setup(target, say)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("AccessDenied", "AccessDeniedException", "403"):
            raise LoggingRoleMissing(
                f"API Gateway has no CloudWatch Logs role in account {target.account_id} "
                f"({target.region}) and you may not set one ({exc.response['Error']['Code']}): "
                f"{FIX}") from None
        raise
