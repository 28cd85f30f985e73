"""SPEC-gateway "Handshake": Lambda REQUEST authorizers on ``$connect``, control plane and gateway.

Every rule is checked through the running local cloud, with boto3 and real websockets clients.
Where AWS's behaviour comes from (the research note is /work/research/authorizer.md):

- WS-AUTH: Developer Guide, "Control access to WebSocket APIs with AWS Lambda REQUEST
  authorizers" (apigateway-websocket-api-lambda-auth): only ``$connect``; the event and its
  ``methodArn``; "you'll receive a 401 response" without a valid identity; "Changing
  authorizer in $connect doesn't affect the already connected client".
- WS-ROUTES: "$connect and $disconnect routes": "If authorization fails on $connect, the
  connection will not be established, and the client will receive a 401 or 403 response."
- OUTPUT: "Output from an Amazon API Gateway Lambda authorizer": principalId, policyDocument,
  context ("you cannot set a JSON object or array as a valid value of any key"), passed to the
  backend as ``requestContext.authorizer.<key>``.
- MODEL: botocore's apigatewayv2 model: IdentitySource ("verifying all of the
  identity-related request parameters are present in the request, not null, and non-empty.
  Only when this is true does the authorizer invoke the authorizer Lambda function.
  Otherwise, it returns a 401 Unauthorized response without calling the Lambda function"),
  the HTTP-only members, AuthorizationType (NONE, AWS_IAM, CUSTOM for WebSocket APIs).
- WS-QUOTA: "AWS Lambda authorizer result size: 8 KB".
- WS-LOG: the WebSocket access-log variables ``$context.authorizer.*``, ``authorize.*``.
- Observed (public reports, exact AWS texts): hashicorp/terraform-provider-aws PR #15232
  ("AuthorizerResultTtlInSeconds cannot be set for WEBSOCKET protocol Apis."); a CloudFormation
  error quoted by neverendingqs' serverless-websocket-example write-up ("Currently,
  authorization is restricted to the $connect route only", BadRequestException);
  terraform-provider-aws #17497 ("Invalid authorizer ID specified. Setting the authorization
  type to CUSTOM or COGNITO_USER_POOLS requires a valid authorizer."); sst #5586 (409
  "Cannot delete authorizer '<name>', is referenced in route: ..."); serverless/examples #557
  (a malformed answer or a raise gives 500); powertools-lambda-python #5800 (a resource
  ``…/prod/*/*`` does not match ``…/prod/$connect``: 403); serverless-offline #1379 (every
  later event carries ``requestContext.authorizer``).
- REST (the WebSocket page: "similar to that for REST APIs, with the following exceptions"):
  an error message exactly ``Unauthorized`` is 401; the refusal bodies.

What AWS does not say is marked "chosen" where it is checked.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud

from . import kit

ACCOUNT = "123456789012"
TTL_REFUSED = "AuthorizerResultTtlInSeconds cannot be set for WEBSOCKET protocol Apis."
ONLY_CONNECT = "Currently, authorization is restricted to the $connect route only"
INVALID_AUTHORIZER = ("Invalid authorizer ID specified. Setting the authorization type to "
                      "CUSTOM or COGNITO_USER_POOLS requires a valid authorizer.")

# An authorizer whose answer the client chooses with ?mode=... (the test's own switch; AWS's
# authorizers decide from the token). It prints its event so tests can see what it got.
AUTHORIZER_SOURCE = """
import json
import time

def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}

def statement(effect, resource, action="execute-api:Invoke"):
    return {"Action": action, "Effect": effect, "Resource": resource}

def handler(event, context):
    print("EVENT " + json.dumps(event))
    query = event.get("queryStringParameters") or {}
    mode = query.get("mode", "allow")
    arn = event["methodArn"]
    stage = arn.rsplit("/", 1)[0]  # arn:aws:execute-api:{region}:{account}:{api}/{stage}
    user = query.get("user") or query.get("token", "")  # who the token says it is
    answer = {"principalId": "user-" + user,
              "policyDocument": policy(statement("Allow", arn)),
              "context": {"name": user, "level": 3, "admin": False}}
    if mode == "deny":
        answer["policyDocument"] = policy(statement("Deny", arn))
    elif mode == "elsewhere":
        answer["policyDocument"] = policy(statement("Allow", stage + "/$default"))
    elif mode == "stage-wildcard":
        answer["policyDocument"] = policy(statement("Allow", stage + "/*"))
    elif mode == "rest-wildcard":
        answer["policyDocument"] = policy(statement("Allow", stage + "/*/*"))
    elif mode == "deny-wins":
        answer["policyDocument"] = policy(statement("Allow", "*"), statement("Deny", arn))
    elif mode == "action-wildcard":
        answer["policyDocument"] = policy(statement("Allow", arn, "Execute-API:*"))
    elif mode == "unauthorized":
        raise Exception("Unauthorized")
    elif mode == "raise":
        raise RuntimeError("the authorizer has a bug")
    elif mode == "no-principal":
        del answer["principalId"]
    elif mode == "no-policy":
        del answer["policyDocument"]
    elif mode == "nested-context":
        answer["context"]["user"] = {"name": user}
    elif mode == "not-an-object":
        return "Allow"
    elif mode == "too-big":
        answer["context"]["padding"] = "x" * 9000
    elif mode == "slow":
        time.sleep(60)  # longer than the function's own timeout
    return answer
"""


@pytest.fixture(scope="module")
def fns(cloud: LocalCloud) -> dict[str, str]:
    """The echo integration and the switchable authorizer (ARNs)."""
    return {
        "echo": kit.deploy_function(cloud, "gwa-echo", kit.ECHO_SOURCE),
        "auth": kit.deploy_function(cloud, "gwa-auth", AUTHORIZER_SOURCE, timeout=1 * SECOND),
    }


@pytest.fixture(scope="module")
def api(cloud: LocalCloud, fns: dict[str, str]) -> dict[str, Any]:
    """$connect, a two-way $default and $disconnect echoing their event, behind gwa-auth on
    ``?token=`` (AutoDeploy: what is attached is served)."""
    built = kit.build_websocket_api(
        cloud, "gwa", {"$connect": fns["echo"], "$default": fns["echo"],
                       "$disconnect": fns["echo"]},
        two_way=("$default",), auto_deploy=True)
    built["authorizer_id"] = kit.attach_authorizer(cloud, built, fns["auth"])
    return built


@pytest.fixture
def apigw(cloud: LocalCloud) -> Any:
    return cloud.client("apigatewayv2")


def websocket_api(apigw: Any, name: str) -> tuple[str, str]:
    """A bare WEBSOCKET API and a MOCK integration of it: (api id, integration id)."""
    api_id = apigw.create_api(Name=name, ProtocolType="WEBSOCKET",
                              RouteSelectionExpression="$request.body.action")["ApiId"]
    integration_id = apigw.create_integration(ApiId=api_id, IntegrationType="MOCK")[
        "IntegrationId"]
    return api_id, integration_id


def request_authorizer(apigw: Any, cloud: LocalCloud, api_id: str, **fields: Any) -> str:
    """create_authorizer with the usual REQUEST fields, ``fields`` overriding them."""
    arn = f"arn:aws:lambda:{cloud.region}:{ACCOUNT}:function:gwa-auth"
    args = {"ApiId": api_id, "Name": "auth", "AuthorizerType": "REQUEST",
            "AuthorizerUri": kit.lambda_integration_uri(cloud.region, arn),
            "IdentitySource": ["route.request.querystring.token"], **fields}
    return apigw.create_authorizer(**args)["AuthorizerId"]


def refused_with(apigw: Any, call: str, **kwargs: Any) -> tuple[str, str]:
    """(error code, message) of an apigatewayv2 call that must fail."""
    with pytest.raises(apigw.exceptions.ClientError) as refused:
        getattr(apigw, call)(**kwargs)
    error = refused.value.response["Error"]
    return error["Code"], error["Message"]


async def handshake(url: str, **kwargs: Any) -> tuple[int, bytes]:
    """The status and body of a handshake: 101 (and closed at once) or the refusal's."""
    try:
        async with connect(url, open_timeout=20 * SECOND, **kwargs):
            return 101, b""
    except InvalidStatus as refused:
        return refused.response.status_code, bytes(refused.response.body)


def status_of(url: str, **kwargs: Any) -> int:
    return kit.run_async(handshake(url, **kwargs))[0]


async def chat(url: str, message: str = "hello") -> dict[str, Any]:
    """Connect, send ``message``, return the MESSAGE event echoed back; then close."""
    async with connect(url, open_timeout=20 * SECOND) as ws:
        await ws.send(message)
        return json.loads(await ws.recv())


def probe() -> str:
    """A query parameter value no other handshake uses, to find one in the authorizer's log."""
    return uuid.uuid4().hex


def authorizer_events(cloud: LocalCloud, marker: str, count: int = 1) -> list[dict[str, Any]]:
    """What gwa-auth was invoked with for the handshakes whose ``?probe=`` is ``marker``."""
    return kit.logged_events(cloud, "gwa-auth", count=count, where=lambda e: (
        (e.get("queryStringParameters") or {}).get("probe") == marker))


def not_invoked(cloud: LocalCloud, url: str, marker: str) -> bool:
    """Whether gwa-auth never saw ``marker``: checked once a later handshake's invocation is in
    its log (a function's log is written before the gateway answers, so nothing is pending)."""
    later = probe()
    assert status_of(f"{url}?token=later&probe={later}") == 101
    authorizer_events(cloud, later)
    seen = kit.logged_events(cloud, "gwa-auth", count=0)
    return all((e.get("queryStringParameters") or {}).get("probe") != marker for e in seen)


# --- the control plane ---------------------------------------------------------------------


def test_a_request_authorizer_is_created_read_listed_updated_and_deleted(
        cloud: LocalCloud, apigw: Any) -> None:
    """create/get/get_authorizers/update/delete_authorizer answer as AWS's model says (moto
    has no get_authorizers, and answers null for every member a WebSocket authorizer lacks)."""
    api_id, _ = websocket_api(apigw, "gwa-crud")
    authorizer_id = request_authorizer(apigw, cloud, api_id)
    got = apigw.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
    got.pop("ResponseMetadata")
    assert got == {
        "AuthorizerId": authorizer_id, "AuthorizerType": "REQUEST", "Name": "auth",
        "AuthorizerUri": kit.lambda_integration_uri(
            cloud.region, f"arn:aws:lambda:{cloud.region}:{ACCOUNT}:function:gwa-auth"),
        "IdentitySource": ["route.request.querystring.token"]}
    assert [a["AuthorizerId"] for a in apigw.get_authorizers(ApiId=api_id)["Items"]] == [
        authorizer_id]
    updated = apigw.update_authorizer(ApiId=api_id, AuthorizerId=authorizer_id,
                                      IdentitySource=["route.request.header.Authorization"])
    assert updated["IdentitySource"] == ["route.request.header.Authorization"]
    assert updated["Name"] == "auth"
    apigw.delete_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
    assert apigw.get_authorizers(ApiId=api_id)["Items"] == []
    for call in ("get_authorizer", "update_authorizer", "delete_authorizer"):
        code, message = refused_with(apigw, call, ApiId=api_id, AuthorizerId=authorizer_id)
        assert (code, message) == ("NotFoundException",
                                   f"Invalid Authorizer identifier specified {authorizer_id}")


@pytest.mark.parametrize(("fields", "message"), [
    ({"AuthorizerResultTtlInSeconds": 0}, TTL_REFUSED),  # observed: TF PR #15232, SST #5089
    ({"AuthorizerResultTtlInSeconds": 300}, TTL_REFUSED),
    # The model: "Supported only for HTTP APIs"; AWS's wording is not known (chosen: the TTL's)
    ({"AuthorizerPayloadFormatVersion": "2.0"},
     "AuthorizerPayloadFormatVersion cannot be set for WEBSOCKET protocol Apis."),
    ({"EnableSimpleResponses": True},
     "EnableSimpleResponses cannot be set for WEBSOCKET protocol Apis."),
    ({"JwtConfiguration": {"Audience": ["a"], "Issuer": "https://issuer.example"}},
     "JwtConfiguration cannot be set for WEBSOCKET protocol Apis."),
])
def test_http_api_only_authorizer_fields_are_refused_on_websocket_apis(
        cloud: LocalCloud, apigw: Any, fields: dict[str, Any], message: str) -> None:
    """What AWS supports only for HTTP API authorizers is a BadRequestException on a WEBSOCKET
    API, on create and on update (so WebSocket authorizers are never cached)."""
    api_id, _ = websocket_api(apigw, "gwa-http-only")
    assert refused_with(apigw, "create_authorizer", ApiId=api_id, Name="auth",
                        AuthorizerType="REQUEST", IdentitySource=[],
                        AuthorizerUri=kit.lambda_integration_uri(cloud.region, "arn:fn"),
                        **fields) == ("BadRequestException", message)
    authorizer_id = request_authorizer(apigw, cloud, api_id)
    assert refused_with(apigw, "update_authorizer", ApiId=api_id, AuthorizerId=authorizer_id,
                        **fields) == ("BadRequestException", message)
    assert apigw.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id).get(
        "AuthorizerResultTtlInSeconds") is None


@pytest.mark.parametrize(("fields", "says"), [
    # The model: JWT is "supported only for HTTP APIs" (chosen wording).
    ({"AuthorizerType": "JWT"}, "AuthorizerType JWT is not supported for WEBSOCKET"),
    # The model: "must be a well-formed Lambda function URI" (chosen wording).
    ({"AuthorizerUri": "arn:aws:lambda:us-east-1:123456789012:function:gwa-auth"},
     "AuthorizerUri must be a well-formed Lambda function URI"),
    # The model: route.request.header.X / querystring.X, stageVariables.X, context.X for
    # WebSocket APIs, "$request..." for HTTP APIs (chosen wording).
    ({"IdentitySource": ["$request.querystring.token"]}, "Invalid identity source"),
    ({"IdentitySource": ["route.request.body.token"]}, "Invalid identity source"),
])
def test_authorizers_websocket_apis_cannot_use_are_refused(
        cloud: LocalCloud, apigw: Any, fields: dict[str, Any], says: str) -> None:
    """A JWT authorizer, an AuthorizerUri that is not a Lambda function URI and an identity
    source in HTTP API form are refused with a BadRequestException that says what to use."""
    api_id, _ = websocket_api(apigw, "gwa-refused")
    with pytest.raises(apigw.exceptions.BadRequestException, match=says):
        request_authorizer(apigw, cloud, api_id, **fields)
    assert apigw.get_authorizers(ApiId=api_id)["Items"] == []


def test_custom_authorization_needs_an_authorizer_of_the_api(cloud: LocalCloud,
                                                             apigw: Any) -> None:
    """CUSTOM without an AuthorizerId, with an unknown one or with another API's is AWS's
    BadRequestException (observed: terraform-provider-aws #17497)."""
    api_id, integration_id = websocket_api(apigw, "gwa-needs-authorizer")
    other_api, _ = websocket_api(apigw, "gwa-other-api")
    others = request_authorizer(apigw, cloud, other_api)
    for extra in ({}, {"AuthorizerId": "nosuchid"}, {"AuthorizerId": others}):
        assert refused_with(apigw, "create_route", ApiId=api_id, RouteKey="$connect",
                            Target=f"integrations/{integration_id}",
                            AuthorizationType="CUSTOM", **extra) == (
            "BadRequestException", INVALID_AUTHORIZER)
    assert apigw.get_routes(ApiId=api_id)["Items"] == []


def test_authorization_is_only_for_the_connect_route(cloud: LocalCloud, apigw: Any) -> None:
    """CUSTOM or AWS_IAM on any route but $connect, or a route key changed away from $connect
    on an authorized route, is AWS's BadRequestException (WS-AUTH: "only for the $connect
    route"; the text observed in a CloudFormation error)."""
    api_id, integration_id = websocket_api(apigw, "gwa-only-connect")
    authorizer_id = request_authorizer(apigw, cloud, api_id)
    target = f"integrations/{integration_id}"
    for key, extra in (("$default", {"AuthorizationType": "CUSTOM",
                                     "AuthorizerId": authorizer_id}),
                       ("sendmessage", {"AuthorizationType": "CUSTOM",
                                        "AuthorizerId": authorizer_id}),
                       ("$disconnect", {"AuthorizationType": "AWS_IAM"})):
        assert refused_with(apigw, "create_route", ApiId=api_id, RouteKey=key, Target=target,
                            **extra) == ("BadRequestException", ONLY_CONNECT)
    connect_route = apigw.create_route(ApiId=api_id, RouteKey="$connect", Target=target,
                                       AuthorizationType="CUSTOM", AuthorizerId=authorizer_id)
    assert (connect_route["AuthorizationType"], connect_route["AuthorizerId"]) == (
        "CUSTOM", authorizer_id)
    assert refused_with(apigw, "update_route", ApiId=api_id, RouteId=connect_route["RouteId"],
                        RouteKey="$default") == ("BadRequestException", ONLY_CONNECT)
    default_route = apigw.create_route(ApiId=api_id, RouteKey="$default", Target=target)
    assert refused_with(apigw, "update_route", ApiId=api_id, RouteId=default_route["RouteId"],
                        AuthorizationType="CUSTOM", AuthorizerId=authorizer_id) == (
        "BadRequestException", ONLY_CONNECT)


def test_aws_iam_on_connect_is_refused_naming_what_is_supported(cloud: LocalCloud,
                                                                apigw: Any) -> None:
    """AWS_IAM on $connect is refused by create_route and update_route (ours: the local
    gateway does not check SigV4-signed handshakes, and accepting it unenforced would let
    anyone in); JWT is not a WebSocket authorization type at all (the model)."""
    api_id, integration_id = websocket_api(apigw, "gwa-aws-iam")
    target = f"integrations/{integration_id}"
    code, message = refused_with(apigw, "create_route", ApiId=api_id, RouteKey="$connect",
                                 Target=target, AuthorizationType="AWS_IAM")
    assert code == "BadRequestException"
    assert "AWS_IAM is not supported by the local cloud" in message
    assert "NONE, or CUSTOM with a Lambda REQUEST authorizer" in message
    route_id = apigw.create_route(ApiId=api_id, RouteKey="$connect", Target=target)["RouteId"]
    assert refused_with(apigw, "update_route", ApiId=api_id, RouteId=route_id,
                        AuthorizationType="AWS_IAM") == (code, message)
    code, message = refused_with(apigw, "update_route", ApiId=api_id, RouteId=route_id,
                                 AuthorizationType="JWT")
    assert code == "BadRequestException" and "use NONE, AWS_IAM or CUSTOM" in message
    route = apigw.get_route(ApiId=api_id, RouteId=route_id)
    assert route.get("AuthorizationType") in (None, "NONE")


def test_an_authorizer_a_route_uses_cannot_be_deleted_until_detached(
        cloud: LocalCloud, apigw: Any) -> None:
    """delete_authorizer of an authorizer $connect uses is a ConflictException naming the
    route (observed: sst #5586); AuthorizationType NONE detaches it (observed:
    cloudformation-coverage-roadmap #2184), then it can be deleted."""
    api_id, integration_id = websocket_api(apigw, "gwa-in-use")
    authorizer_id = request_authorizer(apigw, cloud, api_id)
    route_id = apigw.create_route(ApiId=api_id, RouteKey="$connect",
                                  Target=f"integrations/{integration_id}",
                                  AuthorizationType="CUSTOM",
                                  AuthorizerId=authorizer_id)["RouteId"]
    assert refused_with(apigw, "delete_authorizer", ApiId=api_id,
                        AuthorizerId=authorizer_id) == (
        "ConflictException", "Cannot delete authorizer 'auth', is referenced in route: $connect")
    detached = apigw.update_route(ApiId=api_id, RouteId=route_id, AuthorizationType="NONE")
    assert detached["AuthorizationType"] == "NONE" and "AuthorizerId" not in detached
    apigw.delete_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
    assert apigw.get_authorizers(ApiId=api_id)["Items"] == []


# --- the handshake ---------------------------------------------------------------------------


def test_a_missing_or_empty_identity_source_is_401_without_invoking_the_authorizer(
        cloud: LocalCloud, api: dict[str, Any]) -> None:
    """No ``token`` in the query string, or an empty one: 401 and the authorizer is never
    invoked (MODEL: "present in the request, not null, and non-empty"; WS-AUTH's wscat
    answer 401). Body: REST's (chosen)."""
    for query in ("", "token=&", "name=ann&"):
        marker = probe()
        assert kit.run_async(handshake(f"{api['url']}?{query}probe={marker}")) == (
            401, b'{"message":"Unauthorized"}')
        assert not_invoked(cloud, api["url"], marker)


def test_every_identity_source_must_be_present(cloud: LocalCloud, fns: dict[str, str]) -> None:
    """With a header, a stage variable and a context variable as identity sources too, each
    must be there: the header matched in any case (chosen: HTTP's rule), the stage variable
    from the stage, which the event's ``stageVariables`` shows; with none, every handshake
    invokes the authorizer."""
    built = kit.build_websocket_api(cloud, "gwa-sources", {"$connect": fns["echo"]},
                                    auto_deploy=True,
                                    stage_kwargs={"StageVariables": {"realm": "chat"}})
    authorizer_id = kit.attach_authorizer(cloud, built, fns["auth"], identity_source=(
        "route.request.querystring.token", "route.request.header.X-Auth",
        "stageVariables.realm", "context.identity.sourceIp"))
    marker = probe()
    url = f"{built['url']}?token=ann&probe={marker}"
    assert status_of(url) == 401
    assert status_of(url, additional_headers={"X-Auth": ""}) == 401
    assert status_of(url, additional_headers={"x-auth": "yes"}) == 101
    assert authorizer_events(cloud, marker)[0]["stageVariables"] == {"realm": "chat"}
    cloud.client("apigatewayv2").update_authorizer(
        ApiId=built["api_id"], AuthorizerId=authorizer_id,
        IdentitySource=["stageVariables.missing"])
    assert status_of(url) == 401
    assert len(authorizer_events(cloud, marker)) == 1  # only the handshake that had them all
    # No identity source at all: invoked for every handshake (observed: serverless/examples
    # #557, "identitySource: [] // No identity source, leave it up to the handler").
    cloud.client("apigatewayv2").update_authorizer(
        ApiId=built["api_id"], AuthorizerId=authorizer_id, IdentitySource=[])
    assert status_of(f"{built['url']}?probe={marker}") == 101
    assert len(authorizer_events(cloud, marker, count=2)) == 2


def test_the_authorizer_gets_the_request_event_aws_sends(cloud: LocalCloud,
                                                         api: dict[str, Any]) -> None:
    """The REQUEST event is WS-AUTH's example: its keys in that order, methodArn ending in
    ``/$connect``, the handshake's headers (Connection, Upgrade and content-length too, as in
    the example and localstack#7191's capture; sorted as there), query maps, stageVariables
    ``{}``, and the CONNECT requestContext of the $connect event that follows (same
    connection and request id: chosen)."""
    marker = probe()
    message = kit.run_async(chat(f"{api['url']}?token=ann&probe={marker}&room=1&room=2"))
    cid = message["requestContext"]["connectionId"]
    event = authorizer_events(cloud, marker)[0]
    assert list(event) == ["type", "methodArn", "headers", "multiValueHeaders",
                           "queryStringParameters", "multiValueQueryStringParameters",
                           "stageVariables", "requestContext"]
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == (f"arn:aws:execute-api:{cloud.region}:{ACCOUNT}:"
                                  f"{api['api_id']}/{api['stage']}/$connect")
    headers = event["headers"]
    assert headers["Upgrade"] == "websocket" and headers["Connection"].lower() == "upgrade"
    assert headers["content-length"] == "0"
    assert headers["Host"] == f"{api['api_id']}.execute-api.{cloud.region}.amazonaws.com"
    assert headers["X-Forwarded-Proto"] == "https" and headers["X-Forwarded-Port"] == "443"
    assert list(headers) == sorted(headers, key=str.lower)
    assert event["multiValueHeaders"] == {k: [v] for k, v in headers.items()}
    assert event["queryStringParameters"] == {"token": "ann", "probe": marker, "room": "2"}
    assert event["multiValueQueryStringParameters"]["room"] == ["1", "2"]
    assert event["stageVariables"] == {}
    assert "body" not in event and "pathParameters" not in event
    connect_event = kit.logged_events(cloud, "gwa-echo", where=lambda e: (
        e["requestContext"]["connectionId"] == cid
        and e["requestContext"]["eventType"] == "CONNECT"))[0]
    expected = dict(connect_event["requestContext"])
    expected.pop("authorizer")
    assert event["requestContext"] == expected
    assert connect_event["headers"]["X-Amzn-Trace-Id"] == headers["X-Amzn-Trace-Id"]


def test_the_authorizer_event_carries_the_serving_stage_s_variables(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Two stages of one deployment with their own StageVariables (stage variables belong to
    the stage, not the deployment: the Developer Guide's "Setting up stage variables for a
    WebSocket API"): the REQUEST event's ``stageVariables`` (WS-AUTH's example has the key) is
    the serving stage's map, as the later integration events' is; a ``stageVariables.room``
    identity source is read from that stage too (MODEL's IdentitySource forms), so on a stage
    without ``room`` the handshake is 401 and the authorizer is not invoked."""
    apigw = cloud.client("apigatewayv2")
    built = kit.build_websocket_api(
        cloud, "gwa-stage-vars", {"$connect": fns["echo"], "$default": fns["echo"]},
        two_way=("$default",), stage="blue", stage_kwargs={"StageVariables": {
            "room": "blue-room", "colour": "blue"}})
    kit.attach_authorizer(cloud, built, fns["auth"], identity_source=(
        "route.request.querystring.token", "stageVariables.room"))
    deployment = apigw.create_deployment(ApiId=built["api_id"])["DeploymentId"]
    apigw.update_stage(ApiId=built["api_id"], StageName="blue", DeploymentId=deployment)
    apigw.create_stage(ApiId=built["api_id"], StageName="green", DeploymentId=deployment,
                       StageVariables={"room": "green-room"})
    apigw.create_stage(ApiId=built["api_id"], StageName="plain", DeploymentId=deployment)
    variables = {"blue": {"room": "blue-room", "colour": "blue"},
                 "green": {"room": "green-room"}}
    for stage, expected in variables.items():
        marker = probe()
        url = f"{cloud.websocket_url(built['api_id'], stage)}?token=ann&probe={marker}"
        message = kit.run_async(chat(url))
        (event,) = authorizer_events(cloud, marker)
        assert event["requestContext"]["stage"] == stage
        assert event["stageVariables"] == expected
        assert message["stageVariables"] == expected  # the integration's, same stage
    marker = probe()
    plain = cloud.websocket_url(built["api_id"], "plain")
    assert status_of(f"{plain}?token=ann&probe={marker}") == 401
    assert not_invoked(cloud, cloud.websocket_url(built["api_id"], "blue"), marker)


def test_an_allowed_connection_carries_the_authorizer_context_in_every_event(
        cloud: LocalCloud, api: dict[str, Any]) -> None:
    """Allow: the $connect integration runs with requestContext.authorizer = principalId, the
    context's keys (JSON types kept: chosen) and integrationLatency (OUTPUT; observed
    captures); the MESSAGE and DISCONNECT events carry the same (serverless-offline #1379).
    Every handshake invokes the authorizer (no caching on WebSocket APIs)."""
    marker = probe()
    message = kit.run_async(chat(f"{api['url']}?token=ann&probe={marker}"))
    authorizer = message["requestContext"]["authorizer"]
    latency = authorizer.pop("integrationLatency")
    assert isinstance(latency, int) and latency >= 0
    assert authorizer == {"principalId": "user-ann", "name": "ann", "level": 3,
                          "admin": False}
    cid = message["requestContext"]["connectionId"]
    events = kit.logged_events(cloud, "gwa-echo", count=3, where=lambda e: (
        e["requestContext"]["connectionId"] == cid))
    assert sorted(e["requestContext"]["eventType"] for e in events) == [
        "CONNECT", "DISCONNECT", "MESSAGE"]
    assert all(e["requestContext"]["authorizer"] == {**authorizer, "integrationLatency":
                                                     latency} for e in events)
    assert status_of(f"{api['url']}?token=ann&probe={marker}") == 101
    assert len(authorizer_events(cloud, marker, count=2)) == 2


@pytest.mark.parametrize(("mode", "status", "body"), [
    ("allow", 101, b""),
    ("action-wildcard", 101, b""),  # IAM: action names are case-insensitive, * wildcard
    ("stage-wildcard", 101, b""),  # …/{stage}/* covers …/{stage}/$connect
    # OUTPUT: a matching Deny; REST's body for it (chosen for the handshake)
    ("deny", 403,
     b'{"Message":"User is not authorized to access this resource with an explicit deny"}'),
    ("deny-wins", 403,
     b'{"Message":"User is not authorized to access this resource with an explicit deny"}'),
    # no statement matches the methodArn: an implicit deny, 403 (REST's body, chosen)
    ("elsewhere", 403, b'{"Message":"User is not authorized to access this resource"}'),
    ("rest-wildcard", 403,  # observed: powertools-lambda-python #5800
     b'{"Message":"User is not authorized to access this resource"}'),
])
def test_the_returned_policy_decides_as_iam_evaluates_it(
        api: dict[str, Any], mode: str, status: int, body: bytes) -> None:
    """The authorizer's policyDocument is evaluated for execute-api:Invoke on the methodArn
    with IAM's wildcards; an explicit Deny wins; a Deny or no match is 403 (WS-ROUTES)."""
    assert kit.run_async(handshake(f"{api['url']}?token=ann&mode={mode}")) == (status, body)


def test_an_authorizer_that_answers_unauthorized_is_401(api: dict[str, Any]) -> None:
    """A function error whose message is exactly ``Unauthorized`` (Node's
    ``callback("Unauthorized")``, Python's ``raise Exception("Unauthorized")``) is 401, as on
    REST and as WS-AUTH's own sample uses it."""
    assert kit.run_async(handshake(f"{api['url']}?token=ann&mode=unauthorized")) == (
        401, b'{"message":"Unauthorized"}')


@pytest.mark.parametrize("mode", ["raise", "slow", "no-principal", "no-policy",
                                  "nested-context", "not-an-object", "too-big"])
def test_an_authorizer_that_fails_or_answers_malformed_output_is_500(
        api: dict[str, Any], mode: str) -> None:
    """Another error, a timeout (here the function's own), or an answer that is not an
    authorizer's output (no principalId or policyDocument, a context value that is an object,
    not an object at all, over the 8 KB result quota) is 500 (observed: serverless/examples
    #557; REST: AuthorizerConfigurationException; the quota: WS-QUOTA; status chosen where
    unknown). REST's body ``{"message":null}`` (chosen)."""
    assert kit.run_async(handshake(f"{api['url']}?token=ann&mode={mode}")) == (
        500, b'{"message":null}')


def test_api_gateway_needs_permission_to_invoke_the_authorizer(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Without a resource policy for apigateway.amazonaws.com, or with one for another
    authorizer's SourceArn, the handshake is 500 and the authorizer is not invoked; the
    SourceArn ``…/{api-id}/authorizers/{authorizer-id}`` (HTTP-AUTH's form) lets it in."""
    built = kit.build_websocket_api(cloud, "gwa-permission", {"$connect": fns["echo"]},
                                    auto_deploy=True)
    authorizer_id = kit.attach_authorizer(cloud, built, fns["auth"], permit=False)
    marker = probe()
    assert kit.run_async(handshake(f"{built['url']}?token=ann&probe={marker}")) == (
        500, b'{"message":null}')
    lam = cloud.client("lambda")
    source = f"arn:aws:execute-api:{cloud.region}:{ACCOUNT}:{built['api_id']}/authorizers/"
    lam.add_permission(FunctionName="gwa-auth", StatementId=f"other-{authorizer_id}",
                       Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                       SourceArn=source + "someother")
    assert status_of(f"{built['url']}?token=ann&probe={marker}") == 500
    lam.add_permission(FunctionName="gwa-auth", StatementId=f"this-{authorizer_id}",
                       Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
                       SourceArn=source + authorizer_id)
    assert not_invoked(cloud, built["url"], marker)  # which also shows it now lets one in


APIGW_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def credentials_role(cloud: LocalCloud, name: str, trust: dict[str, Any],
                     actions: list[str]) -> str:
    """A role for AuthorizerCredentialsArn: ``trust`` as its trust policy, ``actions``
    allowed on gwa-auth."""
    iam = cloud.client("iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"]
    if actions:
        iam.put_role_policy(RoleName=name, PolicyName="invoke", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": actions,
                "Resource": f"arn:aws:lambda:{cloud.region}:{ACCOUNT}:function:gwa-auth"}]}))
    return arn


def test_a_credentials_role_is_used_instead_of_the_resource_policy(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """With AuthorizerCredentialsArn, API Gateway assumes that role instead (MODEL: "To use
    resource-based permissions on the Lambda function, don't specify this parameter"): a
    role that trusts apigateway.amazonaws.com and may lambda:InvokeFunction lets the handshake
    in without any resource policy; a role lacking either is 500."""
    built = kit.build_websocket_api(cloud, "gwa-credentials", {"$connect": fns["echo"]},
                                    auto_deploy=True)
    authorizer_id = kit.attach_authorizer(cloud, built, fns["auth"], permit=False)
    apigw = cloud.client("apigatewayv2")
    lambda_trust = {**APIGW_TRUST, "Statement": [{
        **APIGW_TRUST["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}]}
    for role, status in (
            (credentials_role(cloud, "gwa-invoker", APIGW_TRUST, ["lambda:InvokeFunction"]),
             101),
            (credentials_role(cloud, "gwa-no-invoke", APIGW_TRUST, []), 500),
            (credentials_role(cloud, "gwa-wrong-trust", lambda_trust,
                              ["lambda:InvokeFunction"]), 500)):
        apigw.update_authorizer(ApiId=built["api_id"], AuthorizerId=authorizer_id,
                                AuthorizerCredentialsArn=role)
        assert status_of(f"{built['url']}?token=ann") == status, role


def test_an_authorizer_whose_function_is_gone_is_500(cloud: LocalCloud,
                                                     fns: dict[str, str]) -> None:
    """The authorizer's function deleted: 500 (REST: an authorizer configuration error;
    chosen for WebSocket APIs), the $connect integration is not run."""
    gone = kit.deploy_function(cloud, "gwa-auth-gone", AUTHORIZER_SOURCE)
    built = kit.build_websocket_api(cloud, "gwa-gone", {"$connect": fns["echo"]},
                                    auto_deploy=True)
    kit.attach_authorizer(cloud, built, gone)
    assert status_of(f"{built['url']}?token=ann") == 101
    cloud.client("lambda").delete_function(FunctionName="gwa-auth-gone")
    assert kit.run_async(handshake(f"{built['url']}?token=ann")) == (500, b'{"message":null}')


def test_an_authorizer_change_is_live_only_once_deployed(cloud: LocalCloud,
                                                         fns: dict[str, str]) -> None:
    """A stage that points at a deployment keeps the authorizer it was deployed with (chosen,
    as routes and integrations are kept): attaching one, or changing its identity source,
    takes effect at the next deployment."""
    built = kit.build_websocket_api(cloud, "gwa-deployed", {"$connect": fns["echo"]})
    apigw = cloud.client("apigatewayv2")

    def deploy() -> None:
        deployment = apigw.create_deployment(ApiId=built["api_id"])["DeploymentId"]
        apigw.update_stage(ApiId=built["api_id"], StageName=built["stage"],
                           DeploymentId=deployment)

    authorizer_id = kit.attach_authorizer(cloud, built, fns["auth"])
    assert status_of(built["url"]) == 101  # not deployed yet: open as before
    deploy()
    assert status_of(built["url"]) == 401
    assert status_of(built["url"] + "?token=ann") == 101
    apigw.update_authorizer(ApiId=built["api_id"], AuthorizerId=authorizer_id,
                            IdentitySource=["route.request.header.X-Token"])
    assert status_of(built["url"] + "?token=ann") == 101
    deploy()
    assert status_of(built["url"] + "?token=ann") == 401
    assert status_of(built["url"], additional_headers={"X-Token": "ann"}) == 101


def test_a_connection_already_open_is_not_affected_by_an_authorizer_change(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """WS-AUTH: "Changing authorizer in $connect doesn't affect the already connected
    client": a connection let in keeps its authorizer context after the authorizer is
    detached, while new ones get none."""
    built = kit.build_websocket_api(cloud, "gwa-open", {"$connect": fns["echo"],
                                                        "$default": fns["echo"]},
                                    two_way=("$default",), auto_deploy=True)
    kit.attach_authorizer(cloud, built, fns["auth"])
    apigw = cloud.client("apigatewayv2")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(built["url"] + "?token=ann", open_timeout=20 * SECOND) as ws:
            await ws.send("before")
            before = json.loads(await ws.recv())["requestContext"]
            await asyncio.to_thread(apigw.update_route, ApiId=built["api_id"],
                                    RouteId=built["route_ids"]["$connect"],
                                    AuthorizationType="NONE")
            await ws.send("after")
            return before, json.loads(await ws.recv())["requestContext"]

    before, after = kit.run_async(scenario())
    assert before["authorizer"]["principalId"] == after["authorizer"]["principalId"] == (
        "user-ann")
    assert "authorizer" not in kit.run_async(chat(built["url"]))["requestContext"]


ACCESS_FORMAT = json.dumps({name: f"$context.{name}" for name in (
    "eventType", "connectionId", "status", "authorizer.principalId", "authorizer.name",
    "authorizer.level", "authorizer.admin", "authorizer.status", "authorizer.latency",
    "authorizer.integrationLatency", "authorizer.integrationStatus", "authorizer.requestId",
    "authorizer.error", "authorize.status", "authorize.latency", "authorize.error",
    "error.message", "error.responseType")})
# Every WebSocket access-log variable (WS-LOG) a learner is likely to log: none is the query
# string or a header.
COMMON_FORMAT = " ".join(f"$context.{name}" for name in (
    "apiId", "connectedAt", "connectionId", "domainName", "eventType", "extendedRequestId",
    "identity.sourceIp", "identity.userAgent", "identity.user", "identity.caller",
    "integrationLatency", "messageId", "requestId", "requestTime", "requestTimeEpoch",
    "routeKey", "stage", "status", "error.message", "authorizer.principalId",
    "authorizer.status", "authorizer.error"))


def access_logged(cloud: LocalCloud, fns: dict[str, str], name: str,
                  fmt: str) -> tuple[dict[str, Any], str]:
    """An API behind gwa-auth whose stage writes ``fmt`` to its own log group (the account
    gets API Gateway's CloudWatch role first: access logging needs it, on AWS and here)."""
    kit.ensure_logging_role(cloud)
    group = f"/workshop/{name}-access"
    built = kit.build_websocket_api(
        cloud, name, {"$connect": fns["echo"], "$default": fns["echo"]},
        two_way=("$default",), auto_deploy=True, stage_kwargs={"AccessLogSettings": {
            "DestinationArn": f"arn:aws:logs:{cloud.region}:{ACCOUNT}:log-group:{group}",
            "Format": fmt}})
    kit.attach_authorizer(cloud, built, fns["auth"])
    return built, group


def access_lines(cloud: LocalCloud, group: str, count: int) -> list[str]:
    """The access-log lines of ``group``, once there are ``count`` (10 s at most)."""
    import time

    logs = cloud.client("logs")
    deadline = time.monotonic() + 10 * SECOND
    lines: list[str] = []
    while time.monotonic() < deadline:
        try:
            lines = [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]]
        except logs.exceptions.ResourceNotFoundException:
            lines = []
        if len(lines) >= count:
            break
        time.sleep(0.1 * SECOND)
    return lines


def test_the_access_log_has_the_authorizer_variables(cloud: LocalCloud,
                                                     fns: dict[str, str]) -> None:
    """WS-LOG's ``$context.authorizer.*`` and ``authorize.*``: an allowed CONNECT line has the
    principalId, the context's keys stringified ("1", "true": WS-MAP), status 200 and the
    latencies; its MESSAGE line the principalId; a Deny's line status 403 and the policy's
    verdict; a missing token's 401 with no invocation (what each holds on a refusal: chosen)."""
    built, group = access_logged(cloud, fns, "gwa-logged", ACCESS_FORMAT)
    message = kit.run_async(chat(built["url"] + "?token=ann"))
    assert status_of(built["url"] + "?token=bob&mode=deny") == 403
    assert status_of(built["url"]) == 401
    lines = [json.loads(line) for line in access_lines(cloud, group, 5)]
    by_status = {(line["eventType"], line["status"]): line for line in lines}
    allowed = by_status[("CONNECT", "200")]
    assert allowed["connectionId"] == message["requestContext"]["connectionId"]
    assert {k: allowed[k] for k in ("authorizer.principalId", "authorizer.name",
                                    "authorizer.level", "authorizer.admin",
                                    "authorizer.status", "authorizer.integrationStatus",
                                    "authorize.status", "authorizer.error",
                                    "error.responseType")} == {
        "authorizer.principalId": "user-ann", "authorizer.name": "ann",
        "authorizer.level": "3", "authorizer.admin": "false", "authorizer.status": "200",
        "authorizer.integrationStatus": "200", "authorize.status": "200",
        "authorizer.error": "-", "error.responseType": "-"}
    for key in ("authorizer.latency", "authorizer.integrationLatency", "authorize.latency"):
        assert allowed[key].isdigit(), key
    assert allowed["authorizer.requestId"] != "-"
    assert by_status[("MESSAGE", "200")]["authorizer.principalId"] == "user-ann"
    denied = by_status[("CONNECT", "403")]
    assert denied["authorizer.principalId"] == "-" and denied["authorizer.status"] == "200"
    assert denied["authorize.status"] == "403"
    assert denied["error.responseType"] == "ACCESS_DENIED"
    assert denied["authorize.error"] == denied["error.message"] == (
        "User is not authorized to access this resource with an explicit deny")
    missing = by_status[("CONNECT", "401")]
    assert missing["authorizer.status"] == "401" and missing["authorizer.error"] == (
        "Unauthorized")
    assert missing["authorizer.integrationLatency"] == "-"  # never invoked
    assert missing["error.responseType"] == "UNAUTHORIZED"


def test_the_access_log_never_records_the_token(cloud: LocalCloud,
                                                fns: dict[str, str]) -> None:
    """No WebSocket access-log variable is the query string or a header (WS-LOG's list), so a
    format of the common variables writes no token, for an allowed, a denied or a refused
    handshake alike."""
    built, group = access_logged(cloud, fns, "gwa-no-token", COMMON_FORMAT)
    secret = "tok" + uuid.uuid4().hex
    kit.run_async(chat(f"{built['url']}?token={secret}&user=ann"))
    assert status_of(f"{built['url']}?token={secret}&user=ann&mode=deny") == 403
    assert status_of(f"{built['url']}?token={secret}&user=ann&mode=raise") == 500
    lines = access_lines(cloud, group, 5)
    assert len(lines) >= 5 and any("user-ann" in line for line in lines)
    assert [line for line in lines if secret in line] == []


AUTHORIZER_SRC = kit.REPO_ROOT / "lambda_src" / "authorizer"


def test_the_workshop_s_authorizer_guards_connect_end_to_end(cloud: LocalCloud,
                                                             fns: dict[str, str]) -> None:
    """The workshop's own authorizer (lambda_src/authorizer) behind $connect, its secret in
    SSM: no token 401, a forged or expired token 403, a valid one lets the client in with the
    token's name as requestContext.authorizer.name, whatever ``?name=`` says."""
    import importlib.util
    import sys
    import time

    spec = importlib.util.spec_from_file_location("gwa_chat_token",
                                                  AUTHORIZER_SRC / "chat_token.py")
    assert spec is not None and spec.loader is not None
    chat_token = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(chat_token)  # the token format's one definition
    secret = "s" * 48
    parameter = "gwa-chat-token-secret"
    cloud.client("ssm").put_parameter(Name=parameter, Value=secret, Type="SecureString",
                                      Overwrite=True)
    source = {path.name: path.read_text() for path in AUTHORIZER_SRC.glob("*.py")}
    authorizer = kit.deploy_function(cloud, "gwa-workshop-authorizer", source,
                                     handler="app.lambda_handler", timeout=10 * SECOND,
                                     environment={"SECRET_PARAMETER": parameter})
    built = kit.build_websocket_api(cloud, "gwa-workshop", {"$connect": fns["echo"],
                                                            "$default": fns["echo"]},
                                    two_way=("$default",), auto_deploy=True)
    kit.attach_authorizer(cloud, built, authorizer)
    now = int(time.time())
    valid = chat_token.sign(secret, "alice", now + 600)
    assert status_of(built["url"]) == 401
    assert status_of(built["url"] + "?token=" + chat_token.sign("x" * 48, "alice",
                                                                now + 600)) == 403
    assert status_of(built["url"] + "?token=" + chat_token.sign(secret, "alice",
                                                                now - 60)) == 403
    message = kit.run_async(chat(f"{built['url']}?token={valid}&name=mallory"))
    authorized = message["requestContext"]["authorizer"]
    assert (authorized["principalId"], authorized["name"]) == ("alice", "alice")
