"""The gateway: what happens on a connect, a message and a disconnect (rules: SPEC-gateway.md).

One asyncio server on the gateway port serves WebSocket clients and the @connections API
(one :class:`~.session.GatewaySession` per TCP connection). Frames go through websockets'
Sans-I/O protocol (:mod:`.connection`); routes are chosen by the stage's
RouteSelectionExpression (:mod:`.routing`) from the deployed
:class:`~..apigatewayv2.stages.StageView`, and Lambda integrations run on the cloud's loop
(:mod:`.integrations`).

Each message's integration runs as its own task, as on AWS, which does not order concurrent
invocations: two quick messages of one client may reach their function in either order.

Every event writes the stage's access-log line (:mod:`.access_log`) and, when its route logs,
its execution-log lines (:mod:`.execution_log`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..apigatewayv2.stages import RouteView, StageView
from ..settings import websocket_api_endpoint
from .access_log import AccessLog, context_values
from .authorizers import AuthorizerOutcome, Authorizers
from .connection import GOING_AWAY, WebSocketConnection, wire_log
from .events import connect_event, disconnect_event, message_event, request_time, trace_id
from .execution_log import EventLog, ExecutionLog
from .ids import IdGenerator
from .info import ConnectionInfo
from .integrations import Integrations, Outcome
from .management import iso8601
from .routing import select_route_key
from .session import GatewaySession

if TYPE_CHECKING:
    from ..parts import CloudParts

log = logging.getLogger(__name__)

STOP_CLOSE_TIMEOUT_S = 3.0  # clients get this long to answer the 1001 at shutdown
STOP_DISCONNECT_TIMEOUT_S = 5.0  # pending $disconnect invocations get this long


LIFECYCLE_ROUTES = frozenset({"$connect", "$disconnect"})


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """One handshake's request id, time and trace header: its authorizer and its $connect
    integration see the same ones."""

    request_id: str
    now_ms: int
    trace: str  # its X-Amzn-Trace-Id
    event_log: EventLog | None = None  # its execution log, when the $connect route logs


def _error_frame(message: str, connection_id: str, request_id: str) -> str:
    # AWS's exact spacing: a space after the first colon only.
    return (f'{{"message": "{message}", "connectionId":"{connection_id}", '
            f'"requestId":"{request_id}"}}')


class Gateway:
    """The WebSocket data plane of one cloud: its connections, sessions and tasks."""

    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts
        self.limits = parts.settings.limits
        self.ids = IdGenerator(parts.settings.seed)
        self.integrations = Integrations(parts)
        self.authorizers = Authorizers(parts, self.integrations.permissions)
        self.access_log = AccessLog(parts)
        self.execution_log = ExecutionLog(parts)
        self.connections: dict[str, WebSocketConnection] = {}  # open ones, by connection id
        self.sessions: set[GatewaySession] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        wire_log.setLevel(logging.WARNING)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: GatewaySession(self), sock=sock)

    async def stop(self) -> None:
        """Close every connection with 1001, then let pending $disconnects run (bounded)."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections.values()):
            conn.close(*GOING_AWAY)
        deadline = time.monotonic() + STOP_CLOSE_TIMEOUT_S
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for session in list(self.sessions):
            if session.transport is not None:
                session.transport.abort()
        await asyncio.sleep(0)  # let connection_lost callbacks schedule their $disconnects
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=STOP_DISCONNECT_TIMEOUT_S)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a tracked task (stop() waits for it; its errors are logged)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("gateway task failed", exc_info=exc)

    def stage_view(self, api_id: str, stage: str) -> StageView | None:
        try:
            return self.parts.deployments.stage_view(api_id, stage)
        except Exception:
            log.exception("gateway: reading the stage %s/%s failed", api_id, stage)
            return None

    # -- events -----------------------------------------------------------------------------

    def connect_request(self, view: StageView, info: ConnectionInfo) -> ConnectRequest:
        """A new handshake's request id, time and trace header, and its execution log when the
        stage's $connect route logs (begun here, so that an authorizer adds its lines to it)."""
        now = int(time.time() * 1000)
        request_id = self.ids.request_id()
        event_log = self.execution_log.begin(view, "$connect", info, request_id, "CONNECT")
        return ConnectRequest(request_id, now, trace_id(now), event_log)

    async def authorize(self, view: StageView, route: RouteView, info: ConnectionInfo,
                        request: ConnectRequest) -> AuthorizerOutcome:
        """The $connect route's Lambda authorizer decides (:mod:`.authorizers`). The one place
        where its outcome is known: a refusal is logged (cloud log, CONNECT access-log line,
        the end of the execution log's event) here, an allowed handshake goes on to
        :meth:`connect_integration` with the same request and execution log."""
        outcome = await self.authorizers.authorize(view, route, info, request.request_id,
                                                   request.now_ms, request.trace,
                                                   request.event_log)
        if not outcome.allowed:  # a 401 or 403 is the authorizer working; a 500 is not
            log.log(logging.WARNING if outcome.status >= 500 else logging.INFO,
                    "authorizer of %s/%s refused %s with %d: %s", info.api_id, info.stage,
                    info.connection_id, outcome.status, outcome.reason or outcome.message)
            self._log(view, info, "CONNECT", "$connect", request.request_id, request.now_ms,
                      outcome.status, authorizer=outcome, error_message=outcome.message)
            if request.event_log is not None:
                self.execution_log.end(request.event_log, view, info.region)
        return outcome

    def connect_abandoned(self, view: StageView, info: ConnectionInfo,
                          request: ConnectRequest) -> None:
        """The client left after its authorizer let it in, before $connect ran: the event's
        execution log ends with what it has (the authorizer's lines)."""
        if request.event_log is not None:
            self.execution_log.end(request.event_log, view, info.region)

    async def connect_integration(self, view: StageView, route: RouteView,
                                  info: ConnectionInfo, request: ConnectRequest | None = None,
                                  authorizer: AuthorizerOutcome | None = None) -> Outcome:
        """Run $connect for a connection being established, and log the CONNECT event.

        A step that ran before the integration (the authorizer) passes its ``request``: the
        same request id and trace header, and its lines and the integration's are one event
        in the execution log."""
        request = request or self.connect_request(view, info)
        request_id, now, trace = request.request_id, request.now_ms, request.event_log
        outcome = await self.integrations.call(route, info.source_arn("$connect"),
                                               connect_event(info, request_id, now,
                                                             view.stage_variables,
                                                             request.trace), trace)
        if outcome.error:
            log.warning("$connect of %s (%s/%s) failed: %s", info.connection_id, info.api_id,
                        info.stage, outcome.error)
        status = 200 if outcome.ok else (502 if outcome.error else outcome.status)
        self._log(view, info, "CONNECT", "$connect", request_id, now, status, outcome=outcome,
                  authorizer=authorizer)
        if trace is not None:
            self.execution_log.connected(trace, info, outcome.ok)
            self.execution_log.end(trace, view, info.region)
        return outcome

    def log_connect(self, view: StageView, info: ConnectionInfo, status: int) -> None:
        """The CONNECT event of a stage without a $connect route (nothing to do, not even an
        id to draw, when the stage logs nothing)."""
        if not view.access_log_destination_arn and not view.execution_logging:
            return
        request_id = self.ids.request_id()
        if view.access_log_destination_arn:
            self._log(view, info, "CONNECT", "$connect", request_id,
                      int(time.time() * 1000), status)
        trace = self.execution_log.begin(view, "$connect", info, request_id, "CONNECT")
        if trace is not None:
            self.execution_log.connected(trace, info, 200 <= status < 300)
            self.execution_log.end(trace, view, info.region)

    def on_message(self, conn: WebSocketConnection, text: str) -> None:
        """A complete text message: select the route, then answer or integrate (a task)."""
        info = conn.info
        request_id = self.ids.request_id()
        now = int(time.time() * 1000)
        view = self.stage_view(info.api_id, info.stage)
        if view is None:  # the stage was deleted under the connection
            conn.send_reply(_error_frame("Forbidden", info.connection_id, request_id))
            return
        key = select_route_key(view.route_selection_expression, text)
        # $connect and $disconnect are called by the connection's life only: a message whose
        # selection value is "$disconnect" goes to $default, it does not disconnect anyone.
        route = None if key in LIFECYCLE_ROUTES else view.routes.get(key)
        if route is None:
            route = view.routes.get("$default")
        if route is None:
            conn.send_reply(_error_frame("Forbidden", info.connection_id, request_id))
            self._log(view, info, "MESSAGE", key or "$default", request_id, now, 403,
                      message_id=self.ids.request_id(), error_message="Forbidden")
            trace = self.execution_log.begin(view, None, info, request_id, "MESSAGE")
            if trace is not None:
                self.execution_log.no_route(trace, key)
                self.execution_log.end(trace, view, info.region)
            return
        conn.integration_started()
        task = self.spawn(self._integrate(conn, view, route, text, request_id, now))
        # A callback, not a finally: it runs even for a task cancelled before it started.
        task.add_done_callback(lambda _: conn.integration_done())

    async def _integrate(self, conn: WebSocketConnection, view: StageView, route: RouteView,
                         text: str, request_id: str, now: int) -> None:
        info = conn.info
        message_id = self.ids.request_id()
        trace = self.execution_log.begin(view, route.route_key, info, request_id, "MESSAGE")
        event = message_event(info, route.route_key, text, request_id, message_id, now,
                              view.stage_variables)
        outcome = await self.integrations.call(route, info.source_arn(route.route_key), event,
                                               trace)
        if outcome.error is not None:
            log.warning("route %s of %s/%s failed for %s: %s", route.route_key,
                        info.api_id, info.stage, info.connection_id, outcome.error)
            conn.send_reply(_error_frame("Internal server error", info.connection_id,
                                         request_id))
            status, error = 500, "Internal server error"
        else:
            status, error = outcome.status, None
            if outcome.ok and route.two_way and outcome.body is not None:
                conn.send_reply(outcome.body)
        self._log(view, info, "MESSAGE", route.route_key, request_id, now, status,
                  message_id=message_id, outcome=outcome, error_message=error)
        if trace is not None:
            self.execution_log.message_done(trace, info, status,
                                            invoked=outcome.latency_ms is not None)
            self.execution_log.end(trace, view, info.region)

    def connection_closed(self, conn: WebSocketConnection, status: tuple[int, str]) -> None:
        """The socket of an open connection is gone: forget it and run $disconnect, once the
        integrations of the messages that came before the close have returned."""
        if self.connections.get(conn.info.connection_id) is conn:
            del self.connections[conn.info.connection_id]
        self.spawn(self._disconnect_after_messages(conn, status))

    async def _disconnect_after_messages(self, conn: WebSocketConnection,
                                         status: tuple[int, str]) -> None:
        # Chosen (AWS documents no order): AWS's Python chat sample sends "Bye!", closes, and
        # its message handler reads the sender's row, which its $disconnect deletes. Started
        # first is not enough: the $disconnect's DeleteItem then often overtakes the
        # message's GetItem (measured in tests/integration/test_gateway_frames.py). Bounded:
        # each integration returns by its integration timeout.
        await conn.integrations_done()
        await self.disconnect(conn.info, *status)

    async def disconnect(self, info: ConnectionInfo, code: int, reason: str) -> None:
        """$disconnect, once, after the socket is gone; best effort, result ignored."""
        view = self.stage_view(info.api_id, info.stage)
        if view is None:
            return
        request_id = self.ids.request_id()
        now = int(time.time() * 1000)
        route = view.routes.get("$disconnect")
        trace = self.execution_log.begin(view, "$disconnect", info, request_id, "DISCONNECT")
        outcome = None
        if route is not None:
            outcome = await self.integrations.call(
                route, info.source_arn("$disconnect"),
                disconnect_event(info, request_id, now, code, reason, view.stage_variables),
                trace)
            if outcome.error:
                log.warning("$disconnect of %s failed: %s", info.connection_id, outcome.error)
        self._log(view, info, "DISCONNECT", "$disconnect", request_id, now, 200,
                  outcome=outcome)
        if trace is not None:
            invoked = outcome is not None and outcome.latency_ms is not None
            self.execution_log.disconnected(trace, info, code, reason,
                                            outcome.status if invoked else None)
            self.execution_log.end(trace, view, info.region)

    def _log(self, view: StageView, info: ConnectionInfo, event_type: str, route_key: str,
             request_id: str, now: int, status: int, *, message_id: str | None = None,
             outcome: Outcome | None = None, error_message: str | None = None,
             authorizer: AuthorizerOutcome | None = None) -> None:
        if not view.access_log_destination_arn or not view.access_log_format:
            return
        if outcome is not None and outcome.error and error_message is None:
            error_message = "Internal server error"
        values = context_values(
            view, info, event_type=event_type, route_key=route_key, request_id=request_id,
            request_time_ms=now, request_time=request_time(now), status=status,
            message_id=message_id,
            latency_ms=outcome.latency_ms if outcome else None,
            integration_status=(outcome.status if outcome and outcome.latency_ms is not None
                                and not outcome.error else None),
            error_message=error_message,
            integration_error=outcome.error if outcome else None,
            integration_request_id=outcome.request_id if outcome else None,
            authorizer=authorizer)
        self.access_log.write(view, now, values)

    # -- status (called from a werkzeug thread) -----------------------------------------------

    def status(self) -> dict[str, Any]:
        """Served stages and their open connections, from snapshots (thread-safe reads).

        ``dict.copy()`` is one atomic step under the GIL; a ConnectionInfo is immutable.
        """
        infos = [conn.info for conn in self.connections.copy().values()]
        try:
            stages = self.parts.deployments.served_stages()
        except Exception:
            log.exception("gateway status: listing served stages failed")
            stages = []
        settings = self.parts.settings
        apis: dict[str, dict[str, Any]] = {}
        for view in stages:
            api = apis.setdefault(view.api_id, {"api_id": view.api_id, "name": view.api_name,
                                                "stages": []})
            conns = [
                {"connection_id": i.connection_id, "connected_at": iso8601(i.connected_at_ms),
                 "source_ip": i.source_ip, "user_agent": i.user_agent}
                for i in infos if i.api_id == view.api_id and i.stage == view.stage_name
            ]
            api["stages"].append({
                "stage": view.stage_name,
                "url": f"{websocket_api_endpoint(settings, view.api_id)}/{view.stage_name}",
                "deployment_id": view.deployment_id,
                "connections": conns,
            })
        return {"apis": list(apis.values())}
