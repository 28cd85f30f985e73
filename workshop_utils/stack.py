"""The whole chat stack, step by step, as the notebooks build it: for a learner who joins late.

Notebooks 01-04 and 06 teach these calls in their cells; this module repeats them so that
``ensure_prerequisites(n)`` can bring about what notebooks before ``n`` built, the tests and
benchmarks can deploy the real handlers, and ``workshop cleanup`` knows what exists.
Every step is idempotent: it finds what is already there by its exact name, and reuses it only
if it carries the learner's own ``workshop-owner`` tag (otherwise :class:`OwnershipError`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from . import inventory, packaging, tokens
from .inventory import Found
from .ownership import OwnershipError as OwnershipError  # raised by every step below
from .ownership import claim, is_mine, refusal, require_mine
from .target import Names, Target
from .waiting import create_function_when_role_ready, wait_until_active

ROUTES = {
    "$connect": "connect",
    "$disconnect": "disconnect",
    "$default": "broadcast",
    "sendmessage": "broadcast",
}
FUNCTION_TIMEOUT_S = 10  # the handlers' SDK timeouts are sized to fit (chat_common.py)
FUNCTION_MEMORY_MB = 256
# Every log group of the series expires: a learner who walks away leaves nothing that grows.
LOG_RETENTION_DAYS = 7

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
    found = inventory.table(target, name)
    if found is not None:
        claim(target, found)
    else:
        try:
            ddb.create_table(
                TableName=name,
                AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
                KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
                Tags=tag_list(target),
            )
        except ddb.exceptions.ResourceInUseException:  # made meanwhile: whose?
            require_mine(target, "tables", name)
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
        partition=target.partition,
    )
    target.client("iam").put_role_policy(
        RoleName=names.role, PolicyName=names.policy, PolicyDocument=json.dumps(policy))
    return policy


def ensure_role(target: Target) -> str:
    """Notebook 02: the execution role the three functions share (with the account's
    permissions boundary, if ``WORKSHOP_PERMISSIONS_BOUNDARY`` names one)."""
    arn = _role(target, target.names.role,
                "Execution role of the WebSocket chat workshop's functions")
    api_id = find_api_id(target) or "*"
    put_role_policy(target, api_id)
    return arn


def _role(target: Target, name: str, description: str) -> str:
    """The role ``name`` trusting Lambda only: the learner's if it exists (else
    :class:`OwnershipError`), made tagged and with the boundary otherwise; its ARN."""
    iam = target.client("iam")
    found = inventory.role(target, name)
    if found is not None:
        return claim(target, found).arn
    try:
        return iam.create_role(
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(packaging.trust_policy()),
            Description=description,
            Tags=tag_list(target),
            **target.role_options(),
        )["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        return require_mine(target, "roles", name).arn


def ensure_log_group(target: Target, name: str) -> str:
    """A log group of the series, made before anything writes to it: tagged (so a sweep by
    tag finds it) and with a retention (so it expires). Lambda and API Gateway would create
    it themselves, untagged and kept forever. An untagged group of the learner's (one those
    services made) is tagged and given the retention; anyone else's is refused."""
    logs = target.client("logs")
    try:
        logs.create_log_group(logGroupName=name, tags=target.tags)
    except logs.exceptions.ResourceAlreadyExistsException:
        found = require_mine(target, "log groups", name)
        if found.tags != {**found.tags, **target.tags}:
            logs.tag_resource(resourceArn=found.arn, tags=target.tags)
    logs.put_retention_policy(logGroupName=name, retentionInDays=LOG_RETENTION_DAYS)
    return target.arn("logs", f"log-group:{name}")


def ensure_functions(target: Target) -> dict[str, str]:
    """Notebook 03: the three functions from ``lambda_src/``, each after its log group;
    returns kind -> function ARN. A function that exists runs the code of ``lambda_src/``
    afterwards: when its ``CodeSha256`` differs from the package's, ``update_function_code``
    (as notebook 03 does on a re-run)."""
    role_arn = target.client("iam").get_role(RoleName=target.names.role)["Role"]["Arn"]
    return {kind: _function(target, kind, role_arn, {"TABLE_NAME": target.names.table})
            for kind in target.names.functions}


def _function(target: Target, kind: str, role_arn: str, variables: dict[str, str]) -> str:
    """The function of ``lambda_src/<kind>/`` (after its log group), made or, if it is the
    learner's, brought to that code; its ARN once Active."""
    lam = target.client("lambda")
    name = target.names.function(kind)
    found = inventory.function(target, name)
    if found is not None:
        claim(target, found)
    ensure_log_group(target, Names.function_log_group(name))
    code = packaging.build_zip(kind)
    if found is not None:
        arn = found.arn
        update_code_if_changed(lam, name, code)
    else:
        arn = create_function_when_role_ready(
            lam,
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler="app.lambda_handler",
            Code={"ZipFile": code},
            Timeout=FUNCTION_TIMEOUT_S,
            MemorySize=FUNCTION_MEMORY_MB,
            Environment={"Variables": variables},
            Tags=target.tags,
        )["FunctionArn"]
    wait_until_active(lam, name)
    return arn


def update_code_if_changed(lam: Any, function_name: str, code: bytes) -> bool:
    """Deploy ``code`` to the function unless it already runs exactly that package (same
    ``CodeSha256``); True if it was updated. Waits for the update (``function_updated_v2``):
    until then the function still runs its old code (``LastUpdateStatus`` InProgress).
    Introduced in notebook 03."""
    deployed = lam.get_function_configuration(FunctionName=function_name)["CodeSha256"]
    if deployed == packaging.code_sha256(code):
        return False
    lam.update_function_code(FunctionName=function_name, ZipFile=code)
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    return True


def find_api(target: Target) -> Found | None:
    """The learner's chat API, found by its exact name and owner (a restarted kernel finds
    what it made before); :class:`OwnershipError` if only someone else's has that name."""
    found = inventory.apis(target, target.names.api)
    mine = [api for api in found if is_mine(target, api)]
    if mine:
        return mine[0]
    if found:
        raise refusal(target, found[0])
    return None


def find_api_id(target: Target) -> str | None:
    """The learner's chat API id (see :func:`find_api`), or None before notebook 04."""
    api = find_api(target)
    return api.api_id if api else None


def integration_uri(target: Target, function_arn: str) -> str:
    return (f"arn:{target.partition}:apigateway:{target.region}:lambda:path/2015-03-31/"
            f"functions/{function_arn}/invocations")


def allow_invoke_from_api(lam: Any, function_name: str, region: str, account: str,
                          api_id: str, statement_id: str | None = None, *,
                          partition: str = "aws") -> None:
    """Let API Gateway invoke the function for any stage and route of ``api_id`` (idempotent:
    the statement id is per API, and a second add_permission meets ResourceConflictException)."""
    try:
        lam.add_permission(
            FunctionName=function_name, StatementId=statement_id or f"apigateway-{api_id}",
            Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:{partition}:execute-api:{region}:{account}:{api_id}/*",
        )
    except lam.exceptions.ResourceConflictException:
        pass


def _all_items(apigw: Any, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
    return [item for page in apigw.get_paginator(operation).paginate(**kwargs)
            for item in page.get("Items", [])]


def ensure_api(target: Target) -> ChatApi:
    """Notebook 04: the WebSocket API, its routes and permissions, deployed to a stage."""
    apigw = target.client("apigatewayv2")
    lam = target.client("lambda")
    names = target.names
    fn_arns = {kind: require_mine(target, "functions", name).arn
               for kind, name in names.functions.items()}
    api_id = find_api_id(target)
    if api_id is None:
        api_id = apigw.create_api(
            Name=names.api, ProtocolType="WEBSOCKET",
            RouteSelectionExpression="$request.body.action", Tags=target.tags,
        )["ApiId"]
    integrations = {i["IntegrationUri"]: i["IntegrationId"]
                    for i in _all_items(apigw, "get_integrations", ApiId=api_id)}
    routes = {r["RouteKey"] for r in _all_items(apigw, "get_routes", ApiId=api_id)}
    for route_key, kind in ROUTES.items():
        uri = integration_uri(target, fn_arns[kind])
        if uri not in integrations:
            # A Lambda integration is invoked with POST; CloudFormation's
            # AWS::ApiGatewayV2::Integration says WebSocket APIs must set it.
            integrations[uri] = apigw.create_integration(
                ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationMethod="POST",
                IntegrationUri=uri,
            )["IntegrationId"]
        if route_key not in routes:
            apigw.create_route(ApiId=api_id, RouteKey=route_key,
                               Target=f"integrations/{integrations[uri]}")
    account = target.account_id
    for name in names.functions.values():
        allow_invoke_from_api(lam, name, target.region, account, api_id,
                              partition=target.partition)
    deployment_id = apigw.create_deployment(
        ApiId=api_id, Description="chat routes")["DeploymentId"]
    try:
        apigw.create_stage(ApiId=api_id, StageName=names.stage, DeploymentId=deployment_id,
                           Tags=target.tags)
    except apigw.exceptions.ConflictException:
        apigw.update_stage(ApiId=api_id, StageName=names.stage, DeploymentId=deployment_id)
    put_role_policy(target, api_id)
    return ChatApi(api_id, names.stage, target.websocket_url(api_id, names.stage))


def ensure_access_log_group(target: Target) -> str:
    """Notebook 07: the API's access log group (tagged, with a retention); returns its ARN."""
    return ensure_log_group(target, target.names.access_log_group)


# --- notebook 06: the $connect authorizer ----------------------------------------------------

AUTHORIZER = "authorizer"  # the function's kind: lambda_src/authorizer/, Names.function(kind)
CONNECT_ROUTE = "$connect"


def ensure_token_secret(target: Target, *, rotate: bool = False) -> bool:
    """Notebook 06: the SSM SecureString that signs chat tokens, made once with a random value
    and kept on later calls (every token minted from it keeps working); ``rotate=True`` puts a
    new value (tokens minted before stop working). True if a value was put. The value is never
    returned or printed. ``Tags`` cannot go with ``Overwrite`` (SSM PutParameter), so a rotation
    keeps the tags the parameter was made with."""
    ssm = target.client("ssm")
    name = target.names.token_parameter
    try:
        ssm.put_parameter(Name=name, Value=tokens.new_secret(), Type="SecureString",
                          Description="Signs the chat's tokens (the $connect authorizer)",
                          Tags=tag_list(target))
        return True
    except ssm.exceptions.ParameterAlreadyExists:
        require_mine(target, "parameters", name)  # someone else's: OwnershipError
    if not rotate:
        return False
    ssm.put_parameter(Name=name, Value=tokens.new_secret(), Type="SecureString", Overwrite=True)
    return True


def ensure_authorizer_role(target: Target) -> str:
    """Notebook 06: the authorizer function's own role, trusting Lambda only, whose inline
    policy (``lambda_src/authorizer-policy.json``) may read the token secret and write the
    function's log group, and nothing of the chat's."""
    names = target.names
    arn = _role(target, names.authorizer_role, "Execution role of the chat's $connect authorizer")
    policy = packaging.render_authorizer_policy(
        region=target.region, account_id=target.account_id,
        parameter_name=names.token_parameter, function_name=names.function(AUTHORIZER),
        partition=target.partition)
    target.client("iam").put_role_policy(
        RoleName=names.authorizer_role, PolicyName=names.authorizer_policy,
        PolicyDocument=json.dumps(policy))
    return arn


def ensure_authorizer_function(target: Target) -> str:
    """Notebook 06: the authorizer function from ``lambda_src/authorizer/``, after its log
    group, with its own role and the secret's name in ``SECRET_PARAMETER``; returns its ARN.
    An existing one (the learner's) runs ``lambda_src/``'s code afterwards, as in
    :func:`ensure_functions`."""
    names = target.names
    role_arn = target.client("iam").get_role(RoleName=names.authorizer_role)["Role"]["Arn"]
    return _function(target, AUTHORIZER, role_arn, {"SECRET_PARAMETER": names.token_parameter})


def find_authorizer_id(target: Target, api_id: str) -> str | None:
    """The id of the API's authorizer named ``names.authorizer``, or None (an API's
    authorizers belong to it: the API's owner is theirs)."""
    for item in _all_items(target.client("apigatewayv2"), "get_authorizers", ApiId=api_id):
        if item.get("Name") == target.names.authorizer:
            return item["AuthorizerId"]
    return None


def connect_route_id(target: Target, api_id: str) -> str:
    routes = _all_items(target.client("apigatewayv2"), "get_routes", ApiId=api_id)
    return next(r["RouteId"] for r in routes if r["RouteKey"] == CONNECT_ROUTE)


def ensure_authorizer(target: Target) -> str:
    """Notebook 06 in one call: the secret, the authorizer's role and function, the REQUEST
    authorizer on ``$connect`` (reading ``?token=``), API Gateway's permission to invoke it
    (its own ``/authorizers/<id>`` SourceArn, nothing wider), and a deployment to the stage
    (a stage that points at a deployment serves the authorizer only once redeployed).
    Returns the authorizer id."""
    apigw = target.client("apigatewayv2")
    lam = target.client("lambda")
    names = target.names
    ensure_token_secret(target)
    ensure_authorizer_role(target)
    function_arn = ensure_authorizer_function(target)
    api_id = find_api_id(target)
    if api_id is None:
        raise MissingPrerequisite(f"no API {names.api!r}: build it first ({NOTEBOOKS[4]})")
    authorizer_id = find_authorizer_id(target, api_id)
    if authorizer_id is None:
        authorizer_id = apigw.create_authorizer(
            ApiId=api_id, Name=names.authorizer, AuthorizerType="REQUEST",
            AuthorizerUri=integration_uri(target, function_arn),
            IdentitySource=list(tokens.TOKEN_IDENTITY_SOURCE),
        )["AuthorizerId"]
    try:
        lam.add_permission(
            FunctionName=names.function(AUTHORIZER),
            StatementId=f"apigateway-authorizer-{authorizer_id}",
            Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
            SourceArn=target.arn("execute-api", f"{api_id}/authorizers/{authorizer_id}"),
        )
    except lam.exceptions.ResourceConflictException:
        pass
    apigw.update_route(ApiId=api_id, RouteId=connect_route_id(target, api_id),
                       AuthorizationType="CUSTOM", AuthorizerId=authorizer_id)
    deployment_id = apigw.create_deployment(
        ApiId=api_id, Description="$connect behind the authorizer")["DeploymentId"]
    apigw.update_stage(ApiId=api_id, StageName=names.stage, DeploymentId=deployment_id)
    return authorizer_id


def authorizer_missing(target: Target) -> bool:
    """True while notebook 06's work is not done: no token secret, no authorizer function, or
    ``$connect`` without the workshop's authorizer (what the control plane has; it is live once
    deployed, which :func:`ensure_authorizer` does in the same step)."""
    names = target.names
    found = inventory.parameter(target, names.token_parameter)
    if found is None:
        return True
    claim(target, found)
    found = inventory.function(target, names.function(AUTHORIZER))
    if found is None:
        return True
    claim(target, found)
    api_id = find_api_id(target)
    return api_id is None or not tokens.expects_workshop_token(target, api_id)


# What each notebook builds, by its number (05 and 07 build nothing a later one needs).
STEPS = {1: ensure_table, 2: ensure_role, 3: ensure_functions, 4: ensure_api,
         6: ensure_authorizer}


def build_chat(target: Target) -> ChatApi:
    """Notebooks 01-04 in one call: table, role, the three functions, the deployed API (open:
    no authorizer; :func:`ensure_authorizer` is notebook 06)."""
    ensure_table(target)
    ensure_role(target)
    ensure_functions(target)
    return ensure_api(target)


def build_secure_chat(target: Target) -> ChatApi:
    """Notebooks 01-04 and 06: the chat with the authorizer on ``$connect``."""
    api = build_chat(target)
    ensure_authorizer(target)
    return api


NOTEBOOKS = {
    1: "01_dynamodb_table.ipynb",
    2: "02_iam_role.ipynb",
    3: "03_lambda_functions.ipynb",
    4: "04_websocket_api.ipynb",
    6: "06_secure_chat.ipynb",
}


class MissingPrerequisite(RuntimeError):
    """A notebook was opened before the one that builds what it needs."""


def missing_step(target: Target) -> int | None:
    """The first notebook (of :data:`NOTEBOOKS`) whose resources are not there, or None if all
    are. A resource with the learner's name that is not theirs raises :class:`OwnershipError`."""
    names = target.names
    found = inventory.table(target, names.table)
    if found is None:
        return 1
    claim(target, found)
    found = inventory.role(target, names.role)
    if found is None:
        return 2
    claim(target, found)
    for name in names.functions.values():
        found = inventory.function(target, name)
        if found is None:
            return 3
        claim(target, found)
    if find_api_id(target) is None:
        return 4
    return 6 if authorizer_missing(target) else None


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
    for number, step in STEPS.items():
        if number < notebook:
            step(target)
    return target
