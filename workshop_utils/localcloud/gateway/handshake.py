"""The opening handshake: check the upgrade request, run $connect, then 101 or a refusal.

websockets' Sans-I/O ``ServerProtocol.accept`` validates the request (method, version, key,
Upgrade/Connection) and computes ``Sec-WebSocket-Accept``; the gateway decides the rest:
- unknown api or stage: 403 (chosen);
- a $connect route with a Lambda authorizer: it decides first (401, 403 or 500 refuse;
  :mod:`.authorizers`);
- a $connect route: its integration runs before the 101; 2xx accepts, another statusCode
  refuses with that status, a failure (raise, timeout, not invokable, no permission) with 502;
- only a ``Sec-WebSocket-Protocol`` header the function returns goes into the 101;
- the function's body never reaches the client.
"""

from __future__ import annotations

from http import HTTPStatus

from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from .connection import wire_log
from .httpwire import HttpRequest, http_date


def validate(request: HttpRequest) -> Response:
    """The 101 for a valid upgrade request, else websockets' refusal (400, 426...)."""
    try:
        headers = Headers(request.headers)
    except Exception:  # InvalidHeaderValue: control characters in a value
        return refusal(400)
    ws_request = Request(request.target, headers, method=request.method,
                         protocol=request.version)
    return ServerProtocol(logger=wire_log).accept(ws_request)


def refusal(status: int, body: bytes = b"") -> Response:
    """A refused handshake: ``status``, no function body, connection closed."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = Headers([("Date", http_date()), ("Content-Type", "application/json"),
                       ("Content-Length", str(len(body))), ("Connection", "close")])
    return Response(status, phrase, headers, body)


def subprotocol_of(headers: dict[str, str]) -> str | None:
    """The Sec-WebSocket-Protocol header a $connect function returned, if any."""
    for name, value in headers.items():
        if name.lower() == "sec-websocket-protocol":
            return value
    return None
