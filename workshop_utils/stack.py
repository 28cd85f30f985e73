"""The whole chat stack, step by step, as the notebooks build it: for a learner who joins late.

Notebooks 01-04 teach these calls in their cells; this module repeats them so that
``ensure_prerequisites(n)`` can bring about what notebooks before ``n`` built, the tests and
benchmarks can deploy the real handlers, and ``workshop cleanup`` knows what exists.
Every step is idempotent: it finds what is already there by name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import packaging
from .target import Target
from .waiting import create_function_when_role_ready, wait_until_active

ROUTES = {
    "$connect": "connect",
    "$disconnect": "disconnect",
    "$default": "broadcast",
    "sendmessage": "broadcast",
}


@dataclass(frozen=True)
class ChatApi:
    api_id: str
    stage: str
    url: str


def tag_list(target: Target) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in target.tags.items()]


def ensure_table(target: Target) -> str:
    """Notebook 01: the connections table (on-demand, TTL on ``expiresAt``)."""
    ddb = target.client("dynamodb")
    name = target.names.table
    try:
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=tag_list(target),
        )
    except ddb.exceptions.ResourceInUseException:
        pass
    ddb.get_waiter("table_exists").wait(TableName=name)
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiresAt"},
        )
    return ddb.describe_table(TableName=name)["Table"]["TableArn"]


def put_role_policy(target: Target, api_id: str = "*") -> dict[str, Any]:
    """The functions' least-privilege inline policy (``api_id`` narrows it once the API exists)."""
    names = target.names
    policy = packaging.render_policy(
        region=target.region, account_id=target.account_id, table_name=names.table,
        api_id=api_id, stage=names.stage, function_prefix=names.prefix,
    )
    target.client("iam").put_role_policy(
        RoleName=names.role, PolicyName=names.policy, PolicyDocument=json.dumps(policy))
    return policy


def ensure_role(target: Target) -> str:
    """Notebook 02: the execution role the three functions share."""
    iam = target.client("iam")
    names = target.names
    try:
        arn = iam.create_role(
            RoleName=names.role,
            AssumeRolePolicyDocument=json.dumps(packaging.trust_policy()),
            Description="Execution role of the WebSocket chat workshop's functions",
            Tags=tag_list(target),
        )["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=names.role)["Role"]["Arn"]
    api_id = find_api_id(target) or "*"
    put_role_policy(target, api_id)
    return arn


def ensure_functions(target: Target) -> dict[str, str]:
    """Notebook 03: the three functions from ``lambda_src/``; returns kind -> function ARN."""
    lam = target.client("lambda")
    role_arn = target.client("iam").get_role(RoleName=target.names.role)["Role"]["Arn"]
    arns: dict[str, str] = {}
    for kind, name in target.names.functions.items():
        code = packaging.build_zip(kind)
        try:
            arns[kind] = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
        except lam.exceptions.ResourceNotFoundException:
            arns[kind] = create_function_when_role_ready(
                lam,
                FunctionName=name,
                Runtime="python3.12",
                Role=role_arn,
                Handler="app.lambda_handler",
                Code={"ZipFile": code},
                Timeout=10,
                MemorySize=256,
                Environment={"Variables": {"TABLE_NAME": target.names.table}},
                Tags=target.tags,
            )["FunctionArn"]
        wait_until_active(lam, name)
    return arns


def find_api_id(target: Target) -> str | None:
    """The chat API's id, found by name (a restarted kernel finds what it made before)."""
    apigw = target.client("apigatewayv2")
    for page in _paged(apigw.get_apis):
        for api in page.get("Items", []):
            if api["Name"] == target.names.api:
                return api["ApiId"]
    return None


def _paged(call: Any, **kwargs: Any):  # apigatewayv2 has no paginator for get_apis
    while True:
        page = call(**kwargs)
        yield page
        if not page.get("NextToken"):
            return
        kwargs["NextToken"] = page["NextToken"]


def integration_uri(target: Target, function_arn: str) -> str:
    return (f"arn:aws:apigateway:{target.region}:lambda:path/2015-03-31/functions/"
            f"{function_arn}/invocations")


def allow_invoke_from_api(lam: Any, function_name: str, region: str, account: str,
                          api_id: str, statement_id: str | None = None) -> None:
    """Let API Gateway invoke the function for any stage and route of ``api_id`` (idempotent:
    the statement id is per API, and a second add_permission meets ResourceConflictException)."""
    try:
        lam.add_permission(
            FunctionName=function_name, StatementId=statement_id or f"apigateway-{api_id}",
            Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{region}:{account}:{api_id}/*",
        )
    except lam.exceptions.ResourceConflictException:
        pass


def ensure_api(target: Target) -> ChatApi:
    """Notebook 04: the WebSocket API, its routes and permissions, deployed to a stage."""
    apigw = target.client("apigatewayv2")
    lam = target.client("lambda")
    names = target.names
    fn_arns = {kind: lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
               for kind, name in names.functions.items()}
    api_id = find_api_id(target)
    if api_id is None:
        api_id = apigw.create_api(
            Name=names.api, ProtocolType="WEBSOCKET",
            RouteSelectionExpression="$request.body.action", Tags=target.tags,
        )["ApiId"]
    integrations = {i["IntegrationUri"]: i["IntegrationId"]
                    for i in apigw.get_integrations(ApiId=api_id).get("Items", [])}
    routes = {r["RouteKey"] for r in apigw.get_routes(ApiId=api_id).get("Items", [])}
    for route_key, kind in ROUTES.items():
        uri = integration_uri(target, fn_arns[kind])
        if uri not in integrations:
            integrations[uri] = apigw.create_integration(
                ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=uri,
            )["IntegrationId"]
        if route_key not in routes:
            apigw.create_route(ApiId=api_id, RouteKey=route_key,
                               Target=f"integrations/{integrations[uri]}")
    account = target.account_id
    for name in names.functions.values():
        allow_invoke_from_api(lam, name, target.region, account, api_id)
    deployment_id = apigw.create_deployment(
        ApiId=api_id, Description="chat routes")["DeploymentId"]
    try:
        apigw.create_stage(ApiId=api_id, StageName=names.stage, DeploymentId=deployment_id,
                           Tags=target.tags)
    except apigw.exceptions.ConflictException:
        apigw.update_stage(ApiId=api_id, StageName=names.stage, DeploymentId=deployment_id)
    put_role_policy(target, api_id)
    return ChatApi(api_id, names.stage, target.websocket_url(api_id, names.stage))


STEPS = [ensure_table, ensure_role, ensure_functions, ensure_api]


def build_chat(target: Target) -> ChatApi:
    """Notebooks 01-04 in one call: table, role, the three functions, the deployed API."""
    for step in STEPS[:-1]:
        step(target)
    return ensure_api(target)

NOTEBOOKS = {
    1: "01_dynamodb_table.ipynb",
    2: "02_iam_role.ipynb",
    3: "03_lambda_functions.ipynb",
    4: "04_websocket_api.ipynb",
}


class MissingPrerequisite(RuntimeError):
    """A notebook was opened before the one that builds what it needs."""


def missing_step(target: Target) -> int | None:
    """The first notebook (1-4) whose resources are not there, or None if all are."""
    ddb, iam, lam = (target.client(s) for s in ("dynamodb", "iam", "lambda"))
    try:
        ddb.describe_table(TableName=target.names.table)
    except ddb.exceptions.ResourceNotFoundException:
        return 1
    try:
        iam.get_role(RoleName=target.names.role)
    except iam.exceptions.NoSuchEntityException:
        return 2
    for name in target.names.functions.values():
        try:
            lam.get_function(FunctionName=name)
        except lam.exceptions.ResourceNotFoundException:
            return 3
    return 4 if find_api_id(target) is None else None


def require(notebook: int, target: Target) -> None:
    """Stop with the notebook to run first if what ``notebook`` needs is missing."""
    step = missing_step(target)
    if step is not None and step < notebook:
        raise MissingPrerequisite(
            f"this notebook needs what {NOTEBOOKS[step]} builds, and it is not there "
            f"(prefix {target.prefix!r}, {target.kind} target). Run {NOTEBOOKS[step]} first, "
            f"or build everything before notebook {notebook:02d} in one call:\n"
            f"    from workshop_utils.stack import ensure_prerequisites\n"
            f"    ensure_prerequisites({notebook})"
        )


def ensure_prerequisites(notebook: int, target: Target | None = None) -> Target:
    """Build what notebooks 01 to ``notebook - 1`` build, for a learner who joins late."""
    from .target import current

    target = target or current()
    for step in STEPS[: max(0, min(notebook - 1, len(STEPS)))]:
        step(target)
    return target
