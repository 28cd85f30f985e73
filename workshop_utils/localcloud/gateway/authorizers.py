"""A ``$connect`` route's Lambda REQUEST authorizer: identity sources, invoke, its answer decides.

Rules (SPEC-gateway.md "Handshake"; AWS's sources, and what is chosen where AWS says nothing, in
``tests/integration/test_gateway_authorizers.py``):

- every identity source must be present, not null and non-empty, else 401 and the function is
  not invoked (headers by any case, query string keys exactly; ``?token=`` is missing);
- API Gateway must be allowed to invoke the function (:mod:`..iam.authorizer_policies`),
  else 500, not invoked;
- it is invoked with the REQUEST event (:func:`~.events.authorizer_request_event`), bounded
  by the integration timeout; every handshake invokes it (WebSocket APIs cannot cache it);
- a function error whose message is exactly ``Unauthorized``: 401; any other error, a
  timeout, or an answer that is not an authorizer's output (no string ``principalId``, no
  policy, a ``context`` that is not a map of strings, numbers and booleans, over 8 KB): 500;
- its policy evaluated for ``execute-api:Invoke`` on the ``methodArn``: an Allow and no Deny
  lets the handshake through, with ``principalId``, the context's keys and
  ``integrationLatency`` as ``requestContext.authorizer``; a Deny or no matching statement:
  403.

The handshake's refusal bodies are REST's (chosen: a WebSocket client never shows them).

Its execution-log lines (when the stage's ``$connect`` route logs; :mod:`.execution_log`) go
into the handshake's event, between the event's opening lines and the ``$connect``
integration's (chosen order: REST writes them before ``Starting execution``). Their words:

- observed on REST (2017 and 2019 captures, find_string ids 22243955141, 48213103395):
  ``Starting authorizer: <id> for request: <request id>``, ``Incoming identity: {<source>=
  <masked>}``, the Lambda request lines an integration has (:func:`~.integrations.log_request`,
  with the authorizer's ``/authorizers/<id>`` source ARN), ``Authorizer result body before
  parsing: …`` (a data-trace line here: it is a body), ``Using valid authorizer policy for
  principal: <masked>``, ``Successfully completed authorizer execution``, and for an
  ``Unauthorized`` answer ``Unauthorized request: <request id>``; a masked value keeps its last
  6 characters and stars the rest, as those captures show (shorter values: all stars, chosen);
- observed on a WebSocket API (2020, find_string id 40370491264) for an authorizer API Gateway
  may not invoke: ``Execution failed due to configuration error: Invalid permissions on Lambda
  function``, ``Execution failed due to configuration error: Authorizer error``, ``Gateway
  response type: AUTHORIZER_CONFIGURATION_ERROR with status code: 500``; so every refusal ends
  with its ``Gateway response type: <type> with status code: <status>`` line, every 500 with
  ``Authorizer error`` before it (chosen for the other types and statuses);
- observed on REST (2023, find_string id 48253294949) for a credentials role API Gateway
  cannot assume: ``Execution failed due to configuration error: API Gateway does not have
  permission to assume the provided role <arn>``;
- a failed invocation in the integration's words (:func:`~.integrations.invoke_bounded`): a
  timeout, a throttle's ``Lambda invocation failed with status: 429 …`` and ``Rate
  Exceeded.``, a function error's ``Lambda execution failed with status 200 due to customer
  function error: …``; a malformed answer in our words (chosen).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from websockets.http11 import Response

from ..iam.authorizer_policies import AuthorizerInvokePolicies, policy_decision
from .events import authorizer_request_event, request_time
from .execution_log import java_map
from .handshake import refusal
from .info import ConnectionInfo
from .integrations import invoke_bounded, lambda_uri, log_request

if TYPE_CHECKING:
    from ..apigatewayv2.stages import AuthorizerView, RouteView, StageView
    from ..iam.resource_policies import ResourcePolicies
    from ..parts import CloudParts
    from .execution_log import EventLog

MAX_RESULT_BYTES = 8 * 1024  # "AWS Lambda authorizer result size: 8 KB" (WebSocket quotas)

# What the client gets, by status (REST's bodies, chosen for the WebSocket handshake).
_BODIES = {
    401: b'{"message":"Unauthorized"}',
    500: b'{"message":null}',
}
EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
IMPLICIT_DENY = "User is not authorized to access this resource"


@dataclass(frozen=True, slots=True)
class AuthorizerOutcome:
    """What a ``$connect`` authorizer decided, and what the access log can tell of it."""

    status: int  # 200: allowed; 401, 403 or 500: the handshake is refused with it
    principal_id: str | None = None
    context: tuple[tuple[str, Any], ...] = ()  # the output's context map, JSON types kept
    message: str | None = None  # $context.error.message / authorizer.error of a refusal
    response_type: str | None = None  # $context.error.responseType (REST's gateway responses)
    reason: str | None = None  # why, for the cloud's log (never a token)
    authorize_status: int | None = None  # the policy's verdict: 200 or 403
    latency_ms: int = 0  # the whole authorizer step
    integration_latency_ms: int | None = None  # its Lambda invocation; None: not invoked
    integration_status: int | None = None  # Lambda's status for the invocation
    lambda_request_id: str | None = None

    @property
    def allowed(self) -> bool:
        return self.status == 200

    def connection_info(self, info: ConnectionInfo) -> ConnectionInfo:
        """``info`` with what every later event carries as ``requestContext.authorizer``."""
        pairs = [("principalId", self.principal_id), *self.context]
        if self.integration_latency_ms is not None:
            pairs.append(("integrationLatency", self.integration_latency_ms))
        return dataclasses.replace(info, authorizer=tuple(pairs))

    def refusal(self) -> Response:
        if self.status == 403:
            return refusal(403, json.dumps({"Message": self.message},
                                           separators=(",", ":")).encode())
        return refusal(self.status, _BODIES.get(self.status, b""))


def _unauthorized(reason: str, started: float, **fields: Any) -> AuthorizerOutcome:
    return AuthorizerOutcome(status=401, message="Unauthorized", response_type="UNAUTHORIZED",
                             reason=reason, latency_ms=_since(started), **fields)


def _failed(reason: str, started: float, response_type: str = "AUTHORIZER_CONFIGURATION_ERROR",
            **fields: Any) -> AuthorizerOutcome:
    return AuthorizerOutcome(status=500, message="Internal server error",
                             response_type=response_type, reason=reason,
                             latency_ms=_since(started), **fields)


def _since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _context_variables(info: ConnectionInfo, request_id: str, now_ms: int) -> dict[str, Any]:
    """The ``context.<name>`` identity sources a handshake has (the CONNECT request's)."""
    return {
        "apiId": info.api_id, "connectedAt": info.connected_at_ms,
        "connectionId": info.connection_id, "domainName": info.domain_name,
        "eventType": "CONNECT", "extendedRequestId": request_id, "messageDirection": "IN",
        "requestId": request_id, "requestTime": request_time(now_ms),
        "requestTimeEpoch": now_ms, "routeKey": "$connect", "stage": info.stage,
        "identity.sourceIp": info.source_ip, "identity.userAgent": info.user_agent,
    }


def identity_values(sources: tuple[str, ...], info: ConnectionInfo, stage_variables: Any,
                    request_id: str, now_ms: int) -> list[tuple[str, Any]]:
    """Each identity source with its value in the handshake (None when it has none)."""
    headers: dict[str, str] = {}
    for name, value in info.headers:
        headers.setdefault(name.lower(), value)
    query = dict(parse_qsl(info.query or "", keep_blank_values=True))
    context: dict[str, Any] | None = None
    values: list[tuple[str, Any]] = []
    for source in sources:
        if source.startswith("route.request.header."):
            value: Any = headers.get(source[len("route.request.header."):].lower())
        elif source.startswith("route.request.querystring."):
            value = query.get(source[len("route.request.querystring."):])
        elif source.startswith("stageVariables."):
            value = stage_variables.get(source[len("stageVariables."):])
        elif source.startswith("context."):
            if context is None:
                context = _context_variables(info, request_id, now_ms)
            value = context.get(source[len("context."):])
        else:
            value = None
        values.append((source, value))
    return values


def missing_identity(values: list[tuple[str, Any]]) -> str | None:
    """The first identity source that is absent, null or empty; None when all are there."""
    for source, value in values:
        if value is None or str(value) == "":
            return source
    return None


def masked(value: Any) -> str:
    """A value as API Gateway's execution log shows an identity or a principal: its last 6
    characters, the rest starred (the REST captures); 6 characters or fewer: all stars."""
    text = "" if value is None else str(value)
    if len(text) <= 6:
        return "*" * len(text)
    return "*" * (len(text) - 6) + text[-6:]


def parse_output(payload: bytes) -> tuple[str, Any, tuple[tuple[str, Any], ...]]:
    """``(principalId, policyDocument, context)`` of an authorizer's answer; raises
    ValueError (with why) when it is not one. Context values: "String, Number or Boolean"
    (the WebSocket authorizer page's example), "you cannot set a JSON object or array as a
    valid value of any key in the context map" (the authorizer output page)."""
    if len(payload) > MAX_RESULT_BYTES:
        raise ValueError(f"the authorizer's result is {len(payload)} bytes, over the 8 KB quota")
    try:
        output = json.loads(payload)
    except ValueError:
        raise ValueError("the authorizer's result is not JSON") from None
    if not isinstance(output, dict):
        raise ValueError("the authorizer's result is not an object with principalId and "
                         "policyDocument")
    principal_id = output.get("principalId")
    if not isinstance(principal_id, str):
        raise ValueError("the authorizer's result has no principalId string")
    if "policyDocument" not in output:
        raise ValueError("the authorizer's result has no policyDocument")
    context = output.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise ValueError("the authorizer's context is not a map")
    for key, value in context.items():
        if isinstance(value, (dict, list)) or value is None:
            raise ValueError(f"the authorizer's context value of {key!r} is not a string, "
                             "number or boolean")
    return principal_id, output["policyDocument"], tuple(context.items())


class Authorizers:
    """Runs the Lambda REQUEST authorizer of a ``$connect`` route (never raises)."""

    def __init__(self, parts: CloudParts, resource_policies: ResourcePolicies) -> None:
        self.parts = parts
        self.permissions = AuthorizerInvokePolicies(parts, resource_policies)

    async def authorize(self, view: StageView, route: RouteView, info: ConnectionInfo,
                        request_id: str, now_ms: int, trace: str,
                        event_log: EventLog | None = None) -> AuthorizerOutcome:
        """What the route's authorizer decides for this handshake; its lines go to
        ``event_log`` (the handshake's execution log, None when the route does not log)."""
        outcome = await self._decide(view, route, info, request_id, now_ms, trace, event_log)
        if event_log is not None and not outcome.allowed:
            if outcome.status >= 500:  # observed (WebSocket, 2020)
                event_log.error("Execution failed due to configuration error: Authorizer error")
            event_log.error(f"Gateway response type: {outcome.response_type} with status "
                            f"code: {outcome.status}")
        return outcome

    async def _decide(self, view: StageView, route: RouteView, info: ConnectionInfo,
                      request_id: str, now_ms: int, trace: str,
                      event_log: EventLog | None) -> AuthorizerOutcome:
        started = time.monotonic()
        authorizer = route.authorizer
        if route.authorization_type != "CUSTOM":  # AWS_IAM is refused at create_route
            return AuthorizerOutcome(
                status=403, message="Forbidden", response_type="ACCESS_DENIED",
                reason=f"AuthorizationType {route.authorization_type} is not supported by "
                       "the local gateway", latency_ms=_since(started))
        if authorizer is None or authorizer.function_arn is None:
            return _failed("the $connect route's authorizer does not exist or is not a Lambda "
                           "function", started)
        if event_log is not None:
            event_log.info(f"Starting authorizer: {authorizer.authorizer_id} for request: "
                           f"{request_id}")
        identity = identity_values(authorizer.identity_sources, info, view.stage_variables,
                                   request_id, now_ms)
        absent = missing_identity(identity)
        if absent is not None:
            if event_log is not None:
                event_log.error(f"Unauthorized request: {request_id}")
            return _unauthorized(f"identity source {absent} is missing or empty", started)
        if event_log is not None and identity:
            event_log.info("Incoming identity: " + java_map(
                [(source, masked(value)) for source, value in identity]))
        return await self._invoke(view, authorizer, info, request_id, now_ms, trace, started,
                                  event_log)

    async def _invoke(self, view: StageView, authorizer: AuthorizerView, info: ConnectionInfo,
                      request_id: str, now_ms: int, trace: str, started: float,
                      event_log: EventLog | None) -> AuthorizerOutcome:
        fn = authorizer.function_arn
        assert fn is not None
        source_arn = info.authorizer_source_arn(authorizer.authorizer_id)
        event = authorizer_request_event(info, request_id, now_ms, trace, view.stage_variables)
        payload = json.dumps(event).encode()
        if event_log is not None:
            log_request(event_log, lambda_uri(self.parts, fn), source_arn, payload)
        denied = self.permissions.denial(fn, source_arn, authorizer.credentials_arn)
        if denied is not None:
            if event_log is not None:
                credentials = authorizer.credentials_arn
                if credentials and not self.permissions.may_assume(credentials, source_arn):
                    event_log.error("Execution failed due to configuration error: API Gateway "
                                    "does not have permission to assume the provided role "
                                    f"{credentials}")  # observed (REST, 2023)
                else:  # observed (WebSocket, 2020)
                    event_log.error("Execution failed due to configuration error: Invalid "
                                    "permissions on Lambda function")
            return _failed(f"Execution failed due to configuration error: API Gateway does not "
                           f"have permission to invoke the authorizer {fn}: {denied}", started)
        invoked = await invoke_bounded(self.parts, fn, payload,
                                       self.parts.settings.limits.integration_timeout_s,
                                       event_log)
        lambda_fields: dict[str, Any] = {"integration_latency_ms": invoked.latency_ms,
                                         "integration_status": invoked.status,
                                         "lambda_request_id": invoked.request_id}
        result = invoked.result
        if result is None:  # timed out, or Lambda refused the Invoke (e.g. throttled: 429)
            return _failed(f"the authorizer {fn} failed: {invoked.error}", started,
                           "AUTHORIZER_FAILURE", **lambda_fields)
        if event_log is not None and event_log.data_trace:
            event_log.data("Authorizer result body before parsing: "
                           + result.payload.decode("utf-8", "replace"))
        if result.function_error:
            try:
                error_message = json.loads(result.payload).get("errorMessage")
            except (ValueError, AttributeError):
                error_message = None
            if error_message == "Unauthorized":
                if event_log is not None:  # observed (REST, 2019)
                    event_log.error(f"Unauthorized request: {request_id}")
                return _unauthorized(f"the authorizer {fn} answered Unauthorized", started,
                                     **lambda_fields)
            if event_log is not None:  # as an integration's function error (REST, observed)
                shown = (error_message if isinstance(error_message, str)
                         else result.payload.decode("utf-8", "replace"))
                event_log.error(f"Lambda execution failed with status {result.status_code} due "
                                f"to customer function error: {shown}. Lambda request id: "
                                f"{result.request_id}")
            snippet = result.payload[:300].decode("utf-8", "replace")
            return _failed(f"the authorizer {fn} failed ({result.function_error}): {snippet}",
                           started, "AUTHORIZER_FAILURE", **lambda_fields)
        try:
            principal_id, document, context = parse_output(result.payload)
            verdict = policy_decision(document, info.source_arn("$connect"))
        except ValueError as exc:  # MalformedPolicy too
            if event_log is not None:  # chosen wording: what is wrong with the answer
                event_log.error(f"Execution failed due to configuration error: {exc}")
            return _failed(f"the authorizer {fn} returned an invalid answer: {exc}", started,
                           **lambda_fields)
        if event_log is not None:  # observed (REST, 2017)
            event_log.info(f"Using valid authorizer policy for principal: "
                           f"{masked(principal_id)}")
            event_log.info("Successfully completed authorizer execution")
        if verdict != "allow":
            message = EXPLICIT_DENY if verdict == "deny" else IMPLICIT_DENY
            return AuthorizerOutcome(
                status=403, principal_id=principal_id, context=context, message=message,
                response_type="ACCESS_DENIED", authorize_status=403,
                latency_ms=_since(started), **lambda_fields)
        return AuthorizerOutcome(status=200, principal_id=principal_id, context=context,
                                 authorize_status=200, latency_ms=_since(started),
                                 **lambda_fields)
