"""Stage variables on WebSocket stages: in Lambda integration URIs, and in the events.

AWS (API Gateway Developer Guide, "Setting up stage variables for a WebSocket API", the
WebSocket page of ``websocket-api-stages.md``): stage variables "act like environment
variables and can be used in your API setup", among others in a Lambda integration URI,
``arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/arn:aws:lambda:<region>:
<account_id>:function:${stageVariables.<function_variable_name>}/invocations``; "you must
configure the permissions on the Lambda function manually". Stage variables belong to the
stage, not to a deployment (botocore's apigatewayv2 model: ``StageVariables`` is a member of
CreateStage/UpdateStage, not of CreateDeployment), so one deployment serves different
functions on two stages, and changing a stage's variables needs no new deployment.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud
from workshop_utils.stack import allow_invoke_from_api

from . import kit

ACCOUNT = "123456789012"
ECHO = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({
        "function": context.function_name,
        "stageVariables": event.get("stageVariables", "absent"),
        "keys": list(event),
    })}
"""


def templated_uri(region: str, variable: str = "fn") -> str:
    """A Lambda integration URI whose function name is a stage variable, as AWS documents."""
    return kit.lambda_integration_uri(
        region, f"arn:aws:lambda:{region}:{ACCOUNT}:function:${{stageVariables.{variable}}}")


def two_way_api(cloud: LocalCloud, name: str, routes: dict[str, str]) -> str:
    """A WEBSOCKET API whose ``routes`` (route key -> integration URI) send the function's
    body back; returns its id. No stage yet."""
    apigw = cloud.client("apigatewayv2")
    api_id = apigw.create_api(Name=name, ProtocolType="WEBSOCKET",
                              RouteSelectionExpression="$request.body.action")["ApiId"]
    for route_key, uri in routes.items():
        integration = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                               IntegrationUri=uri)
        route = apigw.create_route(ApiId=api_id, RouteKey=route_key,
                                   Target=f"integrations/{integration['IntegrationId']}",
                                   RouteResponseSelectionExpression="$default")
        apigw.create_route_response(ApiId=api_id, RouteId=route["RouteId"],
                                    RouteResponseKey="$default")
    return api_id


@pytest.fixture(scope="module")
def functions(cloud: LocalCloud) -> tuple[str, str]:
    """Two echo functions a stage variable can name."""
    for name in ("gwsv-blue", "gwsv-green"):
        kit.deploy_function(cloud, name, ECHO)
    return "gwsv-blue", "gwsv-green"


@pytest.fixture(scope="module")
def api(cloud: LocalCloud, functions: tuple[str, str]) -> str:
    """$connect and $default on ${stageVariables.fn}; invoke permission on both functions
    (set by hand, as AWS says it must be)."""
    api_id = two_way_api(cloud, "gwsv", {"$connect": templated_uri(cloud.region),
                                        "$default": templated_uri(cloud.region)})
    lam = cloud.client("lambda")
    for name in functions:
        allow_invoke_from_api(lam, name, cloud.region, ACCOUNT, api_id,
                              statement_id=f"apigw-{api_id}")
    return api_id


async def ask(url: str, text: str = "which function?") -> dict[str, Any]:
    """Connect to ``url``, send ``text``, return the decoded answer."""
    async with connect(url, open_timeout=10 * SECOND) as ws:
        await ws.send(text)
        return json.loads(await ws.recv())


def test_one_deployment_serves_the_function_each_stage_names(cloud: LocalCloud,
                                                             api: str) -> None:
    """Rule: ${stageVariables.fn} in the function ARN of the integration URI is resolved from
    the stage that serves the connection: two stages of one deployment reach two functions,
    and an AutoDeploy stage resolves it too; the event carries the stage's variables."""
    apigw = cloud.client("apigatewayv2")
    deployment = apigw.create_deployment(ApiId=api)["DeploymentId"]
    apigw.create_stage(ApiId=api, StageName="blue", DeploymentId=deployment,
                       StageVariables={"fn": "gwsv-blue", "colour": "blue"})
    apigw.create_stage(ApiId=api, StageName="green", DeploymentId=deployment,
                       StageVariables={"fn": "gwsv-green"})
    apigw.create_stage(ApiId=api, StageName="auto", AutoDeploy=True,
                       StageVariables={"fn": "gwsv-green", "mode": "auto"})
    blue = kit.run_async(ask(cloud.websocket_url(api, "blue")))
    green = kit.run_async(ask(cloud.websocket_url(api, "green")))
    auto = kit.run_async(ask(cloud.websocket_url(api, "auto")))
    assert blue["function"] == "gwsv-blue"
    assert blue["stageVariables"] == {"fn": "gwsv-blue", "colour": "blue"}
    assert green["function"] == "gwsv-green"
    assert green["stageVariables"] == {"fn": "gwsv-green"}
    assert auto["function"] == "gwsv-green"
    assert auto["stageVariables"] == {"fn": "gwsv-green", "mode": "auto"}
    assert blue["keys"] == ["stageVariables", "requestContext", "body", "isBase64Encoded"]


def test_changing_a_stage_variable_needs_no_new_deployment(cloud: LocalCloud,
                                                          api: str) -> None:
    """Rule: update_stage(StageVariables=...) takes effect on the next message; the
    deployment (which holds no variables) stays as it was."""
    apigw = cloud.client("apigatewayv2")
    deployment = apigw.create_deployment(ApiId=api)["DeploymentId"]
    apigw.create_stage(ApiId=api, StageName="swap", DeploymentId=deployment,
                       StageVariables={"fn": "gwsv-blue"})
    url = cloud.websocket_url(api, "swap")
    assert kit.run_async(ask(url))["function"] == "gwsv-blue"
    apigw.update_stage(ApiId=api, StageName="swap", StageVariables={"fn": "gwsv-green"})
    assert kit.run_async(ask(url))["function"] == "gwsv-green"
    assert apigw.get_stage(ApiId=api, StageName="swap")["DeploymentId"] == deployment


def test_a_variable_the_stage_does_not_set_fails_the_integration(
        cloud: LocalCloud, api: str, functions: tuple[str, str]) -> None:
    """Rule (chosen; AWS's answer for WebSocket is not documented): a URI naming a variable
    the stage does not set cannot be invoked. On $connect the handshake is refused with 502;
    on a message route the client gets the "Internal server error" frame and keeps the
    connection; the cloud log says which variable is missing, with the text API Gateway
    logs for REST APIs ("Invalid stage variable value: null", awsdocs
    amazon-api-gateway-developer-guide#91)."""
    apigw = cloud.client("apigatewayv2")
    apigw.create_stage(ApiId=api, StageName="unset", AutoDeploy=True)

    async def refused() -> int:
        try:
            async with connect(cloud.websocket_url(api, "unset"), open_timeout=10 * SECOND):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    assert kit.run_async(refused()) == 502

    # A message route whose variable is missing, behind a $connect that needs none.
    lam = cloud.client("lambda")
    blue_arn = lam.get_function(FunctionName=functions[0])["Configuration"]["FunctionArn"]
    other = two_way_api(cloud, "gwsv-missing", {
        "$connect": kit.lambda_integration_uri(cloud.region, blue_arn),
        "$default": templated_uri(cloud.region, "notset")})
    allow_invoke_from_api(lam, functions[0], cloud.region, ACCOUNT, other,
                          statement_id=f"apigw-{other}")
    apigw.create_stage(ApiId=other, StageName="test", AutoDeploy=True,
                       StageVariables={"fn": "gwsv-blue"})

    async def message() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(cloud.websocket_url(other, "test"), open_timeout=10 * SECOND) as ws:
            await ws.send("first")
            first = json.loads(await ws.recv())
            await ws.send("second")  # the connection stays open
            return first, json.loads(await ws.recv())

    first, second = kit.run_async(message())
    assert first["message"] == second["message"] == "Internal server error"
    log = (cloud.settings.home / "cloud.log").read_text()
    assert ("Invalid stage variable value: null. Stage 'test' has no variable 'notset'"
            in log)


def test_a_stage_without_variables_sends_no_stage_variables_key(cloud: LocalCloud) -> None:
    """Rule (observed): events from a stage without variables have no stageVariables key, as
    in every published WebSocket capture (aws-powertools tests/events/
    apiGatewayWebSocketApi*.json)."""
    fn = kit.deploy_function(cloud, "gwsv-plain", ECHO)
    plain = kit.build_websocket_api(cloud, "gwsv-plain", {"$default": fn},
                                    two_way=("$default",))
    answer = kit.run_async(ask(plain["url"]))
    assert answer["stageVariables"] == "absent"
    assert answer["keys"] == ["requestContext", "body", "isBase64Encoded"]
