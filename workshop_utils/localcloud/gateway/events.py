"""Lambda events for WebSocket routes and their authorizer, in the shape of AWS's captures.

Key order follows the captures (aws-powertools tests/events/apiGatewayWebSocketApi*.json,
aws-lambda-go events/testdata/apigw-websocket-*.json) so a printed event looks like AWS's.
The Lambda REQUEST authorizer's event is the developer guide's example (the WebSocket
Lambda authorizer page): the handshake's request, as the CONNECT event has it, plus ``type``,
``methodArn`` and ``stageVariables``.

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
    if info.authorizer is not None:
        # What the $connect authorizer allowed, in every event of the connection (observed:
        # serverless-offline#1379, "like the API Gateway behavior"); its place here is chosen.
        ctx["authorizer"] = dict(info.authorizer)
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


def _handshake_request(info: ConnectionInfo, trace: str, *,
                       for_authorizer: bool = False) -> dict[str, Any]:
    """The upgrade request's headers (client casing) plus what the edge adds, and its query
    string maps (only when the URL has a query string).

    ``Host`` is the AWS-form domain, as on AWS, so code that builds its callback URL from
    the Host header reaches the gateway through the runtime's execute-api routing. The
    authorizer sees the request before the edge drops hop-by-hop headers: ``Connection``,
    ``Upgrade`` and ``content-length: 0`` are in its event, sorted as in the developer
    guide's example (and in localstack#7191's capture); the CONNECT event has none of them.
    """
    pairs: list[tuple[str, str]] = []
    for name, value in info.headers:
        lower = name.lower()
        if lower in _FORWARDED or (lower in _DROPPED_HEADERS and not for_authorizer):
            continue
        pairs.append((name, info.domain_name if lower == "host" else value))
    if for_authorizer and not any(n.lower() == "content-length" for n, _ in pairs):
        pairs.append(("content-length", "0"))
    pairs += [("X-Amzn-Trace-Id", trace), ("X-Forwarded-For", info.source_ip),
              ("X-Forwarded-Port", "443"), ("X-Forwarded-Proto", "https")]
    if for_authorizer:
        pairs.sort(key=lambda pair: pair[0].lower())
    headers: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        headers[name] = value
        multi.setdefault(name, []).append(value)
    request: dict[str, Any] = {"headers": headers, "multiValueHeaders": multi}
    if info.query:
        single, multi_q = query_maps(info.query)
        request["queryStringParameters"] = single
        request["multiValueQueryStringParameters"] = multi_q
    return request


def query_maps(query: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``queryStringParameters`` (the last value of a repeated key) and its multi-value map."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


def connect_event(info: ConnectionInfo, request_id: str, now_ms: int,
                  stage_variables: Mapping[str, str] | None = None,
                  trace: str | None = None) -> dict[str, Any]:
    """CONNECT: the handshake's request (headers, query string), no body.

    ``trace`` is the request's X-Amzn-Trace-Id when its authorizer already saw one."""
    event = _handshake_request(info, trace or trace_id(now_ms))
    _with_stage_variables(event, stage_variables)
    event["requestContext"] = _context(info, "$connect", "CONNECT", request_id, now_ms)
    event["isBase64Encoded"] = False
    return event


def authorizer_request_event(info: ConnectionInfo, request_id: str, now_ms: int, trace: str,
                             stage_variables: Mapping[str, str]) -> dict[str, Any]:
    """The Lambda REQUEST authorizer's event for a handshake: ``type``, ``methodArn``
    (``arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/$connect``, no HTTP method),
    the request's headers and query string, ``stageVariables`` (``{}`` when the stage has
    none, as in the example) and the CONNECT ``requestContext`` of the ``$connect`` event that
    follows (same connection id and request id: chosen). No ``body``, no ``pathParameters``."""
    request = _handshake_request(info, trace, for_authorizer=True)
    event: dict[str, Any] = {"type": "REQUEST", "methodArn": info.source_arn("$connect")}
    event.update(request)
    event["stageVariables"] = dict(stage_variables)
    event["requestContext"] = _context(info, "$connect", "CONNECT", request_id, now_ms)
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
