"""Running a route's integration: permission, invoke on the shared loop, timeout, result.

Only Lambda proxy integrations (AWS_PROXY to a function) run locally; any other type is
reported as an integration failure with the reason in the cloud log. An invocation that
outlives the integration timeout is left to finish in the background (on AWS the function
keeps running after API Gateway gives up); the client gets the timeout answer at once.

When the event's route logs (:mod:`.execution_log`), each step writes its execution-log lines
as API Gateway does: the endpoint request, the response and, on failure, AWS's words for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..apigatewayv2.stages import RouteView
from ..awsapi.exceptions import AwsError
from ..iam.resource_policies import ResourcePolicies
from .execution_log import EventLog, java_map

if TYPE_CHECKING:
    from ..awslambda.runtime.invocation import InvokeResult
    from ..parts import CloudParts

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an integration answered: a status and maybe a body, or why it failed."""

    status: int  # the function's statusCode (200 when it returned none); 502 on failure
    body: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None  # set when the integration failed (raise, timeout, no access...)
    latency_ms: int | None = None  # None when nothing was invoked
    request_id: str | None = None  # the Lambda request id, when Lambda answered

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300


def _failure(reason: str, latency_ms: int | None = None,
             request_id: str | None = None) -> Outcome:
    return Outcome(status=502, error=reason, latency_ms=latency_ms, request_id=request_id)


def _http_date() -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())


def lambda_uri(parts: CloudParts, function_arn: str) -> str:
    """The Lambda endpoint API Gateway calls for ``function_arn`` (its execution-log form)."""
    fields = function_arn.split(":")
    region = fields[3] if len(fields) > 3 and fields[3] else parts.settings.region
    return f"https://lambda.{region}.amazonaws.com/2015-03-31/functions/{function_arn}/invocations"


def log_request(trace: EventLog, uri: str, source_arn: str, payload: bytes) -> None:
    """The endpoint request, as API Gateway logs a Lambda invocation (an integration's or an
    authorizer's: the same lines, with its own source ARN)."""
    trace.info(f"Endpoint request URI: {uri}")
    if trace.data_trace:
        trace.data("Endpoint request headers: " + java_map([
            ("x-amzn-lambda-integration-tag", trace.request_id),
            ("X-Amz-Date", time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())),
            ("x-amzn-apigateway-api-id", trace.api_id),
            ("X-Amz-Source-Arn", source_arn),
            ("Accept", "application/json"),
            ("User-Agent", f"AmazonAPIGateway_{trace.api_id}"),
        ]))
        trace.data("Endpoint request body after transformations: "
                   + payload.decode("utf-8", "replace"))
    trace.info(f"Sending request to {uri}")


def _log_response(trace: EventLog, result: InvokeResult, latency: int) -> None:
    """Lambda's answer: its status, its headers and body (data trace), its request id."""
    trace.endpoint_request_id = result.request_id
    trace.info(f"Received response. Status: {result.status_code}, Integration latency: "
               f"{latency} ms")
    if trace.data_trace:
        headers = [("Date", _http_date()), ("Content-Type", "application/json"),
                   ("Content-Length", str(len(result.payload))), ("Connection", "keep-alive"),
                   ("x-amzn-RequestId", result.request_id)]
        if result.function_error:
            headers.append(("X-Amz-Function-Error", result.function_error))
        headers += [("x-amzn-Remapped-Content-Length", "0"),
                    ("X-Amz-Executed-Version", result.executed_version)]
        trace.data("Endpoint response headers: " + java_map(headers))
        trace.data("Endpoint response body before transformations: "
                   + result.payload.decode("utf-8", "replace"))


def _error_message(payload: bytes) -> str:
    """The ``errorMessage`` of a function error's payload (its text when it has none)."""
    try:
        body = json.loads(payload)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errorMessage"), str):
        return body["errorMessage"]
    return payload.decode("utf-8", "replace")


def parse_proxy_result(payload: bytes) -> Outcome:
    """Read a Lambda proxy response: ``{"statusCode", "headers", "body"}``.

    A function that returns nothing (``null``) counts as 200 with no body (chosen: AWS sends
    nothing back then); a JSON value that is not a proxy response is used as the body.
    """
    if not payload.strip():
        return Outcome(status=200)
    try:
        result = json.loads(payload)
    except ValueError:
        return Outcome(status=200, body=payload.decode("utf-8", "replace"))
    if result is None:
        return Outcome(status=200)
    if not isinstance(result, dict) or "statusCode" not in result:
        return Outcome(status=200, body=payload.decode("utf-8", "replace"))
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        return _failure(f"malformed Lambda proxy response: statusCode "
                        f"{result['statusCode']!r} is not a number")
    body = result.get("body")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    headers = result.get("headers")
    if not isinstance(headers, dict):
        headers = {}
    return Outcome(status=status, body=body,
                   headers={str(k): str(v) for k, v in headers.items()})


def _consume(task: asyncio.Task[Any]) -> None:
    """Retrieve a late invocation's outcome so asyncio does not report it as lost."""
    if not task.cancelled():
        task.exception()


@dataclass(frozen=True, slots=True)
class Invoked:
    """A synchronous invocation by API Gateway: the result, or why there is none."""

    result: InvokeResult | None
    latency_ms: int
    error: str | None = None  # not invoked, timed out, refused by Lambda, or the runtime failed
    request_id: str | None = None  # Lambda's request id: of the result, or of its refusal
    status: int | None = None  # Lambda's HTTP status: of the result, or of its refusal (429)


async def invoke_bounded(parts: CloudParts, function_arn: str, payload: bytes,
                         timeout_s: float, trace: EventLog | None = None) -> Invoked:
    """Invoke ``function_arn`` as API Gateway does, waiting at most ``timeout_s``; never
    raises (but on cancellation). A late invocation finishes in the background.

    A failure is written to ``trace`` (the event's execution log, when it logs) in AWS's words
    (REST's, observed; :mod:`.execution_log`): a timeout, or Lambda refusing the Invoke with
    its status, e.g. a throttle (reserved concurrency): ``Lambda invocation failed with
    status: 429. Lambda request id: <id>`` then ``Execution failed due to configuration
    error: Rate Exceeded.``"""
    started = time.monotonic()
    task = asyncio.ensure_future(parts.runtime.invoke(function_arn, payload))
    try:
        done, _ = await asyncio.wait((task,), timeout=timeout_s)
    except asyncio.CancelledError:
        task.cancel()
        raise
    latency = int((time.monotonic() - started) * 1000)
    if not done:
        task.add_done_callback(_consume)
        if trace is not None:  # observed (REST); Lambda has not answered: no request id
            trace.error("Execution failed due to a timeout error")
        return Invoked(None, latency, f"Endpoint request timed out after {timeout_s:g} s")
    try:
        result = task.result()
    except AwsError as exc:  # Lambda refused the Invoke (function gone, throttled, ...)
        request_id = str(uuid.uuid4())  # every Invoke answer carries one
        if trace is not None:  # observed (REST) for a throttle's 429; same path here
            trace.endpoint_request_id = request_id
            trace.error(f"Lambda invocation failed with status: {exc.code}. Lambda "
                        f"request id: {request_id}")
            trace.error(f"Execution failed due to configuration error: {exc.message}")
        return Invoked(None, latency, f"Lambda invocation failed with status {exc.code}: "
                       f"{exc.message} ({function_arn})", request_id, exc.code)
    except Exception as exc:  # a runtime failure must not reach the client as a traceback
        log.exception("invoking %s failed", function_arn)
        if trace is not None:
            trace.error("Execution failed due to an internal error")
        return Invoked(None, latency, f"invocation failed: {type(exc).__name__}: {exc}")
    return Invoked(result, latency, request_id=result.request_id, status=result.status_code)


class Integrations:
    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts
        self.limits = parts.settings.limits
        self.permissions = ResourcePolicies(parts)

    async def call(self, route: RouteView, source_arn: str, event: dict[str, Any],
                   trace: EventLog | None = None) -> Outcome:
        """Invoke ``route``'s integration with ``event``; never raises (but on cancellation).

        ``trace``: the event's execution log, when its route logs (None: nothing is written,
        nothing is formatted)."""
        integration = route.integration
        if integration is None:
            if trace is not None:  # chosen wording: AWS refuses such a route at deployment
                trace.error("Execution failed due to configuration error: no integration is "
                            f"defined for route {route.route_key}")
            return _failure(f"route {route.route_key} has no integration")
        if integration.configuration_error is not None:
            if trace is not None:  # REST's observed words (an unset stage variable)
                trace.error(integration.configuration_error)
            return _failure(integration.configuration_error)
        fn = integration.function_arn
        if integration.integration_type != "AWS_PROXY" or not fn:
            reason = (f"integration {integration.integration_id} of type "
                      f"{integration.integration_type} cannot run in the local cloud "
                      "(only Lambda proxy integrations do)")
            if trace is not None:
                trace.error(f"Execution failed due to configuration error: {reason}")
            return _failure(reason)
        payload = json.dumps(event).encode()
        if trace is not None:
            log_request(trace, lambda_uri(self.parts, fn), source_arn, payload)
        denied = self.permissions.check(fn, source_arn)
        if denied is not None:
            if trace is not None:  # observed (REST): the resource policy does not allow it
                trace.error("Execution failed due to configuration error: Invalid permissions "
                            "on Lambda function")
            return _failure(f"Execution failed due to configuration error: API Gateway does "
                            f"not have permission to invoke {fn}: {denied}")
        timeout = min(integration.timeout_ms / 1000, self.limits.integration_timeout_s)
        invoked = await invoke_bounded(self.parts, fn, payload, timeout, trace)
        latency, result = invoked.latency_ms, invoked.result
        if result is None:
            return _failure(invoked.error or "not invoked", latency, invoked.request_id)
        if trace is not None:
            _log_response(trace, result, latency)
        if result.function_error:
            if trace is not None:  # observed (REST), the function's errorMessage quoted
                trace.error(f"Lambda execution failed with status {result.status_code} due to "
                            f"customer function error: {_error_message(result.payload)}. "
                            f"Lambda request id: {result.request_id}")
            snippet = result.payload[:300].decode("utf-8", "replace")
            return _failure(f"Lambda function error ({result.function_error}): {snippet}",
                            latency, result.request_id)
        outcome = parse_proxy_result(result.payload)
        if outcome.error is not None and trace is not None:  # observed (REST)
            trace.error("Execution failed due to configuration error: Malformed Lambda proxy "
                        "response")
        return Outcome(status=outcome.status, body=outcome.body, headers=outcome.headers,
                       error=outcome.error, latency_ms=latency, request_id=result.request_id)
