"""Stage access logs: one line per CONNECT, MESSAGE and DISCONNECT, as API Gateway writes them.

The stage's AccessLogSettings give a destination (``arn:aws:logs:region:account:log-group:NAME``)
and a Format with ``$context.*`` variables; each variable is filled in, and a variable that has
no value for the event (or that the local cloud does not know) is written as ``-``, as AWS does.
Lines are delivered with the account's CloudWatch role (:mod:`..logs.stage_delivery`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..apigatewayv2.stages import StageView
from ..logs.stage_delivery import deliver, stream_of

if TYPE_CHECKING:
    from ..parts import CloudParts
    from .authorizers import AuthorizerOutcome

log = logging.getLogger(__name__)

_VARIABLE = re.compile(r"\$context\.([A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*)")


def render(fmt: str, values: Mapping[str, Any]) -> str:
    """``fmt`` with every ``$context.<name>`` replaced by its value or ``-``."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return "-" if value is None or value == "" else str(value)

    return _VARIABLE.sub(fill, fmt)


def log_group_of(destination_arn: str) -> tuple[str, str | None] | None:
    """(group name, region) from a log group ARN (with or without a trailing ``:*``)."""
    parts = destination_arn.split(":")
    if len(parts) < 7 or parts[2] != "logs" or parts[5] != "log-group":
        return None
    name = parts[6]
    return name, parts[3] or None


class AccessLog:
    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts

    def write(self, view: StageView, ts_ms: int, values: Mapping[str, Any]) -> None:
        """Append one line for an event to the stage's access log, if it has one."""
        if not view.access_log_destination_arn or not view.access_log_format:
            return
        target = log_group_of(view.access_log_destination_arn)
        if target is None:
            log.warning("stage %s/%s: access log destination %r is not a log group ARN",
                        view.api_id, view.stage_name, view.access_log_destination_arn)
            return
        group, region = target
        try:
            deliver(self.parts, group, stream_of(view.api_id, view.stage_name),
                    region or self.parts.settings.region,
                    [(ts_ms, render(view.access_log_format, values))])
        except Exception:
            log.exception("writing the access log of %s/%s failed", view.api_id,
                          view.stage_name)


def context_values(view: StageView, info: Any, *, event_type: str, route_key: str,
                   request_id: str, request_time_ms: int, request_time: str, status: int,
                   message_id: str | None = None, latency_ms: int | None = None,
                   integration_status: int | None = None, error_message: str | None = None,
                   integration_error: str | None = None,
                   integration_request_id: str | None = None,
                   authorizer: AuthorizerOutcome | None = None) -> dict[str, Any]:
    """The ``$context`` variables of one event, by name (without ``$context.``).

    ``authorizer`` is the outcome of the handshake's authorizer (CONNECT lines only); the
    connection's ``principalId`` and context keys are in every line of an authorized
    connection, stringified as AWS writes them (``1`` -> ``"1"``, ``true`` -> ``"true"``)."""
    values: dict[str, Any] = {
        "apiId": view.api_id,
        "stage": view.stage_name,
        "connectionId": info.connection_id,
        "connectedAt": info.connected_at_ms,
        "domainName": info.domain_name,
        "eventType": event_type,
        "routeKey": route_key,
        "requestId": request_id,
        "extendedRequestId": request_id,
        "messageId": message_id,
        "messageDirection": "IN",
        "requestTime": request_time,
        "requestTimeEpoch": request_time_ms,
        "status": status,
        "identity.sourceIp": info.source_ip,
        "identity.userAgent": info.user_agent,
        "identity.accountId": None,
        "integrationLatency": latency_ms,
        "integration.latency": latency_ms,
        "integrationStatus": integration_status,
        "integration.status": integration_status,
        "integration.integrationStatus": integration_status,
        "integrationErrorMessage": integration_error,
        "integration.error": integration_error,
        # The Lambda request id of the invocation ($context.awsEndpointRequestId's alias in
        # the WebSocket list): what joins this line to the function's START/REPORT.
        "integration.requestId": integration_request_id,
        "error.message": error_message,
        "error.messageString": f'"{error_message}"' if error_message else None,
    }
    for key, value in info.authorizer or ():
        if key != "integrationLatency":
            values[f"authorizer.{key}"] = _stringified(value)
    if authorizer is not None:
        values.update(_authorizer_values(authorizer))
    return values


def _stringified(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _authorizer_values(outcome: AuthorizerOutcome) -> dict[str, Any]:
    """``$context.authorizer.*`` / ``authorize.*`` of a handshake (the WebSocket logging page
    lists them; what each holds on a refusal is chosen: the refusal's status and message)."""
    invoked = outcome.integration_latency_ms is not None
    authorizer_status = (outcome.status if outcome.authorize_status is None
                         else 200)  # the Lambda step answered; the policy decided
    values: dict[str, Any] = {
        "authorizer.status": authorizer_status,
        "authorizer.latency": outcome.latency_ms,
        "authorizer.integrationLatency": outcome.integration_latency_ms,
        "authorizer.integrationStatus": outcome.integration_status if invoked else None,
        "authorizer.requestId": outcome.lambda_request_id,
        "authorizer.error": outcome.message if outcome.authorize_status is None else None,
        "authorize.status": outcome.authorize_status,
        "authorize.latency": 0 if outcome.authorize_status is not None else None,
        "authorize.error": outcome.message if outcome.authorize_status == 403 else None,
        "error.responseType": outcome.response_type,
    }
    if outcome.allowed:
        values["authorizer.principalId"] = outcome.principal_id
    return values
