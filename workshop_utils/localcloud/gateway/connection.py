"""One open WebSocket connection, driven through websockets' Sans-I/O protocol.

The gateway sees every frame, so it enforces API Gateway's quotas itself: a frame over
``frame_bytes`` or a message over ``message_bytes`` closes 1009, a binary frame closes 1003.
websockets' own size limits are set to twice ours: they only stop a client from making us buffer
a huge frame, and the 1009 they send reads the same as ours.

Timers are loop.call_later handles, not tasks: idle (data frames in either direction reset it,
checked lazily so a message costs one float store), maximum duration, and the close timeout.
Pings are answered by websockets but are not data: as on AWS they do not keep a connection alive.

Outgoing frames are written straight to the transport; a client that does not read fills the
transport's buffer, and past ``SEND_BUFFER_LIMIT`` bytes further posts are refused with 429
LimitExceededException ("the WebSocket client side buffer is full", the apigatewaymanagementapi
model's own wording) instead of growing memory; frames the gateway itself sends then are dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from websockets.frames import Opcode
from websockets.protocol import OPEN
from websockets.server import ServerProtocol

from .info import ConnectionInfo

if TYPE_CHECKING:
    from .gateway import Gateway

log = logging.getLogger(__name__)
# websockets logs every open/close at INFO; a thousand clients would flood the cloud log.
wire_log = logging.getLogger(f"{__name__}.wire")

SEND_BUFFER_LIMIT = 1024 * 1024  # bytes queued for one client before posts get 429
CLOSE_TIMEOUT_S = 2.0  # how long a client gets to answer our close frame
MAX_IN_FLIGHT = 16  # messages of one connection being integrated before we stop reading
GOING_AWAY = (1001, "Going away")
TOO_BIG_REASON = "Message too big"
BINARY_REASON = "Binary frames are not supported"
NO_STATUS_REASON = "Client-side close frame status not set"


class SendBufferFull(Exception):
    """The client is not reading: the connection's send buffer is over its limit."""


class _FrameProtocol(ServerProtocol):
    def fail(self, code: int, reason: str = "") -> None:
        if code == 1009:  # websockets' safety net and our quota close alike
            reason = TOO_BIG_REASON
        super().fail(code, reason)


class WebSocketConnection:
    __slots__ = (
        "gateway", "info", "transport", "loop", "proto", "last_data", "_opened_mono", "_opened_ms",
        "_parts", "_size", "_cause", "_idle", "_max", "_close_timer", "_in_flight", "_paused",
        "_drained", "closed",
    )

    def __init__(self, gateway: Gateway, info: ConnectionInfo,
                 transport: asyncio.Transport) -> None:
        limits = gateway.limits
        self.gateway = gateway
        self.info = info
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        self.proto = _FrameProtocol(state=OPEN, logger=wire_log,
                                    max_size=(2 * limits.message_bytes, 2 * limits.frame_bytes))
        self.last_data = self._opened_mono = self.loop.time()
        # Wall time of the open (after $connect), the anchor of lastActiveAt: connectedAt is
        # the upgrade request, before a $connect that may have taken seconds.
        self._opened_ms = int(time.time() * 1000)
        self._parts: list[bytes] | None = None  # fragments of a message being assembled
        self._size = 0
        self._cause: tuple[int, str] | None = None  # why the gateway closed, for $disconnect
        self._idle = self.loop.call_later(limits.idle_timeout_s, self._check_idle)
        self._max = self.loop.call_later(limits.max_duration_s, self.close, *GOING_AWAY)
        self._close_timer: asyncio.TimerHandle | None = None
        self._in_flight = 0
        self._paused = False
        self._drained: asyncio.Future[None] | None = None  # awaited by integrations_done()
        self.closed = False

    # -- state for @connections GET -------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return not self.closed and self.proto.state is OPEN

    def last_active_ms(self) -> int:
        return self._opened_ms + int((self.last_data - self._opened_mono) * 1000)

    # -- incoming -------------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Bytes from the client: frames through websockets, then our quotas and routing.

        Every data frame before the client's close frame is routed, whatever the read
        boundaries: ``send(x); close()`` often arrives in one read, and websockets has parsed
        the close (and moved to CLOSING) before we look at ``x``. So the loop stops *at* the
        close frame, not at the state it leaves behind. websockets parses nothing after a
        close; frames that arrive once the gateway itself has closed (DELETE, idle, a quota)
        are dropped, as is the rest of a read after the gateway fails the connection.
        """
        proto = self.proto
        closing = proto.state is not OPEN  # the gateway already sent its close frame
        proto.receive_data(data)
        limits = self.gateway.limits
        for frame in proto.events_received():
            opcode = frame.opcode
            if closing or opcode is Opcode.CLOSE or self._cause is not None:
                break  # only frames after a close, or after a quota close, are dropped
            if opcode is Opcode.TEXT or opcode is Opcode.CONT:
                if len(frame.data) > limits.frame_bytes:
                    self._fail(1009, TOO_BIG_REASON)
                    break
                self.last_data = self.loop.time()
                if opcode is Opcode.TEXT:
                    if frame.fin:
                        self._deliver(frame.data)
                    else:
                        self._parts, self._size = [frame.data], len(frame.data)
                elif self._parts is not None:
                    self._size += len(frame.data)
                    if self._size > limits.message_bytes:
                        self._fail(1009, TOO_BIG_REASON)
                        break
                    self._parts.append(frame.data)
                    if frame.fin:
                        message, self._parts = b"".join(self._parts), None
                        self._deliver(message)
            elif opcode is Opcode.BINARY:
                self._fail(1003, BINARY_REASON)
                break
            # PING is answered by websockets; PONG needs nothing; CLOSE is echoed by it.
        self._flush()

    def _deliver(self, data: bytes) -> None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(1007, "Invalid UTF-8 in text frame")
            return
        self.gateway.on_message(self, text)

    def integration_started(self) -> None:
        """Backpressure: stop reading while too many of this client's messages are in flight."""
        self._in_flight += 1
        if self._in_flight >= MAX_IN_FLIGHT and not self._paused and not self.closed:
            self._paused = True
            self.transport.pause_reading()

    def integration_done(self) -> None:
        self._in_flight -= 1
        if self._paused and self._in_flight < MAX_IN_FLIGHT // 2 and not self.closed:
            self._paused = False
            self.transport.resume_reading()
        if self._in_flight == 0 and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def integrations_done(self) -> None:
        """Return once no message integration of this connection is running any more.

        $disconnect waits for this (see ``Gateway.connection_closed``). Each integration
        ends by its integration timeout at the latest, so the wait is bounded by it.
        """
        if self._in_flight == 0:
            return
        if self._drained is None or self._drained.done():
            self._drained = self.loop.create_future()
        await asyncio.shield(self._drained)

    # -- outgoing -------------------------------------------------------------------------

    def post(self, data: bytes) -> None:
        """Queue ``data`` as one text message (an @connections POST); never waits."""
        if self.transport.get_write_buffer_size() > SEND_BUFFER_LIMIT:
            raise SendBufferFull(self.info.connection_id)
        self.proto.send_text(data)
        self.last_data = self.loop.time()
        self._flush()

    def send_reply(self, text: str) -> None:
        """A frame the gateway sends on its own (route response, error frame); best effort."""
        if not self.is_open:
            return
        if self.transport.get_write_buffer_size() > SEND_BUFFER_LIMIT:
            log.warning("connection %s is not reading; dropped a %d-byte frame",
                        self.info.connection_id, len(text))
            return
        self.proto.send_text(text.encode())
        self.last_data = self.loop.time()
        self._flush()

    def close(self, code: int, reason: str, disconnect_reason: str | None = None) -> None:
        """Start the closing handshake; $disconnect will report ``code`` and the reason."""
        if not self.is_open:
            return
        self._cause = (code, disconnect_reason if disconnect_reason is not None else reason)
        self.proto.send_close(code, reason)
        self._flush()

    def _fail(self, code: int, reason: str) -> None:
        self._cause = (code, reason)
        self.proto.fail(code, reason)

    def _flush(self) -> None:
        transport = self.transport
        for chunk in self.proto.data_to_send():
            if transport.is_closing():
                break
            if chunk:
                transport.write(chunk)
            else:  # end of stream: a server closes TCP once the closing handshake is done
                transport.close()
        if self._close_timer is None and self.proto.close_expected():
            self._close_timer = self.loop.call_later(CLOSE_TIMEOUT_S, transport.abort)

    def _check_idle(self) -> None:
        remaining = self.last_data + self.gateway.limits.idle_timeout_s - self.loop.time()
        if remaining > 0:
            self._idle = self.loop.call_later(remaining, self._check_idle)
        else:
            self.close(*GOING_AWAY)

    # -- end ------------------------------------------------------------------------------

    def connection_lost(self) -> tuple[int, str]:
        """The socket is gone: stop timers and say which code/reason $disconnect reports."""
        self.closed = True
        self._idle.cancel()
        self._max.cancel()
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._cause is not None:
            return self._cause
        proto = self.proto
        rcvd = proto.close_rcvd
        if rcvd is not None:
            if rcvd.code == 1005:
                return 1005, NO_STATUS_REASON
            return rcvd.code, rcvd.reason
        sent = proto.close_sent
        if sent is not None:
            return sent.code, sent.reason
        return 1006, ""
