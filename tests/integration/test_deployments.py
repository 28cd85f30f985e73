"""apigatewayv2 deployments and WEBSOCKET fidelity: what AWS does that moto 5.2 does not.

Two halves. The control plane is checked with boto3 against the session's local cloud, as a
learner would meet it. What a stage *serves* (``DeploymentStore.stage_view``) lives inside the
cloud process, so those tests run the same extension in this process: moto's WSGI app behind
``AwsApiApp`` on a free port, a ``Cloud`` around moto's in-process backends, boto3 against it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from websockets.asyncio.client import connect
from werkzeug.serving import make_server

from tests.integration import kit
from tests.integration.kit import ensure_logging_role, lambda_integration_uri
from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud
from workshop_utils.localcloud.apigateway.responses import ApiGatewayAccountExtension
from workshop_utils.localcloud.apigatewayv2.models import DeploymentStore
from workshop_utils.localcloud.apigatewayv2.responses import ApiGatewayV2Extension
from workshop_utils.localcloud.awsapi.dispatch import AwsApiApp
from workshop_utils.localcloud.parts import CloudParts as Cloud
from workshop_utils.localcloud.settings import CloudSettings

REGION = "us-east-1"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:chat-broadcast"


def _ws_api(apigw: Any, name: str, routes: tuple[str, ...] = ("$connect",)) -> dict[str, Any]:
    """A WEBSOCKET API with one Lambda proxy integration and ``routes`` targeting it."""
    api_id = apigw.create_api(Name=name, ProtocolType="WEBSOCKET",
                              RouteSelectionExpression="$request.body.action")["ApiId"]
    integration_id = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY",
        IntegrationUri=lambda_integration_uri(REGION, FUNCTION_ARN),
    )["IntegrationId"]
    route_ids = {
        key: apigw.create_route(ApiId=api_id, RouteKey=key,
                                Target=f"integrations/{integration_id}")["RouteId"]
        for key in routes
    }
    return {"api_id": api_id, "integration_id": integration_id, "route_ids": route_ids}


# --- control plane, through the running local cloud ---------------------------------------


@pytest.fixture(scope="module")
def apigw(cloud: LocalCloud) -> Any:
    """A boto3 apigatewayv2 client on the session's local cloud, whose account has API
    Gateway's CloudWatch role (these tests turn stage logging on)."""
    ensure_logging_role(cloud)
    return cloud.client("apigatewayv2")


def test_websocket_api_needs_a_route_selection_expression(apigw: Any) -> None:
    """AWS: RouteSelectionExpression is required for WebSocket APIs (moto defaults it)."""
    with pytest.raises(apigw.exceptions.BadRequestException) as err:
        apigw.create_api(Name="no-rse", ProtocolType="WEBSOCKET")
    assert "RouteSelectionExpression is required" in str(err.value)


def test_websocket_api_endpoint_is_one_a_client_here_can_open(cloud: LocalCloud,
                                                               apigw: Any) -> None:
    """Rule (SPEC-gateway "What is served", chosen): a WEBSOCKET API's ApiEndpoint is
    ws://127.0.0.1:<gateway port>/<api-id> in create_api, get_api, get_apis and update_api,
    so that f"{ApiEndpoint}/{stage}" is the stage URL, as AWS's docs and samples write it
    (AWS: wss://<api-id>.execute-api.<region>.amazonaws.com, botocore apigatewayv2 model
    "Api.ApiEndpoint"; AWS's Python chat sample connects to f"{api_endpoint}/test"). HTTP
    APIs keep moto's https:// endpoint."""
    api = apigw.create_api(Name="ws-endpoint", ProtocolType="WEBSOCKET",
                           RouteSelectionExpression="$request.body.action")
    port = cloud.state["websocket_url_template"].split(":")[2].split("/")[0]
    expected = f"ws://127.0.0.1:{port}/{api['ApiId']}"
    assert api["ApiEndpoint"] == expected
    assert apigw.get_api(ApiId=api["ApiId"])["ApiEndpoint"] == expected
    listed = {a["ApiId"]: a for a in apigw.get_apis()["Items"]}
    assert listed[api["ApiId"]]["ApiEndpoint"] == expected
    updated = apigw.update_api(ApiId=api["ApiId"], Description="renamed")
    assert updated["ApiEndpoint"] == expected
    assert f"{expected}/dev" == cloud.websocket_url(api["ApiId"], "dev")
    http = apigw.create_api(Name="http-endpoint", ProtocolType="HTTP")
    assert http["ApiEndpoint"] == (
        f"https://{http['ApiId']}.execute-api.{REGION}.amazonaws.com")


def test_the_stage_url_built_from_api_endpoint_opens(cloud: LocalCloud, apigw: Any) -> None:
    """Rule: websockets.connect(f"{ApiEndpoint}/{stage}") reaches the stage, with the API
    found by name through the get_apis paginator, as AWS's Python chat sample does."""
    api_id = kit.build_mock_api(cloud, "ws-endpoint-opens", stage="live")["api_id"]
    found = [item["ApiEndpoint"]
             for page in apigw.get_paginator("get_apis").paginate()
             for item in page["Items"] if item["Name"] == "ws-endpoint-opens"]
    assert len(found) == 1 and found[0].startswith("ws://127.0.0.1:")  # stays on loopback

    async def scenario() -> str:
        async with connect(f"{found[0]}/live", open_timeout=10 * SECOND) as ws:
            await ws.send("hello")
            return await ws.recv()

    answer = kit.run_async(scenario())
    assert answer.startswith('{"message": "Forbidden"')  # served: no route takes "hello"
    assert found[0].endswith(f"/{api_id}")


def test_deployments_are_created_read_listed_updated_and_deleted(apigw: Any) -> None:
    """AWS: create/get/get_deployments/update/delete_deployment, shapes as the API model."""
    api_id = _ws_api(apigw, "deployment-lifecycle")["api_id"]
    created = apigw.create_deployment(ApiId=api_id, Description="first")
    deployment_id = created["DeploymentId"]
    assert len(deployment_id) == 6 and deployment_id.isalnum() and deployment_id.islower()
    assert created["DeploymentStatus"] == "DEPLOYED"
    assert created["AutoDeployed"] is False
    assert created["Description"] == "first"
    assert created["CreatedDate"].year >= 2024

    got = apigw.get_deployment(ApiId=api_id, DeploymentId=deployment_id)
    assert got["DeploymentId"] == deployment_id and got["Description"] == "first"
    second = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    listed = [d["DeploymentId"] for d in apigw.get_deployments(ApiId=api_id)["Items"]]
    assert listed == [deployment_id, second]

    updated = apigw.update_deployment(ApiId=api_id, DeploymentId=deployment_id,
                                      Description="renamed")
    assert updated["Description"] == "renamed"
    assert apigw.get_deployment(ApiId=api_id, DeploymentId=deployment_id)["Description"] == (
        "renamed")

    apigw.delete_deployment(ApiId=api_id, DeploymentId=deployment_id)
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_deployment(ApiId=api_id, DeploymentId=deployment_id)
    assert [d["DeploymentId"] for d in apigw.get_deployments(ApiId=api_id)["Items"]] == [second]


def test_deployments_of_missing_routes_apis_or_stages_are_refused(apigw: Any) -> None:
    """AWS: no routes -> BadRequestException; unknown api or deployment -> NotFoundException."""
    empty = apigw.create_api(Name="no-routes", ProtocolType="WEBSOCKET",
                             RouteSelectionExpression="$request.body.action")["ApiId"]
    with pytest.raises(apigw.exceptions.BadRequestException) as err:
        apigw.create_deployment(ApiId=empty)
    assert "no routes exist" in str(err.value)
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.create_deployment(ApiId="nosuchapi")
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_deployments(ApiId="nosuchapi")
    api_id = _ws_api(apigw, "deployment-errors")["api_id"]
    for call in (apigw.get_deployment, apigw.delete_deployment):
        with pytest.raises(apigw.exceptions.NotFoundException):
            call(ApiId=api_id, DeploymentId="zzzzzz")
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.create_deployment(ApiId=api_id, StageName="no-such-stage")


def test_a_deployment_a_stage_points_at_cannot_be_deleted(apigw: Any) -> None:
    """AWS: deleting a deployment an active stage points at is refused (BadRequestException)."""
    api_id = _ws_api(apigw, "delete-in-use")["api_id"]
    deployment_id = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=deployment_id)
    with pytest.raises(apigw.exceptions.BadRequestException) as err:
        apigw.delete_deployment(ApiId=api_id, DeploymentId=deployment_id)
    assert "Active stages pointing to this deployment" in str(err.value)
    apigw.delete_stage(ApiId=api_id, StageName="prod")
    apigw.delete_deployment(ApiId=api_id, DeploymentId=deployment_id)


def test_stage_keeps_its_deployment_and_settings(apigw: Any) -> None:
    """AWS: get_stage/get_stages show DeploymentId and AccessLogSettings given to create_stage;
    create_deployment(StageName=...) points that stage at the new deployment."""
    api_id = _ws_api(apigw, "stage-settings")["api_id"]
    first = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    logs = {"DestinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:chat-access",
            "Format": "$context.requestId $context.routeKey"}
    created = apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=first,
                                 AccessLogSettings=logs, StageVariables={"table": "chat"})
    assert created["DeploymentId"] == first
    stage = apigw.get_stage(ApiId=api_id, StageName="prod")
    assert stage["DeploymentId"] == first
    assert stage["AccessLogSettings"] == logs
    assert stage["StageVariables"] == {"table": "chat"}
    assert "LastUpdatedDate" in stage and "CreatedDate" in stage

    second = apigw.create_deployment(ApiId=api_id, StageName="prod")["DeploymentId"]
    assert apigw.get_stages(ApiId=api_id)["Items"][0]["DeploymentId"] == second


def test_create_stage_with_an_unknown_deployment(apigw: Any) -> None:
    """AWS: create_stage with a DeploymentId that does not exist -> NotFoundException."""
    api_id = _ws_api(apigw, "unknown-deployment")["api_id"]
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId="zzzzzz")
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_stage(ApiId=api_id, StageName="prod")


def test_create_stage_twice_conflicts(apigw: Any) -> None:
    """AWS: creating a stage whose name is taken -> ConflictException "Stage already exists"
    (moto silently replaces the stage)."""
    api_id = _ws_api(apigw, "stage-twice")["api_id"]
    deployment_id = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=deployment_id)
    with pytest.raises(apigw.exceptions.ConflictException) as err:
        apigw.create_stage(ApiId=api_id, StageName="prod")
    assert "Stage already exists" in str(err.value)
    assert apigw.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == deployment_id


def test_update_stage_switches_deployment_and_settings(apigw: Any) -> None:
    """AWS: update_stage changes DeploymentId, AccessLogSettings, StageVariables, Description,
    DefaultRouteSettings; an unknown stage or deployment -> NotFoundException."""
    api_id = _ws_api(apigw, "update-stage")["api_id"]
    first = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    second = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=first)
    before = apigw.get_stage(ApiId=api_id, StageName="prod")["LastUpdatedDate"]
    logs = {"DestinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:a", "Format": "$x"}
    updated = apigw.update_stage(
        ApiId=api_id, StageName="prod", DeploymentId=second, AccessLogSettings=logs,
        StageVariables={"v": "2"}, Description="second",
        DefaultRouteSettings={"LoggingLevel": "INFO", "DataTraceEnabled": True},
    )
    assert updated["DeploymentId"] == second
    stage = apigw.get_stage(ApiId=api_id, StageName="prod")
    assert stage["DeploymentId"] == second
    assert stage["AccessLogSettings"] == logs
    assert stage["StageVariables"] == {"v": "2"}
    assert stage["Description"] == "second"
    assert stage["DefaultRouteSettings"]["LoggingLevel"] == "INFO"
    assert stage["DefaultRouteSettings"]["DataTraceEnabled"] is True
    assert stage["LastUpdatedDate"] >= before
    # the first deployment is free again
    apigw.delete_deployment(ApiId=api_id, DeploymentId=first)
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.update_stage(ApiId=api_id, StageName="prod", DeploymentId="zzzzzz")
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.update_stage(ApiId=api_id, StageName="nope", Description="x")


def test_auto_deploy_stage_gets_a_deployment_per_change(apigw: Any) -> None:
    """AWS: an AutoDeploy stage is redeployed on each change; its deployments are AutoDeployed."""
    api = _ws_api(apigw, "auto-deploy-control")
    api_id = api["api_id"]
    apigw.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True)
    first = apigw.get_stage(ApiId=api_id, StageName="live")["DeploymentId"]
    apigw.create_route(ApiId=api_id, RouteKey="sendmessage",
                       Target=f"integrations/{api['integration_id']}")
    stage = apigw.get_stage(ApiId=api_id, StageName="live")
    assert stage["AutoDeploy"] is True and stage["DeploymentId"] != first
    latest = apigw.get_deployment(ApiId=api_id, DeploymentId=stage["DeploymentId"])
    assert latest["AutoDeployed"] is True


def test_get_route_responses_lists_the_route_s_responses(apigw: Any) -> None:
    """AWS: get_route_responses lists a route's responses (moto raises NotImplementedError)."""
    api = _ws_api(apigw, "route-responses")
    route_id = api["route_ids"]["$connect"]
    assert apigw.get_route_responses(ApiId=api["api_id"], RouteId=route_id)["Items"] == []
    created = apigw.create_route_response(ApiId=api["api_id"], RouteId=route_id,
                                          RouteResponseKey="$default")
    items = apigw.get_route_responses(ApiId=api["api_id"], RouteId=route_id)["Items"]
    assert [(i["RouteResponseId"], i["RouteResponseKey"]) for i in items] == [
        (created["RouteResponseId"], "$default")]
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_route_responses(ApiId=api["api_id"], RouteId="nosuchroute")


def test_duplicate_route_key_conflicts(apigw: Any) -> None:
    """AWS: a second route with the same key -> ConflictException "Route with key ... already
    exists for this API" (moto accepts it), on create_route and on update_route."""
    api = _ws_api(apigw, "duplicate-route", routes=("$connect", "sendmessage"))
    with pytest.raises(apigw.exceptions.ConflictException) as err:
        apigw.create_route(ApiId=api["api_id"], RouteKey="$connect")
    assert "Route with key $connect already exists for this API" in str(err.value)
    with pytest.raises(apigw.exceptions.ConflictException):
        apigw.update_route(ApiId=api["api_id"], RouteId=api["route_ids"]["sendmessage"],
                           RouteKey="$connect")
    # updating a route to its own key is fine
    apigw.update_route(ApiId=api["api_id"], RouteId=api["route_ids"]["$connect"],
                       RouteKey="$connect")


def test_route_target_must_name_an_existing_integration(apigw: Any) -> None:
    """Local rule: a Target of integrations/{id} naming no integration is refused with
    NotFoundException (moto accepts it; AWS's exact answer here is not confirmed)."""
    api = _ws_api(apigw, "missing-target")
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.create_route(ApiId=api["api_id"], RouteKey="x", Target="integrations/nope")


# --- what a stage serves, in this process --------------------------------------------------


class InProcessCloud:
    """The deployments extension in front of moto, served on a free port in this process."""

    def __init__(self, tmp: Any) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            create_backend_app,
        )

        self.cloud = Cloud(CloudSettings(home=tmp, aws_port=0, ws_port=0))
        self.store = self.cloud.deployments = DeploymentStore(self.cloud)
        app = AwsApiApp(DomainDispatcherApplication(create_backend_app),
                        [ApiGatewayV2Extension(self.cloud), ApiGatewayAccountExtension(self.cloud)])
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.apigw = self.client("apigatewayv2")

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on this endpoint (what ``LocalCloud.client`` gives)."""
        return boto3.client(
            service, endpoint_url=f"http://127.0.0.1:{self.server.server_port}",
            region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5 * SECOND)


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    """The deployments extension and moto served in this process for the module's tests."""
    running = InProcessCloud(tmp_path_factory.mktemp("deployments"))
    try:
        yield running
    finally:
        running.close()


def test_deployment_is_a_snapshot_until_redeployed(local: InProcessCloud) -> None:
    """AWS: a stage serves its deployment as it was made; a route added later is not live
    until a new deployment points the stage at it (the classic "forgot to deploy")."""
    apigw, store = local.apigw, local.store
    api = _ws_api(apigw, "snapshot", routes=("$connect", "$disconnect"))
    api_id = api["api_id"]
    deployment_id = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    assert store.stage_view(api_id, "prod") is None  # no stage yet
    apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=deployment_id)

    view = store.stage_view(api_id, "prod")
    assert view is not None and view.deployment_id == deployment_id
    assert view.route_selection_expression == "$request.body.action"
    assert sorted(view.routes) == ["$connect", "$disconnect"]
    connect = view.routes["$connect"]
    assert connect.route_id == api["route_ids"]["$connect"]
    assert connect.integration is not None
    assert connect.integration.integration_type == "AWS_PROXY"
    assert connect.integration.function_arn == FUNCTION_ARN
    assert connect.integration.timeout_ms == 29000
    assert store.stage_view(api_id, "prod") is view  # cached

    apigw.create_route(ApiId=api_id, RouteKey="sendmessage",
                       Target=f"integrations/{api['integration_id']}",
                       RouteResponseSelectionExpression="$default")
    apigw.update_integration(ApiId=api_id, IntegrationId=api["integration_id"],
                             TimeoutInMillis=5000)
    apigw.update_api(ApiId=api_id, RouteSelectionExpression="$request.body.type")
    still = store.stage_view(api_id, "prod")
    assert still is not None and still is not view  # rebuilt after the writes ...
    assert sorted(still.routes) == ["$connect", "$disconnect"]  # ... and still the snapshot
    assert still.routes["$connect"].integration.timeout_ms == 29000
    assert still.route_selection_expression == "$request.body.action"

    apigw.create_deployment(ApiId=api_id, StageName="prod")
    fresh = store.stage_view(api_id, "prod")
    assert fresh is not None and sorted(fresh.routes) == ["$connect", "$disconnect",
                                                          "sendmessage"]
    assert fresh.routes["$connect"].integration.timeout_ms == 5000
    assert fresh.route_selection_expression == "$request.body.type"
    assert fresh.routes["sendmessage"].route_response_selection_expression == "$default"
    assert not fresh.routes["sendmessage"].two_way  # no $default route response yet


def test_update_stage_switches_what_is_served(local: InProcessCloud) -> None:
    """AWS: update_stage(DeploymentId=...) makes the stage serve that deployment (rollback)."""
    apigw, store = local.apigw, local.store
    api = _ws_api(apigw, "rollback")
    api_id = api["api_id"]
    old = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    apigw.create_route(ApiId=api_id, RouteKey="$default",
                       Target=f"integrations/{api['integration_id']}")
    new = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=new)
    assert sorted(store.stage_view(api_id, "prod").routes) == ["$connect", "$default"]
    apigw.update_stage(ApiId=api_id, StageName="prod", DeploymentId=old)
    view = store.stage_view(api_id, "prod")
    assert view.deployment_id == old and sorted(view.routes) == ["$connect"]


def test_auto_deploy_serves_the_live_api(local: InProcessCloud) -> None:
    """AWS: a stage with AutoDeploy=True serves every change at once, no create_deployment."""
    apigw, store = local.apigw, local.store
    api_id = apigw.create_api(Name="live", ProtocolType="WEBSOCKET",
                              RouteSelectionExpression="$request.body.action")["ApiId"]
    apigw.create_stage(ApiId=api_id, StageName="dev", AutoDeploy=True)
    assert store.stage_view(api_id, "dev") is None  # nothing to serve yet
    integration_id = apigw.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY",
        IntegrationUri=lambda_integration_uri(REGION, FUNCTION_ARN))["IntegrationId"]
    route_id = apigw.create_route(ApiId=api_id, RouteKey="echo",
                                  Target=f"integrations/{integration_id}",
                                  RouteResponseSelectionExpression="$default")["RouteId"]
    view = store.stage_view(api_id, "dev")
    assert view is not None and view.auto_deploy and view.deployment_id is None
    assert list(view.routes) == ["echo"] and not view.routes["echo"].two_way
    apigw.create_route_response(ApiId=api_id, RouteId=route_id, RouteResponseKey="$default")
    assert store.stage_view(api_id, "dev").routes["echo"].two_way
    apigw.delete_route(ApiId=api_id, RouteId=route_id)
    assert store.stage_view(api_id, "dev") is None
    # turning AutoDeploy off keeps serving the last automatic deployment
    apigw.create_route(ApiId=api_id, RouteKey="$connect", Target=f"integrations/{integration_id}")
    apigw.update_stage(ApiId=api_id, StageName="dev", AutoDeploy=False)
    apigw.create_route(ApiId=api_id, RouteKey="later", Target=f"integrations/{integration_id}")
    view = store.stage_view(api_id, "dev")
    assert view is not None and not view.auto_deploy and view.deployment_id is not None
    assert list(view.routes) == ["$connect"]


def test_stage_settings_reach_the_view(local: InProcessCloud) -> None:
    """AWS: a stage's AccessLogSettings and StageVariables belong to the stage, not the
    deployment: changing them with update_stage applies at once."""
    apigw, store = local.apigw, local.store
    ensure_logging_role(local)  # stage logging needs the account's CloudWatch role
    api_id = _ws_api(apigw, "settings")["api_id"]
    deployment_id = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:chat-access"
    apigw.create_stage(ApiId=api_id, StageName="prod", DeploymentId=deployment_id,
                       AccessLogSettings={"DestinationArn": arn, "Format": "$context.requestId"},
                       StageVariables={"table": "a"})
    view = store.stage_view(api_id, "prod")
    assert view.access_log_destination_arn == arn
    assert view.access_log_format == "$context.requestId"
    assert dict(view.stage_variables) == {"table": "a"}
    assert view.default_route_settings["LoggingLevel"] == "OFF"
    apigw.update_stage(ApiId=api_id, StageName="prod", StageVariables={"table": "b"},
                       RouteSettings={"$connect": {"LoggingLevel": "ERROR"}})
    view = store.stage_view(api_id, "prod")
    assert dict(view.stage_variables) == {"table": "b"}
    assert view.route_settings["$connect"]["LoggingLevel"] == "ERROR"


def test_views_are_forgotten_with_their_stage_and_api(local: InProcessCloud) -> None:
    """AWS: delete_stage and delete_api stop serving; HTTP APIs are never served here."""
    apigw, store = local.apigw, local.store
    api_id = _ws_api(apigw, "forget")["api_id"]
    deployment_id = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
    for stage in ("a", "b"):
        apigw.create_stage(ApiId=api_id, StageName=stage, DeploymentId=deployment_id)
    served = {(v.api_id, v.stage_name) for v in store.served_stages()}
    assert {(api_id, "a"), (api_id, "b")} <= served
    apigw.delete_stage(ApiId=api_id, StageName="a")
    assert store.stage_view(api_id, "a") is None and store.stage_view(api_id, "b") is not None
    apigw.delete_api(ApiId=api_id)
    assert store.stage_view(api_id, "b") is None
    assert all(v.api_id != api_id for v in store.served_stages())
    assert store.stage_view("nosuchapi", "prod") is None

    http_id = apigw.create_api(Name="http", ProtocolType="HTTP")["ApiId"]
    apigw.create_stage(ApiId=http_id, StageName="$default", AutoDeploy=True)
    assert store.stage_view(http_id, "$default") is None


def test_every_write_bumps_the_generation(local: InProcessCloud) -> None:
    """Cache rule: each apigatewayv2 write drops the cached views; reads do not."""
    apigw, store = local.apigw, local.store
    before = store.generation
    apigw.get_apis()
    assert store.generation == before
    apigw.create_api(Name="gen", ProtocolType="WEBSOCKET",
                     RouteSelectionExpression="$request.body.action")
    assert store.generation == before + 1


def test_stage_view_is_safe_while_the_api_changes(local: InProcessCloud) -> None:
    """Threads: the gateway reads views on its loop while boto3 writes on request threads."""
    apigw, store = local.apigw, local.store
    api = _ws_api(apigw, "threads")
    api_id = api["api_id"]
    apigw.create_stage(ApiId=api_id, StageName="live", AutoDeploy=True)
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                view = store.stage_view(api_id, "live")
                if view is not None:
                    seen.append(len(view.routes))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(15):
            apigw.create_route(ApiId=api_id, RouteKey=f"r{n}",
                               Target=f"integrations/{api['integration_id']}")
    finally:
        stop.set()
        reader.join(timeout=5 * SECOND)
    assert errors == []
    assert seen and seen == sorted(seen)  # routes only ever appear, never go missing
    assert len(store.stage_view(api_id, "live").routes) == 16
