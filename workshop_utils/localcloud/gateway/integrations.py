"""Running a route's integration: permission, invoke on the shared loop, timeout, result.

Only Lambda proxy integrations (AWS_PROXY to a function) run locally; any other type is
reported as an integration failure with the reason in the cloud log. An invocation that
outlives the integration timeout is left to finish in the background (on AWS the function
keeps running after API Gateway gives up); the client gets the timeout answer at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..apigatewayv2.stages import RouteView
from ..awslambda.exceptions import FunctionNotFound, TooManyRequestsException
from ..iam.resource_policies import ResourcePolicies

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

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300


def _failure(reason: str, latency_ms: int | None = None) -> Outcome:
    return Outcome(status=502, error=reason, latency_ms=latency_ms)


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
    error: str | None = None  # not invoked, timed out, or the runtime failed


async def invoke_bounded(parts: CloudParts, function_arn: str, payload: bytes,
                         timeout_s: float) -> Invoked:
    """Invoke ``function_arn`` as API Gateway does, waiting at most ``timeout_s``; never
    raises (but on cancellation). A late invocation finishes in the background."""
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
        return Invoked(None, latency, f"Endpoint request timed out after {timeout_s:g} s")
    try:
        return Invoked(task.result(), latency)
    except FunctionNotFound:
        return Invoked(None, latency, f"function not found: {function_arn}")
    except TooManyRequestsException as exc:  # over the reserved concurrency: a failure (SPEC)
        return Invoked(None, latency,
                       f"Lambda throttled the invocation ({exc.reason}): {function_arn}")
    except Exception as exc:  # a runtime failure must not reach the client as a traceback
        log.exception("invoking %s failed", function_arn)
        return Invoked(None, latency, f"invocation failed: {type(exc).__name__}: {exc}")


class Integrations:
    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts
        self.limits = parts.settings.limits
        self.permissions = ResourcePolicies(parts)

    async def call(self, route: RouteView, source_arn: str, event: dict[str, Any]) -> Outcome:
        """Invoke ``route``'s integration with ``event``; never raises (but on cancellation)."""
        integration = route.integration
        if integration is None:
            return _failure(f"route {route.route_key} has no integration")
        if integration.configuration_error is not None:
            return _failure(integration.configuration_error)
        fn = integration.function_arn
        if integration.integration_type != "AWS_PROXY" or not fn:
            return _failure(f"integration {integration.integration_id} of type "
                            f"{integration.integration_type} cannot run in the local cloud "
                            "(only Lambda proxy integrations do)")
        denied = self.permissions.check(fn, source_arn)
        if denied is not None:
            return _failure(f"Execution failed due to configuration error: API Gateway does "
                            f"not have permission to invoke {fn}: {denied}")
        timeout = min(integration.timeout_ms / 1000, self.limits.integration_timeout_s)
        invoked = await invoke_bounded(self.parts, fn, json.dumps(event).encode(), timeout)
        if invoked.error is not None:
            return _failure(invoked.error, invoked.latency_ms)
        result = invoked.result
        assert result is not None
        if result.function_error:
            snippet = result.payload[:300].decode("utf-8", "replace")
            return _failure(f"Lambda function error ({result.function_error}): {snippet}",
                            invoked.latency_ms)
        outcome = parse_proxy_result(result.payload)
        return Outcome(status=outcome.status, body=outcome.body, headers=outcome.headers,
                       error=outcome.error, latency_ms=invoked.latency_ms)
