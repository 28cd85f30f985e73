"""Lambda proxy events for WebSocket routes, in the compact shape of current AWS captures.

Key order follows the captures (aws-powertools tests/events/apiGatewayWebSocketApi*.json,
aws-lambda-go events/testdata/apigw-websocket-*.json) so a printed event looks like AWS's.

``stageVariables`` (a map) is there only when the stage has variables. No capture shows a
WebSocket event from a stage with variables: the captures (stages without) have no such key,
REST proxy events carry the map (``null`` when there are none), and the aws-lambda types
(DefinitelyTyped ``APIGatewayProxyWebsocketEventV2WithRequestContext``) declare it
optional. Chosen: the key when there are variables, placed before ``requestContext`` as in
REST events.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from .info import ConnectionInfo

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Hop-by-hop headers API Gateway does not pass on (absent from captured CONNECT events).
_DROPPED_HEADERS = frozenset({"connection", "upgrade"})
_FORWARDED = ("x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id")


def request_time(epoch_ms: int) -> str:
    """CLF time as API Gateway writes it: ``11/Nov/2024:11:35:24 +0000`` (locale-free)."""
    t = time.gmtime(epoch_ms / 1000)
    return (f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000")


def trace_id(epoch_ms: int) -> str:
    """An X-Ray trace header: ``Root=1-<8 hex epoch s>-<24 hex>``."""
    return f"Root=1-{epoch_ms // 1000:08x}-{os.urandom(12).hex()}"


def _identity(info: ConnectionInfo) -> dict[str, str]:
    identity = {"sourceIp": info.source_ip}
    if info.user_agent is not None:
        identity["userAgent"] = info.user_agent
    return identity


def _context(info: ConnectionInfo, route_key: str, event_type: str, request_id: str,
             now_ms: int, message_id: str | None = None,
             disconnect: tuple[int, str] | None = None) -> dict[str, Any]:
    ctx: dict[str, Any] = {"routeKey": route_key}
    if message_id is not None:
        ctx["messageId"] = message_id
    if disconnect is not None:
        ctx["disconnectStatusCode"] = disconnect[0]
    ctx["eventType"] = event_type
    ctx["extendedRequestId"] = request_id
    ctx["requestTime"] = request_time(now_ms)
    ctx["messageDirection"] = "IN"
    if disconnect is not None:
        ctx["disconnectReason"] = disconnect[1]
    ctx["stage"] = info.stage
    ctx["connectedAt"] = info.connected_at_ms
    ctx["requestTimeEpoch"] = now_ms
    ctx["identity"] = _identity(info)
    ctx["requestId"] = request_id
    ctx["domainName"] = info.domain_name
    ctx["connectionId"] = info.connection_id
    ctx["apiId"] = info.api_id
    return ctx


def _with_stage_variables(event: dict[str, Any],
                          stage_variables: Mapping[str, str] | None) -> dict[str, Any]:
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    return event


def connect_event(info: ConnectionInfo, request_id: str, now_ms: int,
                  stage_variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """CONNECT: the upgrade request's headers (client casing) plus what the edge adds.

    ``Host`` is the AWS-form domain, as on AWS, so code that builds its callback URL from
    the Host header reaches the gateway through the runtime's execute-api routing.
    """
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in info.headers:
        lower = name.lower()
        if lower in _DROPPED_HEADERS or lower in _FORWARDED:
            continue
        if lower == "host":
            value = info.domain_name
        headers[name] = value
        multi.setdefault(name, []).append(value)
    for name, value in (("X-Amzn-Trace-Id", trace_id(now_ms)),
                        ("X-Forwarded-For", info.source_ip),
                        ("X-Forwarded-Port", "443"),
                        ("X-Forwarded-Proto", "https")):
        headers[name] = value
        multi[name] = [value]
    event: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi}
    if info.query:
        single: dict[str, str] = {}
        multi_q: dict[str, list[str]] = {}
        for key, value in parse_qsl(info.query, keep_blank_values=True):
            single[key] = value
            multi_q.setdefault(key, []).append(value)
        event["queryStringParameters"] = single
        event["multiValueQueryStringParameters"] = multi_q
    _with_stage_variables(event, stage_variables)
    event["requestContext"] = _context(info, "$connect", "CONNECT", request_id, now_ms)
    event["isBase64Encoded"] = False
    return event


def message_event(info: ConnectionInfo, route_key: str, body: str, request_id: str,
                  message_id: str, now_ms: int,
                  stage_variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """MESSAGE: the frame's text as ``body``; no headers, no query string."""
    event = _with_stage_variables({}, stage_variables)
    event["requestContext"] = _context(info, route_key, "MESSAGE", request_id, now_ms,
                                       message_id=message_id)
    event["body"] = body
    event["isBase64Encoded"] = False
    return event


def disconnect_event(info: ConnectionInfo, request_id: str, now_ms: int, code: int,
                     reason: str,
                     stage_variables: Mapping[str, str] | None = None) -> dict[str, Any]:
    """DISCONNECT: exactly the four headers AWS sends, plus the close code and reason."""
    headers = {"Host": info.domain_name, "x-api-key": "", "X-Forwarded-For": "",
               "x-restapi": ""}
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
    }
    _with_stage_variables(event, stage_variables)
    event["requestContext"] = _context(info, "$disconnect", "DISCONNECT", request_id, now_ms,
                                       disconnect=(code, reason))
    event["isBase64Encoded"] = False
    return event
