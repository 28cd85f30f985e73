"""Authorizers and route authorization of WEBSOCKET APIs: AWS's validation, what moto lacks.

moto 5.2 stores every authorizer field for any protocol, has no ``get_authorizers``, answers
``update_authorizer`` of an unknown id with a 500 (a ``KeyError``), deletes an authorizer a
route still uses, and accepts any ``AuthorizationType`` on any route (NOTES-moto.md 1a). The
functions here refuse what AWS refuses for a WEBSOCKET API, in AWS's words where they are known
(sources in ``/work/research/authorizer.md`` §1-3 and the tests,
``tests/integration/test_gateway_authorizers.py``); the rest is ours and says what is
supported. They run under the deployment store's lock (:mod:`.responses` takes it), read and
write moto's ``Authorizer`` and ``Route`` objects, and raise :mod:`.exceptions`.
"""

from __future__ import annotations

import re
from typing import Any

from .exceptions import AuthorizerNotFound, BadRequestException, ConflictException
from .models import function_arn_of

# What AWS says (observed; see the tests for where each was seen).
TTL_REFUSED = "AuthorizerResultTtlInSeconds cannot be set for WEBSOCKET protocol Apis."
AUTH_ON_OTHER_ROUTE = "Currently, authorization is restricted to the $connect route only"
INVALID_AUTHORIZER = ("Invalid authorizer ID specified. Setting the authorization type to "
                      "CUSTOM or COGNITO_USER_POOLS requires a valid authorizer.")

# HTTP-API-only members (the model says "Supported only for HTTP APIs"): AWS's refusal text is
# known for the TTL only; the others are refused in the same form (chosen).
_HTTP_ONLY = (
    ("authorizerResultTtlInSeconds", "AuthorizerResultTtlInSeconds"),
    ("authorizerPayloadFormatVersion", "AuthorizerPayloadFormatVersion"),
    ("enableSimpleResponses", "EnableSimpleResponses"),
    ("jwtConfiguration", "JwtConfiguration"),
)
# The WebSocket forms of an identity source (the model's IdentitySource documentation; the
# character set is CDK's validation of them).
IDENTITY_SOURCE = re.compile(
    r"^(?:route\.request\.(?:header|querystring)|stageVariables|context)\.[A-Za-z0-9._-]+$"
)
_AUTHORIZER_FIELDS = (  # the members of botocore's Authorizer shape, moto's attributes
    ("authorizerCredentialsArn", "auth_creds_arn"),
    ("authorizerId", "id"),
    ("authorizerPayloadFormatVersion", "auth_payload_format_version"),
    ("authorizerResultTtlInSeconds", "auth_result_ttl"),
    ("authorizerType", "authorizer_type"),
    ("authorizerUri", "authorizer_uri"),
    ("enableSimpleResponses", "enable_simple_response"),
    ("identitySource", "identity_source"),
    ("identityValidationExpression", "identity_validation_expr"),
    ("jwtConfiguration", "jwt_config"),
    ("name", "name"),
)
_AUTHORIZATION_TYPES = ("NONE", "AWS_IAM", "CUSTOM")  # the model's values for WebSocket APIs


def authorizer_json(authorizer: Any) -> dict[str, Any]:
    """moto's ``Authorizer`` as AWS answers it: the members it has, none set to null (moto
    writes every member, unset ones as null)."""
    body: dict[str, Any] = {}
    for member, attribute in _AUTHORIZER_FIELDS:
        value = getattr(authorizer, attribute, None)
        if value is not None:
            body[member] = value
    return body


def get_authorizer(api: Any, authorizer_id: str) -> Any:
    found = api.authorizers.get(authorizer_id)
    if found is None:
        raise AuthorizerNotFound(authorizer_id)
    return found


def check_authorizer(api: Any, body: dict[str, Any], authorizer_id: str | None = None) -> None:
    """``create_authorizer`` (``authorizer_id`` None) or ``update_authorizer`` of a WEBSOCKET
    API: only what AWS allows there. An update is checked as the authorizer it would make."""
    current = get_authorizer(api, authorizer_id) if authorizer_id is not None else None
    if api.protocol_type != "WEBSOCKET":
        return  # moto's own checks for HTTP APIs (PR #5474) stay as they are
    for member, name in _HTTP_ONLY:
        if body.get(member) is not None:
            raise BadRequestException(f"{name} cannot be set for WEBSOCKET protocol Apis.")

    def merged(member: str, attribute: str) -> Any:
        if member in body:
            return body[member]
        return getattr(current, attribute, None) if current is not None else None

    authorizer_type = merged("authorizerType", "authorizer_type")
    if authorizer_type != "REQUEST":
        raise BadRequestException(  # chosen wording: AWS's is not known
            f"AuthorizerType {authorizer_type} is not supported for WEBSOCKET protocol Apis; "
            "use REQUEST (JWT authorizers are for HTTP APIs)")
    name = merged("name", "name")
    if not isinstance(name, str) or not 1 <= len(name) <= 128:
        raise BadRequestException("Name must be between 1 and 128 characters")
    uri = merged("authorizerUri", "authorizer_uri")
    if function_arn_of(uri) is None:
        raise BadRequestException(  # chosen wording; the model: "must be a well-formed Lambda
            # function URI"
            "AuthorizerUri must be a well-formed Lambda function URI: arn:aws:apigateway:"
            "{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations")
    sources = merged("identitySource", "identity_source")
    if sources is None:
        sources = []
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise BadRequestException("IdentitySource must be a list of strings")
    for source in sources:
        if not IDENTITY_SOURCE.match(source):
            raise BadRequestException(  # chosen wording
                f"Invalid identity source {source!r}: for WEBSOCKET protocol Apis use "
                "route.request.header.<name>, route.request.querystring.<name>, "
                "stageVariables.<name> or context.<name>")


def check_authorizer_unused(api: Any, authorizer_id: str) -> None:
    """AWS refuses to delete an authorizer a route uses (observed: sst issue #5586, 409
    ``Cannot delete authorizer '<name>', is referenced in route: <route key>``)."""
    authorizer = get_authorizer(api, authorizer_id)
    for route in list(api.routes.values()):
        if route.authorizer_id == authorizer_id:
            raise ConflictException(f"Cannot delete authorizer '{authorizer.name}', is "
                                    f"referenced in route: {route.route_key}")


def check_route_authorization(api: Any, route: Any, body: dict[str, Any]) -> None:
    """``create_route`` (``route`` None) / ``update_route``: the route's authorization as it
    would be, checked as AWS does for a WEBSOCKET API."""
    if api.protocol_type != "WEBSOCKET":
        return
    authorization_type = body.get("authorizationType")
    if authorization_type is None:
        authorization_type = (route.authorization_type if route is not None else None) or "NONE"
    route_key = body.get("routeKey") or (route.route_key if route is not None else None)
    authorizer_id = body.get("authorizerId")
    if authorizer_id is None and route is not None:
        authorizer_id = route.authorizer_id
    if authorization_type not in _AUTHORIZATION_TYPES:
        raise BadRequestException(  # chosen wording: the model lists NONE, AWS_IAM and CUSTOM
            f"AuthorizationType {authorization_type} is not supported for WEBSOCKET protocol "
            "Apis; use NONE, AWS_IAM or CUSTOM")
    if authorization_type == "NONE":
        return
    if route_key != "$connect":
        raise BadRequestException(AUTH_ON_OTHER_ROUTE)
    if authorization_type == "AWS_IAM":
        raise BadRequestException(  # ours: the local gateway does not check SigV4 handshakes
            "AuthorizationType AWS_IAM is not supported by the local cloud's WebSocket "
            "gateway; use NONE, or CUSTOM with a Lambda REQUEST authorizer")
    if not authorizer_id or authorizer_id not in api.authorizers:
        raise BadRequestException(INVALID_AUTHORIZER)


def settle_route_authorization(route: Any) -> None:
    """After moto's write: a route with AuthorizationType NONE keeps no AuthorizerId (moto
    keeps the old one; on AWS, setting NONE is how an authorizer is detached, observed:
    aws-cloudformation/cloudformation-coverage-roadmap#2184)."""
    if (route.authorization_type or "NONE") == "NONE":
        route.authorizer_id = None
