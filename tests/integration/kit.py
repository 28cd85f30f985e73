"""Small builders for integration tests: Lambda functions from inline source, WebSocket APIs.

Everything goes through boto3 against a running local cloud, exactly as a learner would.
"""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from pathlib import Path
from typing import Any

from tests.timing import SECOND, whole_seconds
from workshop_utils.localcloud import LocalCloud
from workshop_utils.stack import allow_invoke_from_api

REPO_ROOT = Path(__file__).resolve().parents[2]

TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}


def zip_source(files: dict[str, str]) -> bytes:
    """A deployment package holding ``files`` (name -> Python source, dedented)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, source in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, textwrap.dedent(source))
    return buf.getvalue()


# What test functions may do (the local cloud enforces a function's execution role on
# DynamoDB, @connections and its own logs, as AWS does).
TEST_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Resource": "*",
                   "Action": ["logs:*", "dynamodb:*", "execute-api:ManageConnections"]}],
}


def ensure_role(cloud: LocalCloud, name: str = "test-lambda-role",
                policy: dict[str, Any] | None = TEST_ROLE_POLICY) -> str:
    """An execution role trusting Lambda, with ``policy`` inline (None: no permissions)."""
    iam = cloud.client("iam")
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_POLICY)
        )["Role"]["Arn"]
        if policy is not None:
            iam.put_role_policy(RoleName=name, PolicyName="test-permissions",
                                PolicyDocument=json.dumps(policy))
    return arn


# API Gateway's account-level CloudWatch role, as the developer guide sets it up ("create an IAM
# role with apigateway.amazonaws.com as its trusted entity", with the permissions of
# AmazonAPIGatewayPushToCloudWatchLogs), and as `workshop class setup` makes it for a class.
LOGGING_ROLE = "test-apigateway-logs"
LOGGING_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}
LOGGING_PERMISSIONS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Resource": "arn:aws:logs:*:123456789012:*", "Action": [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogGroups",
        "logs:DescribeLogStreams", "logs:PutLogEvents", "logs:GetLogEvents",
        "logs:FilterLogEvents"]}],
}


def ensure_logging_role(cloud: LocalCloud) -> str:
    """Set API Gateway's account CloudWatch role (once per cloud): what stage access and
    execution logging need first, on AWS and here."""
    apigateway = cloud.client("apigateway")
    current = apigateway.get_account().get("cloudwatchRoleArn")
    if current:
        return current
    iam = cloud.client("iam")
    try:
        arn = iam.get_role(RoleName=LOGGING_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        arn = iam.create_role(RoleName=LOGGING_ROLE,
                              AssumeRolePolicyDocument=json.dumps(LOGGING_TRUST))["Role"]["Arn"]
    iam.put_role_policy(RoleName=LOGGING_ROLE, PolicyName="push-to-cloudwatch-logs",
                        PolicyDocument=json.dumps(LOGGING_PERMISSIONS))
    apigateway.update_account(patchOperations=[
        {"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
    return arn


def deploy_function(
    cloud: LocalCloud,
    name: str,
    source: str | dict[str, str],
    *,
    handler: str = "app.handler",
    timeout: float = 3 * SECOND,
    memory: int = 128,
    environment: dict[str, str] | None = None,
    runtime: str = "python3.11",
) -> str:
    """Create (or replace the code of) function ``name``; returns its ARN.

    ``timeout`` is in the tests' unit (``tests.timing.SECOND``); Lambda gets it rounded up to
    the whole seconds its ``Timeout`` takes.
    """
    files = {"app.py": source} if isinstance(source, str) else source
    lam = cloud.client("lambda")
    code = zip_source(files)
    try:
        lam.get_function(FunctionName=name)
    except lam.exceptions.ResourceNotFoundException:
        return lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=ensure_role(cloud),
            Handler=handler,
            Code={"ZipFile": code},
            Timeout=whole_seconds(timeout),
            MemorySize=memory,
            Environment={"Variables": environment or {}},
        )["FunctionArn"]
    lam.update_function_code(FunctionName=name, ZipFile=code)
    return lam.update_function_configuration(
        FunctionName=name, Handler=handler, Timeout=whole_seconds(timeout), MemorySize=memory,
        Environment={"Variables": environment or {}},
    )["FunctionArn"]


def create_table(cloud: LocalCloud, name: str, key: str = "id") -> None:
    """An on-demand DynamoDB table with one string hash key (what every table test needs)."""
    cloud.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}])


def invoke_json(cloud: LocalCloud, name: str, event: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Invoke synchronously; returns the boto3 response with ``Payload`` decoded from JSON."""
    resp = cloud.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event if event is not None else {}), **kwargs
    )
    raw = resp["Payload"].read()
    resp["Payload"] = json.loads(raw) if raw else None
    return resp


def lambda_integration_uri(region: str, function_arn: str) -> str:
    return (f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/"
            f"{function_arn}/invocations")


def build_websocket_api(
    cloud: LocalCloud,
    name: str,
    routes: dict[str, str],
    *,
    stage: str = "test",
    route_selection_expression: str = "$request.body.action",
    two_way: tuple[str, ...] = (),
    permit: bool = True,
    auto_deploy: bool = False,
    stage_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A deployed WEBSOCKET API whose ``routes`` map a route key to a function ARN.

    Returns ``{"api_id", "stage", "url", "route_ids", "integration_ids"}``.
    """
    apigw = cloud.client("apigatewayv2")
    lam = cloud.client("lambda")
    api = apigw.create_api(Name=name, ProtocolType="WEBSOCKET",
                           RouteSelectionExpression=route_selection_expression)
    api_id = api["ApiId"]
    route_ids: dict[str, str] = {}
    integration_ids: dict[str, str] = {}
    for route_key, function_arn in routes.items():
        integration = apigw.create_integration(
            ApiId=api_id, IntegrationType="AWS_PROXY",
            IntegrationUri=lambda_integration_uri(cloud.region, function_arn),
        )
        integration_ids[route_key] = integration["IntegrationId"]
        kwargs: dict[str, Any] = {}
        if route_key in two_way:
            kwargs["RouteResponseSelectionExpression"] = "$default"
        route = apigw.create_route(ApiId=api_id, RouteKey=route_key,
                                   Target=f"integrations/{integration['IntegrationId']}",
                                   **kwargs)
        route_ids[route_key] = route["RouteId"]
        if route_key in two_way:
            apigw.create_route_response(ApiId=api_id, RouteId=route["RouteId"],
                                        RouteResponseKey="$default")
    if permit:
        for function_arn in sorted(set(routes.values())):
            allow_invoke_from_api(lam, function_arn.rsplit(":", 1)[-1], cloud.region,
                                  "123456789012", api_id, statement_id=f"apigw-{api_id}")
    if auto_deploy:
        apigw.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True,
                           **(stage_kwargs or {}))
    else:
        deployment = apigw.create_deployment(ApiId=api_id)
        apigw.create_stage(ApiId=api_id, StageName=stage,
                           DeploymentId=deployment["DeploymentId"], **(stage_kwargs or {}))
    return {"api_id": api_id, "stage": stage, "url": cloud.websocket_url(api_id, stage),
            "route_ids": route_ids, "integration_ids": integration_ids}


def attach_authorizer(cloud: LocalCloud, api: dict[str, Any], function_arn: str, *,
                      identity_source: tuple[str, ...] = ("route.request.querystring.token",),
                      name: str = "authorizer", permit: bool = True) -> str:
    """A Lambda REQUEST authorizer on ``api``'s ``$connect`` route (from
    :func:`build_websocket_api`), as the developer guide sets one up: create_authorizer,
    add_permission for its ``/authorizers/<id>`` SourceArn, update_route to CUSTOM. Returns
    the authorizer id. Not deployed: an AutoDeploy stage serves it at once, others need a
    deployment."""
    apigw = cloud.client("apigatewayv2")
    authorizer_id = apigw.create_authorizer(
        ApiId=api["api_id"], Name=name, AuthorizerType="REQUEST",
        AuthorizerUri=lambda_integration_uri(cloud.region, function_arn),
        IdentitySource=list(identity_source))["AuthorizerId"]
    if permit:
        cloud.client("lambda").add_permission(
            FunctionName=function_arn, StatementId=f"authorizer-{authorizer_id}",
            Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
            SourceArn=(f"arn:aws:execute-api:{cloud.region}:123456789012:{api['api_id']}"
                       f"/authorizers/{authorizer_id}"))
    apigw.update_route(ApiId=api["api_id"], RouteId=api["route_ids"]["$connect"],
                       AuthorizationType="CUSTOM", AuthorizerId=authorizer_id)
    return authorizer_id


# --- gateway tests ------------------------------------------------------------------------

ECHO_SOURCE = """
import json

def handler(event, context):
    print("EVENT " + json.dumps(event))
    return {"statusCode": 200, "body": json.dumps(event)}
"""


def self_post_source(data: str, ending: str) -> str:
    """Source of a function that posts ``data`` to its own connection the AWS way, prints
    ``EVENT {"connectionId", "result": "posted"|"gone"}``, then runs ``ending`` (a return or
    raise statement): what a function sees of its connection from $connect or $disconnect."""
    return f"""
import json
import boto3

def handler(event, context):
    ctx = event["requestContext"]
    client = boto3.client("apigatewaymanagementapi",
                          endpoint_url=f"https://{{ctx['domainName']}}/{{ctx['stage']}}")
    try:
        client.post_to_connection(ConnectionId=ctx["connectionId"], Data={data!r})
        result = "posted"
    except client.exceptions.GoneException:
        result = "gone"
    print("EVENT " + json.dumps({{"connectionId": ctx["connectionId"], "result": result}}))
    {ending}
"""


def logged_events(cloud: LocalCloud, function_name: str, *, count: int = 1,
                  timeout: float = 15 * SECOND, marker: str = "EVENT ",
                  where: Any = None) -> list[dict[str, Any]]:
    """Events a function printed as ``EVENT <json>`` lines, once at least ``count`` match.

    ``where`` filters the decoded events (e.g. by connection id); raises AssertionError when
    fewer than ``count`` show up within ``timeout`` seconds.
    """
    import time

    logs = cloud.client("logs")
    group = f"/aws/lambda/{function_name}"
    deadline = time.monotonic() + timeout
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        found = []
        try:
            pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group)
            for page in pages:
                for ev in page["events"]:
                    msg = ev["message"]
                    idx = msg.find(marker)
                    if idx < 0:
                        continue
                    event = json.loads(msg[idx + len(marker):])
                    if where is None or where(event):
                        found.append(event)
        except logs.exceptions.ResourceNotFoundException:
            pass
        if len(found) >= count:
            return found
        time.sleep(0.1 * SECOND)
    raise AssertionError(f"{len(found)} of {count} events logged by {function_name} "
                         f"within {timeout:g} s")


def raw_http(url: str, request: bytes, *, timeout: float = 5 * SECOND) -> bytes:
    """Send raw bytes to the host:port of ``url`` and return all bytes until the server
    closes (or ``timeout``)."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def run_async(coro: Any, timeout: float = 60 * SECOND) -> Any:
    """Run a test coroutine on a fresh loop, bounded by ``timeout`` seconds."""
    import asyncio

    async def bounded() -> Any:
        async with asyncio.timeout(timeout):
            return await coro

    return asyncio.run(bounded())


def build_mock_api(cloud: LocalCloud, name: str, route_keys: tuple[str, ...] = ("other",), *,
                   stage: str = "test",
                   route_selection_expression: str = "$request.body.action") -> dict[str, Any]:
    """A deployed WEBSOCKET API whose routes have MOCK integrations (no Lambda at all)."""
    apigw = cloud.client("apigatewayv2")
    api_id = apigw.create_api(Name=name, ProtocolType="WEBSOCKET",
                              RouteSelectionExpression=route_selection_expression)["ApiId"]
    for key in route_keys:
        integration = apigw.create_integration(ApiId=api_id, IntegrationType="MOCK")
        apigw.create_route(ApiId=api_id, RouteKey=key,
                           Target=f"integrations/{integration['IntegrationId']}")
    if route_keys:
        deployment = apigw.create_deployment(ApiId=api_id)["DeploymentId"]
        apigw.create_stage(ApiId=api_id, StageName=stage, DeploymentId=deployment)
    else:
        apigw.create_stage(ApiId=api_id, StageName=stage, AutoDeploy=True)
    return {"api_id": api_id, "stage": stage, "url": cloud.websocket_url(api_id, stage)}
