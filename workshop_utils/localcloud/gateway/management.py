"""The @connections API (apigatewaymanagementapi): what a broadcast Lambda calls.

``POST`` queues the body as one text message on the connection's transport and answers at
once (a slow client never stalls a broadcast); ``GET`` describes the connection; ``DELETE``
closes it with 1000. Ids not open on that API and stage (unknown, closed, or still in $connect)
answer 410 with ``x-amzn-ErrorType: GoneException``, which botocore needs to raise
``client.exceptions.GoneException``; a string that is not a connection id at all
(:func:`.ids.is_connection_id`) answers 400 ``BadRequestException`` "Invalid connectionId:
<id>", as AWS does (a plain ``ClientError`` in boto3: the model has no such error).

IAM: requests must carry a SigV4 signature (chosen: unsigned ones get 403 "Missing
Authentication Token"). A request signed by a Lambda function's role is checked for
``execute-api:ManageConnections`` on ``<api>/<stage>/<METHOD>/@connections/<id>``
(:func:`authorize`); other signers (the learner, tests) are not. Checks come in AWS's order:
signature, then permission, then the size of the body, then the stage, then the id (chosen
where AWS's order is not known: the id last, since only an unknown id needs its shape read).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote

from .connection import SendBufferFull
from .httpwire import FORBIDDEN, HttpRequest, error_response, response
from .ids import is_connection_id

if TYPE_CHECKING:
    from .gateway import Gateway

MAX_POST_BYTES = 131072


def is_signed(request: HttpRequest) -> bool:
    auth = request.header("authorization") or ""
    if auth.startswith("AWS4-HMAC-SHA256") and "Credential=" in auth:
        return True
    query = request.query or ""
    return "X-Amz-Signature=" in query and "X-Amz-Credential=" in query


def authorize(gateway: Gateway, request: HttpRequest, resource_arn: str) -> str | None:
    """None when the caller may manage connections on ``resource_arn``, else AWS's message.

    A request signed by a function's execution role needs ``execute-api:ManageConnections``
    on ``resource_arn`` in that role's policies; other callers (a notebook, a test) are not
    checked (see :mod:`..iam.identity_policies`).
    """
    session = gateway.parts.iam_sessions.session_of(request.header("authorization"))
    if session is None:
        return None
    role_arn, session_name, _ = session
    return gateway.parts.identity_policies.denial(role_arn, session_name,
                                                  "execute-api:ManageConnections", resource_arn)


def iso8601(epoch_ms: int) -> str:
    seconds, ms = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def handle(gateway: Gateway, request: HttpRequest, api_id: str, stage: str,
           raw_connection_id: str, body: bytes, *, oversized: int | None = None) -> bytes:
    """Answer one @connections request (the complete HTTP response).

    ``oversized``: the declared length of a body too large to have been read; it is answered
    413 only once the signature and the permission have been checked."""
    keep = request.keep_alive
    if not is_signed(request):
        return error_response(403, "MissingAuthenticationTokenException",
                              "Missing Authentication Token", keep)
    method = request.method
    if method not in ("POST", "GET", "DELETE"):
        return response(403, FORBIDDEN, headers=(("x-amzn-ErrorType", "ForbiddenException"),),
                        keep_alive=keep)
    connection_id = unquote(raw_connection_id)
    info = gateway.parts.settings
    resource = (f"arn:aws:execute-api:{info.region}:{info.account_id}:{api_id}/{stage}/"
                f"{method}/@connections/{connection_id}")
    denied = authorize(gateway, request, resource)
    if denied is not None:
        return error_response(403, "AccessDeniedException", denied, keep)
    if oversized is None and method == "POST" and len(body) > MAX_POST_BYTES:
        oversized = len(body)
    if oversized is not None:
        return error_response(413, "PayloadTooLargeException",
                              f"Request entity too large: {oversized} bytes, the maximum is "
                              f"{MAX_POST_BYTES}", keep)
    conn = gateway.connections.get(connection_id)
    if (conn is None or not conn.is_open or conn.info.api_id != api_id
            or conn.info.stage != stage):
        if gateway.parts.deployments.stage_view(api_id, stage) is None:
            return response(403, FORBIDDEN,
                            headers=(("x-amzn-ErrorType", "ForbiddenException"),),
                            keep_alive=keep)
        if not is_connection_id(connection_id):
            return error_response(400, "BadRequestException",
                                  f"Invalid connectionId: {connection_id}", keep)
        return error_response(410, "GoneException", None, keep)
    if method == "POST":
        try:
            conn.post(body)
        except SendBufferFull:
            return error_response(429, "LimitExceededException",
                                  "the WebSocket client side buffer is full", keep)
        return response(200, keep_alive=keep)
    if method == "GET":
        payload = {
            "connectedAt": iso8601(conn.info.connected_at_ms),
            "identity": {"sourceIp": conn.info.source_ip,
                         "userAgent": conn.info.user_agent or ""},
            "lastActiveAt": iso8601(conn.last_active_ms()),
        }
        return response(200, json.dumps(payload).encode(), keep_alive=keep)
    conn.close(1000, "", disconnect_reason="Connection Closed Normally")
    return response(204, keep_alive=keep)
