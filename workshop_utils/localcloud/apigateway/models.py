"""API Gateway's account-level CloudWatch role: what ``update_account`` accepts, what logging needs.

The role lives in the v1 API's account resource (``PATCH /account``, path
``/cloudwatchRoleArn``), one per account and region, and covers the v2 WebSocket stages too:
AWS refuses ``create_stage``/``update_stage`` that turn access logging or execution logging
on while it is unset, with ``BadRequestException: CloudWatch Logs role ARN must be set in
account settings to enable logging`` (observed on apigatewayv2 CreateStage, anomalyco/sst#4663
(2024); on REST UpdateStage, Miserlou/Zappa#1946).

moto's ``update_account`` stores any value. AWS assumes the role first (API Gateway Developer
Guide, "Permissions for CloudWatch logging": "create an IAM role with apigateway.amazonaws.com
as its trusted entity, attach [AmazonAPIGatewayPushToCloudWatchLogs] … API Gateway calls AWS
Security Token Service in order to assume the IAM role") and refuses a role it cannot use with
``BadRequestException: The role ARN does not have required permissions configured. Please grant
trust permission for API Gateway and add the required role policy.`` (observed,
tmobile/jazz-installer#597, aws-cloudformation/rain#163). Checked here, as AWS would find it:
the role exists in this account, trusts ``apigateway.amazonaws.com``, and its policies allow
what API Gateway does with it: ``logs:CreateLogGroup``, ``logs:CreateLogStream`` and
``logs:PutLogEvents`` on the execution-log groups (which permissions AWS checks exactly is
unknown; these three are the writes, chosen). A malformed ARN gets the same answer (chosen).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..iam.trust_policies import assumable_role
from .exceptions import BadRequestException

if TYPE_CHECKING:
    from ..parts import CloudParts

SERVICE = "apigateway.amazonaws.com"
SESSION_NAME = "apigateway-logs"  # the session API Gateway's deliveries are checked as
ROLE_NOT_USABLE = ("The role ARN does not have required permissions configured. Please grant "
                   "trust permission for API Gateway and add the required role policy.")
ROLE_MISSING = "CloudWatch Logs role ARN must be set in account settings to enable logging"
ROLE_PATH = "/cloudwatchRoleArn"
EXECUTION_LOG_GROUPS = "API-Gateway-Execution-Logs_*"  # what the role must be able to write


def account_of(parts: CloudParts, region: str | None = None) -> Any:
    """moto's ``Account`` of API Gateway in ``region`` (the settings are per region)."""
    return parts.moto_backend("apigateway", region).account


def cloudwatch_role_arn(parts: CloudParts, region: str | None = None) -> str | None:
    """The account's CloudWatch role in ``region``, or None when it has none."""
    return account_of(parts, region).cloudwatch_role_arn or None


def check_role(parts: CloudParts, region: str, role_arn: str) -> None:
    """What ``update_account`` checks of a new ``cloudwatchRoleArn``: API Gateway can assume
    it and may write logs with it; else AWS's BadRequestException."""
    role = assumable_role(parts, role_arn, SERVICE)
    if role is None:
        raise BadRequestException(ROLE_NOT_USABLE)
    denied = parts.identity_policies.log_delivery_denial(
        role_arn, SESSION_NAME, EXECUTION_LOG_GROUPS, "*", region, group_exists=False)
    if denied is not None:
        raise BadRequestException(ROLE_NOT_USABLE)


def check_patch(parts: CloudParts, region: str, operations: Any) -> None:
    """Check every ``cloudwatchRoleArn`` an ``update_account`` patch sets (an empty value
    clears the setting and is not checked; chosen, as AWS's answer to it is unknown)."""
    if not isinstance(operations, list):
        raise BadRequestException("Invalid patch operations")
    for operation in operations:
        if not isinstance(operation, dict):
            raise BadRequestException("Invalid patch operations")
        if operation.get("path") != ROLE_PATH or operation.get("op") not in ("replace", "add"):
            continue
        value = operation.get("value")
        if value:
            check_role(parts, region, str(value))


def require_role(parts: CloudParts, region: str | None) -> None:
    """A stage write that turns logging on needs the account's role: else AWS's refusal."""
    if cloudwatch_role_arn(parts, region) is None:
        raise BadRequestException(ROLE_MISSING)


def account_json(body: dict[str, Any]) -> dict[str, Any]:
    """moto writes unset members as ``null`` (and a cleared role as ``""``); AWS leaves unset
    members out (botocore's model has no nullable members)."""
    return {key: value for key, value in body.items() if value is not None and value != ""}
