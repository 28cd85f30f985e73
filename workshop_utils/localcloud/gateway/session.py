"""One TCP connection to the gateway port: HTTP/1.1 requests, until one upgrades.

``GET /{api}/{stage}`` with ``Upgrade: websocket`` becomes a WebSocket connection (handed to
:class:`~.connection.WebSocketConnection`); ``/{api}/{stage}/@connections/{id}`` (``@`` or
``%40``) is the management API; anything else gets a small 403 ``{"message":"Forbidden"}``.
The same paths also work in AWS form, ``/{stage}/...`` with ``Host: {api}.execute-api...``.

No task is made per TCP connection: requests are parsed in ``data_received``; only a $connect
integration runs as a task, with reading paused until it answers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import TYPE_CHECKING

from websockets.http11 import Response

from .connection import WebSocketConnection
from .handshake import refusal, subprotocol_of, validate
from .httpwire import (
    FORBIDDEN,
    MAX_HEAD_BYTES,
    HttpError,
    HttpRequest,
    content_length,
    error_response,
    parse_head,
    response,
)
from .info import ConnectionInfo
from .management import MAX_POST_BYTES
from .management import handle as handle_management

if TYPE_CHECKING:
    from ..apigatewayv2.stages import RouteView, StageView
    from .gateway import Gateway

log = logging.getLogger(__name__)

# An oversized body sent with "Connection: close" is read and dropped up to this size before
# the close, so that the client reads the refusal instead of a connection reset.
MAX_SKIPPED_BEFORE_CLOSE = 16 * 1024 * 1024

_AWS_HOST = re.compile(r"^([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(:\d+)?$", re.I)
_INTERNAL_ERROR = b'{"message": "Internal server error"}'


def split_target(request: HttpRequest) -> tuple[str, str, str | None] | None:
    """(api_id, stage, raw connection id or None) for a gateway path, else None."""
    segments = request.path.split("/")
    host = _AWS_HOST.match(request.header("host") or "")
    if host is not None and len(segments) in (2, 4):  # AWS form: /{stage}[/@connections/{id}]
        segments = ["", host.group(1), *segments[1:]]
    if len(segments) == 3 and segments[1] and segments[2]:
        return segments[1], segments[2], None
    if (len(segments) == 5 and segments[1] and segments[2] and segments[4]
            and segments[3].lower() in ("@connections", "%40connections")):
        return segments[1], segments[2], segments[4]
    return None


class GatewaySession(asyncio.Protocol):
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.ws: WebSocketConnection | None = None
        self.upgrading = False  # a $connect integration is running
        self.lost = False
        self._scanned = 0  # bytes of buf already searched for the end of the head
        self._pending: tuple[HttpRequest, int] | None = None  # head read, body awaited
        self._discard = 0  # bytes of an oversized body still to skip
        self._close_when_skipped = False  # "Connection: close": close once the body is read
        self._continue_sent = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.gateway.sessions.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            if self.ws is not None:
                self.ws.receive(data)
                return
            self.buf += data
            if self.upgrading:
                if len(self.buf) > MAX_HEAD_BYTES:  # talking before the 101: not a client
                    self.transport.abort()
                return
            self._process()
        except Exception:
            log.exception("gateway: unexpected error on a client connection; closing it")
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.gateway.sessions.discard(self)
        if self.ws is not None:
            self.gateway.connection_closed(self.ws, self.ws.connection_lost())

    def pause_writing(self) -> None:
        if self.ws is None:  # an HTTP client not reading its responses: stop reading requests
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.ws is None and not self.upgrading:
            self.transport.resume_reading()

    # -- HTTP ------------------------------------------------------------------------------

    def _process(self) -> None:
        buf = self.buf
        while buf and self.ws is None and not self.upgrading and not self.lost:
            if self._discard:
                n = min(self._discard, len(buf))
                del buf[:n]
                self._discard -= n
                if not self._discard and self._close_when_skipped:
                    self.transport.close()
                    return
                continue
            if self._pending is None:
                end = buf.find(b"\r\n\r\n", max(0, self._scanned - 3))
                if end < 0:
                    self._scanned = len(buf)
                    if len(buf) > MAX_HEAD_BYTES:
                        self._fail(431, "request head too large")
                    return
                self._scanned = 0
                if end > MAX_HEAD_BYTES:
                    self._fail(431, "request head too large")
                    return
                try:
                    request = parse_head(bytes(buf[:end]))
                    length = content_length(request)
                except HttpError as exc:
                    self._fail(exc.status, str(exc))
                    return
                del buf[:end + 4]
                if length > MAX_POST_BYTES:
                    self._discard = length  # never buffered: answered from the head alone
                    self._write(self._answer_oversized(request, length))
                    if not request.keep_alive:
                        # Closing while the client still sends would reset the connection
                        # and lose the answer: read the body to its end first (bounded).
                        if length > MAX_SKIPPED_BEFORE_CLOSE:
                            self.transport.close()
                            return
                        self._close_when_skipped = True
                    continue
                self._pending = (request, length)
                self._continue_sent = False
            request, length = self._pending
            if len(buf) < length:
                if (not self._continue_sent and
                        (request.header("expect") or "").lower() == "100-continue"):
                    self._continue_sent = True
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return
            body = bytes(buf[:length])
            del buf[:length]
            self._pending = None
            self._dispatch(request, body)

    def _write(self, data: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, status: int, message: str) -> None:
        self._write(error_response(status, None, message, keep_alive=False))
        self.transport.close()

    def _answer_oversized(self, request: HttpRequest, length: int) -> bytes:
        """What a request whose body is over the limit gets: the refusal any request to that
        path gets first (signature, permission), else 413."""
        target = split_target(request)
        if target is not None and target[2] is not None:
            api_id, stage, connection_id = target
            return handle_management(self.gateway, request, api_id, stage, connection_id, b"",
                                     oversized=length)
        return response(403, FORBIDDEN, keep_alive=request.keep_alive,
                        headers=(("x-amzn-ErrorType", "ForbiddenException"),))

    def _dispatch(self, request: HttpRequest, body: bytes) -> None:
        target = split_target(request)
        if target is not None:
            api_id, stage, connection_id = target
            if connection_id is not None:
                self._write(handle_management(self.gateway, request, api_id, stage,
                                              connection_id, body))
                if not request.keep_alive:
                    self.transport.close()
                return
            if request.method == "GET" and request.header("upgrade") is not None:
                self._upgrade(request, api_id, stage)
                return
            if request.method == "GET" and self.gateway.stage_view(api_id, stage) is not None:
                self._write_refusal(validate(request))  # 426: "You need a WebSocket client"
                return
        self._write(response(403, FORBIDDEN, keep_alive=request.keep_alive,
                             headers=(("x-amzn-ErrorType", "ForbiddenException"),)))
        if not request.keep_alive:
            self.transport.close()

    # -- WebSocket handshake -----------------------------------------------------------------

    def _write_refusal(self, refused: Response) -> None:
        self._write(refused.serialize())
        self.transport.close()

    def _upgrade(self, request: HttpRequest, api_id: str, stage: str) -> None:
        gateway = self.gateway
        view = gateway.stage_view(api_id, stage)
        if view is None:
            self._write_refusal(refusal(403, FORBIDDEN))
            return
        accepted = validate(request)
        if accepted.status_code != 101:
            self._write_refusal(accepted)
            return
        peer = self.transport.get_extra_info("peername") or ("127.0.0.1", 0)
        settings = gateway.parts.settings
        info = ConnectionInfo(
            connection_id=gateway.ids.connection_id(),
            api_id=api_id,
            stage=stage,
            region=settings.region,
            account_id=settings.account_id,
            connected_at_ms=int(time.time() * 1000),
            source_ip=str(peer[0]),
            user_agent=request.header("user-agent"),
            headers=tuple(request.headers),
            query=request.query or None,
        )
        route = view.routes.get("$connect")
        if route is None:
            gateway.log_connect(view, info, 200)
            self._open(info, accepted)
            return
        self.upgrading = True
        self.transport.pause_reading()
        gateway.spawn(self._run_connect(view, route, info, accepted))

    async def _run_connect(self, view: StageView, route: RouteView, info: ConnectionInfo,
                           accepted: Response) -> None:
        """The $connect route's authorizer (when it has one), then its integration, then the
        101 or the refusal; reading stays paused until they have answered."""
        gateway = self.gateway
        try:
            request = gateway.connect_request(view, info)
            authorized = None
            if route.authorization_type != "NONE":
                authorized = await gateway.authorize(view, route, info, request)
                if self.lost:  # the client left before it was let in: nothing to undo
                    if authorized.allowed:
                        gateway.connect_abandoned(view, info, request)
                    return
                if not authorized.allowed:
                    self._write_refusal(authorized.refusal())
                    return
                info = authorized.connection_info(info)
            outcome = await gateway.connect_integration(view, route, info, request, authorized)
        except asyncio.CancelledError:
            self.transport.abort()
            raise
        except Exception:
            log.exception("gateway: $connect of %s failed unexpectedly", info.connection_id)
            self._write_refusal(refusal(502, _INTERNAL_ERROR))
            return
        if self.lost:  # the client left during $connect; AWS saw it connect, then drop
            if outcome.ok:
                gateway.spawn(gateway.disconnect(info, 1006, ""))
            return
        self.upgrading = False
        if outcome.ok:
            subprotocol = subprotocol_of(outcome.headers)
            if subprotocol:
                accepted.headers["Sec-WebSocket-Protocol"] = subprotocol
            self._open(info, accepted)
            self.transport.resume_reading()
        elif outcome.error is not None:
            self._write_refusal(refusal(502, _INTERNAL_ERROR))
        else:
            self._write_refusal(refusal(outcome.status))

    def _open(self, info: ConnectionInfo, accepted: Response) -> None:
        """Send the 101, register the connection, and feed it what the client sent early."""
        self.transport.write(accepted.serialize())
        ws = WebSocketConnection(self.gateway, info, self.transport)
        self.ws = ws
        self.gateway.connections[info.connection_id] = ws
        if self.buf:
            early, self.buf = bytes(self.buf), bytearray()
            ws.receive(early)
