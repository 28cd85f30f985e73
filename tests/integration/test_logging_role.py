"""API Gateway's account-level CloudWatch role: stage logging needs it, ``update_account`` checks
it, and API Gateway writes a stage's logs with it.

AWS's behaviour and its sources are in ``workshop_utils/localcloud/apigateway/models.py``: the
refusal "CloudWatch Logs role ARN must be set in account settings to enable logging" (observed
on apigatewayv2 CreateStage and REST UpdateStage), and ``update_account``'s "The role ARN does
not have required permissions configured. Please grant trust permission for API Gateway and
add the required role policy." (observed). These tests run on a cloud of their own, whose
account starts without the role, as a fresh AWS account does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud

from . import kit

ROLE_MISSING = "CloudWatch Logs role ARN must be set in account settings to enable logging"
ROLE_NOT_USABLE = ("The role ARN does not have required permissions configured. Please grant "
                   "trust permission for API Gateway and add the required role policy.")
ACCOUNT = "123456789012"
# The role `workshop class setup` makes (issue14-classroom's workshop_utils/logging_role.py):
# trusts API Gateway, and may do what AmazonAPIGatewayPushToCloudWatchLogs allows, account-wide.
CLASSROOM_ACTIONS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups",
                     "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents",
                     "logs:FilterLogEvents"]
ECHO = """
def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
"""


def trust(service: str = "apigateway.amazonaws.com") -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}


def allow(actions: list[str], resource: str = f"arn:aws:logs:*:{ACCOUNT}:*") -> dict[str, Any]:
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}


@pytest.fixture(scope="module")
def fresh() -> Iterator[LocalCloud]:
    """A cloud of this module's own: its account has no CloudWatch role to begin with."""
    with LocalCloud() as running:
        yield running


def make_role(cloud: LocalCloud, name: str, trust_policy: dict[str, Any],
              policy: dict[str, Any] | None) -> str:
    iam = cloud.client("iam")
    arn = iam.create_role(RoleName=name,
                          AssumeRolePolicyDocument=json.dumps(trust_policy))["Role"]["Arn"]
    if policy is not None:
        iam.put_role_policy(RoleName=name, PolicyName="logs", PolicyDocument=json.dumps(policy))
    return arn


def set_role(cloud: LocalCloud, value: str) -> dict[str, Any]:
    return cloud.client("apigateway").update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": value}])


@pytest.fixture
def no_role(fresh: LocalCloud) -> LocalCloud:
    """The fresh cloud with its account's CloudWatch role cleared (an empty value clears it)."""
    set_role(fresh, "")
    assert "cloudwatchRoleArn" not in fresh.client("apigateway").get_account()
    return fresh


def api_with_stage(cloud: LocalCloud, name: str) -> tuple[str, str]:
    """A WEBSOCKET API with one route and a deployment, not yet staged: (api id, deployment)."""
    apigw = cloud.client("apigatewayv2")
    api_id = apigw.create_api(Name=name, ProtocolType="WEBSOCKET",
                              RouteSelectionExpression="$request.body.action")["ApiId"]
    integration = apigw.create_integration(ApiId=api_id, IntegrationType="MOCK")
    apigw.create_route(ApiId=api_id, RouteKey="$default",
                       Target=f"integrations/{integration['IntegrationId']}")
    return api_id, apigw.create_deployment(ApiId=api_id)["DeploymentId"]


ACCESS_LOG = {"DestinationArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:chat-access",
              "Format": "$context.requestId"}


def test_a_fresh_account_has_no_cloudwatch_role(fresh: LocalCloud) -> None:
    """get_account of a fresh account names no cloudwatchRoleArn (moto writes null there;
    AWS leaves unset members out)."""
    account = fresh.client("apigateway").get_account()
    assert "cloudwatchRoleArn" not in account and "features" not in account
    assert account["throttleSettings"] == {"burstLimit": 5000, "rateLimit": 10000.0}


@pytest.mark.parametrize("settings", [
    {"AccessLogSettings": ACCESS_LOG},
    {"DefaultRouteSettings": {"LoggingLevel": "INFO"}},
    {"DefaultRouteSettings": {"LoggingLevel": "ERROR", "DataTraceEnabled": True}},
    {"RouteSettings": {"$default": {"LoggingLevel": "ERROR"}}},
], ids=["access-log", "info", "error", "per-route"])
def test_stage_logging_without_the_role_is_refused(no_role: LocalCloud,
                                                   settings: dict[str, Any]) -> None:
    """create_stage and update_stage that turn access or execution logging on, in an account
    without the role: BadRequestException in AWS's words, and nothing is changed."""
    apigw = no_role.client("apigatewayv2")
    api_id, deployment_id = api_with_stage(no_role, "refused")
    with pytest.raises(apigw.exceptions.BadRequestException) as created:
        apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=deployment_id,
                           **settings)
    assert created.value.response["Error"]["Message"] == ROLE_MISSING
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_stage(ApiId=api_id, StageName="prod")
    apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=deployment_id)
    with pytest.raises(apigw.exceptions.BadRequestException) as updated:
        apigw.update_stage(ApiId=api_id, StageName="prod", Description="changed", **settings)
    assert updated.value.response["Error"]["Message"] == ROLE_MISSING
    stage = apigw.get_stage(ApiId=api_id, StageName="prod")
    assert "AccessLogSettings" not in stage and "Description" not in stage
    assert stage["DefaultRouteSettings"]["LoggingLevel"] == "OFF"
    assert stage.get("RouteSettings", {}) == {}


def test_logging_off_needs_no_role(no_role: LocalCloud) -> None:
    """Turning logging off, or DataTraceEnabled with LoggingLevel OFF (which writes nothing;
    chosen, AWS's answer is unknown), is accepted without the role."""
    apigw = no_role.client("apigatewayv2")
    api_id, deployment_id = api_with_stage(no_role, "off")
    apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=deployment_id,
                       DefaultRouteSettings={"LoggingLevel": "OFF", "DataTraceEnabled": True})
    apigw.update_stage(ApiId=api_id, StageName="prod",
                       RouteSettings={"$default": {"LoggingLevel": "OFF"}})
    assert apigw.get_stage(ApiId=api_id, StageName="prod")["RouteSettings"] == {
        "$default": {"LoggingLevel": "OFF"}}


@pytest.mark.parametrize("case", [
    "no-such-role", "trusts-lambda", "no-permissions", "lambda-logs-only", "denied",
    "not-an-arn", "other-account",
])
def test_update_account_refuses_a_role_api_gateway_cannot_use(no_role: LocalCloud,
                                                              case: str) -> None:
    """update_account checks the role as AWS does before keeping it: it must exist, trust
    apigateway.amazonaws.com and allow writing the execution logs; otherwise AWS's
    BadRequestException, and the account keeps no role."""
    name = f"logs-{case}"
    if case == "no-such-role":
        value = f"arn:aws:iam::{ACCOUNT}:role/{name}"
    elif case == "trusts-lambda":
        value = make_role(no_role, name, trust("lambda.amazonaws.com"), allow(["logs:*"]))
    elif case == "no-permissions":
        value = make_role(no_role, name, trust(), None)
    elif case == "lambda-logs-only":
        value = make_role(no_role, name, trust(), allow(
            ["logs:*"], f"arn:aws:logs:*:{ACCOUNT}:log-group:/aws/lambda/*"))
    elif case == "denied":
        policy = allow(["logs:*"])
        policy["Statement"].append({"Effect": "Deny", "Action": "logs:PutLogEvents",
                                    "Resource": "*"})
        value = make_role(no_role, name, trust(), policy)
    elif case == "not-an-arn":
        value = "workshop-apigateway-logs"
    else:
        make_role(no_role, name, trust(), allow(["logs:*"]))
        value = f"arn:aws:iam::210987654321:role/{name}"
    apigateway = no_role.client("apigateway")
    with pytest.raises(apigateway.exceptions.BadRequestException) as refused:
        set_role(no_role, value)
    assert refused.value.response["Error"]["Message"] == ROLE_NOT_USABLE
    assert "cloudwatchRoleArn" not in apigateway.get_account()


def test_the_classroom_role_is_accepted_and_lets_stages_log(no_role: LocalCloud) -> None:
    """The role `workshop class setup` makes (trusts API Gateway; the managed policy's logs
    actions on the account's logs) is kept; then stage logging is accepted and the stage's
    execution log group exists at once, as API Gateway creates it when logging is turned on."""
    arn = make_role(no_role, "workshop-apigateway-logs", trust(), allow(CLASSROOM_ACTIONS))
    assert set_role(no_role, arn)["cloudwatchRoleArn"] == arn
    assert no_role.client("apigateway").get_account()["cloudwatchRoleArn"] == arn
    apigw = no_role.client("apigatewayv2")
    api_id, deployment_id = api_with_stage(no_role, "accepted")
    apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=deployment_id,
                       AccessLogSettings=ACCESS_LOG,
                       DefaultRouteSettings={"LoggingLevel": "INFO"})
    group = f"API-Gateway-Execution-Logs_{api_id}/prod"
    groups = no_role.client("logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]


def test_without_the_role_api_gateway_s_logs_are_lost_and_the_api_works(
        no_role: LocalCloud) -> None:
    """API Gateway writes a stage's logs with the account's role: while the role has no logs:
    permissions the lines are not written (as a function's logs without them) and the chat
    goes on; once they are back, the next events are written."""
    role = "logs-revoked"
    arn = make_role(no_role, role, trust(), allow(["logs:*"]))
    set_role(no_role, arn)
    function = kit.deploy_function(no_role, "role-echo", ECHO)
    api = kit.build_websocket_api(no_role, "role-lost", {"$default": function},
                                  two_way=("$default",),
                                  stage_kwargs={"DefaultRouteSettings": {"LoggingLevel": "INFO"}})
    group = f"API-Gateway-Execution-Logs_{api['api_id']}/test"
    logs, iam = no_role.client("logs"), no_role.client("iam")
    cloud_log = no_role.settings.home / "cloud.log"

    def lines() -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]

    def lost() -> int:  # the cloud's own log says each delivery it could not make
        return cloud_log.read_text().count(f"API Gateway logs for {group} not delivered")

    async def one_message() -> str:
        async with connect(api["url"], open_timeout=15 * SECOND) as ws:
            await ws.send("hello")
            return await ws.recv()

    iam.delete_role_policy(RoleName=role, PolicyName="logs")
    assert kit.run_async(one_message()) == "ok"  # the API works
    deadline = time.monotonic() + 10 * SECOND
    while time.monotonic() < deadline and lost() < 3:  # CONNECT, MESSAGE, DISCONNECT
        time.sleep(0.05 * SECOND)
    assert lost() == 3
    assert lines() == []
    iam.put_role_policy(RoleName=role, PolicyName="logs",
                        PolicyDocument=json.dumps(allow(["logs:*"])))
    assert kit.run_async(one_message()) == "ok"
    deadline = time.monotonic() + 10 * SECOND
    while time.monotonic() < deadline and not any("disconnected" in m for m in lines()):
        time.sleep(0.05 * SECOND)
    assert sum("received message from client" in m for m in lines()) == 1
    assert lost() == 3
