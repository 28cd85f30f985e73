"""A stage's execution log: API Gateway's own account of each connect, message and disconnect.

Turned on per stage (``DefaultRouteSettings``) or per route (``RouteSettings[routeKey]``, which
overrides the default key by key) with ``LoggingLevel`` and ``DataTraceEnabled`` (botocore's
apigatewayv2 ``RouteSettings``: "Supported only for WebSocket APIs"):

- ``INFO``: every event, line by line; ``ERROR``: only the error lines of the events that fail
  ("choose ERROR to generate execution logs only for requests to your API that result in an
  error", Knowledge Center), with the Lambda request id when there is one;
- ``DataTraceEnabled`` (with INFO): also the endpoint request's headers and body and the
  endpoint response's headers and body (API Gateway Developer Guide ``set-up-logging.md``,
  "Log full requests/responses data").

Line shapes. No capture of a WebSocket execution log was found, so:

- **observed, REST** (a 2019 eu-west-2 capture and a 2025 us-east-1 one, see
  /work/research/apigateway.md §4.2; find_string ids 28725454009, 31159485353): every line
  starts with ``(<requestId>) ``; ``Extended Request Id: …``, ``Starting execution for
  request: …``, ``Endpoint request URI: …``, ``Endpoint request headers: {K=V, …}``,
  ``Endpoint request body after transformations: …``, ``Sending request to …``,
  ``Endpoint response headers: {…}``, ``Endpoint response body before transformations: …``,
  ``AWS Integration Endpoint RequestId : <Lambda request id>`` (a space before the colon), and
  the failures: ``Execution failed due to configuration error: Invalid permissions on Lambda
  function``, ``Lambda execution failed with status 200 due to customer function error: <error
  message>. Lambda request id: <id>``, ``Execution failed due to a timeout error``, ``Lambda
  invocation failed with status: 429. Lambda request id: <id>`` then ``Execution failed due to
  configuration error: Rate Exceeded.``, ``Execution failed due to configuration error:
  Malformed Lambda proxy response``; ``Received response. Status: 200, Integration latency: N
  ms`` is the newer form of the observed ``Received response. Integration latency: N ms``
  (commonly quoted, not captured);
- **emulator-claimed, WebSocket** (the "stackd" emulator, find_string id 70254883830; a
  hypothesis, kept because nothing contradicts it): ``WebSocket Request Route: [<key>]``,
  ``Client [UserAgent: …, SourceIp: …] is connecting to WebSocket API [<api>].``,
  ``WebSocket API [<api>] received message from client [Connection Id: …].``, ``Client
  [Connection Id: …] connected to API [<api>] successfully.``, ``Message from client
  [Connection Id: …] sent to API [<api>] with response status code [N].``, ``Client
  [Connection Id: …] disconnected from API [<api>] with integration response status code [N].
  Close reason: [<code>: <reason>]`` (without the integration part when none ran);
- **chosen**: REST's ``Method …`` and usage-plan lines are left out (WebSocket has no method;
  API keys apply to ``$connect`` only); the order of the last lines follows REST (the outcome,
  then ``AWS Integration Endpoint RequestId``); a message that matches no route and finds no
  ``$default`` route logs an error line of our wording under the stage's default settings;
  ``@connections`` calls are not in the execution log (no source says they are: what a
  function posted is in its own log); the local gateway does not sign its calls to Lambda, so
  the endpoint request headers have no ``Authorization`` or ``X-Amz-Security-Token``.

Every line is cut to 1 KB with `` [TRUNCATED]``: "log events were truncated to 1 KB" (AWS
What's New, 2026-09-10, "Amazon API Gateway now supports 1 MB execution logs", which lifts it
for REST APIs only), as the REST capture's ``Endpoint request headers: {…} [TRUNCATED]`` shows.

Cost: on a stage that logs nothing an event costs one attribute read
(``StageView.execution_logging``) and nothing is formatted or kept: :meth:`ExecutionLog.begin`
returns None and every caller skips its lines. An event's lines are
collected in an :class:`EventLog` and delivered in one write when it ends (with the account's
CloudWatch role, :mod:`..logs.stage_delivery`). Steps that run before an integration (a Lambda
authorizer on ``$connect``) add their lines to the same EventLog with :meth:`EventLog.info` and
:meth:`EventLog.error`.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ..apigatewayv2.stages import StageView
from ..logs.stage_delivery import deliver, execution_log_group, stream_of

if TYPE_CHECKING:
    from ..parts import CloudParts
    from .info import ConnectionInfo

log = logging.getLogger(__name__)

OFF, ERROR, INFO = 0, 1, 2
_LEVELS = {"ERROR": ERROR, "INFO": INFO}
MAX_EVENT_BYTES = 1024
TRUNCATED = " [TRUNCATED]"


def truncated(line: str) -> str:
    """``line`` cut to API Gateway's 1 KB per log event (on a character boundary)."""
    data = line.encode("utf-8")
    if len(data) <= MAX_EVENT_BYTES:
        return line
    return data[:MAX_EVENT_BYTES].decode("utf-8", "ignore") + TRUNCATED


def java_map(pairs: list[tuple[str, str]]) -> str:
    """Headers as API Gateway prints them: ``{K=V, K=V}`` (Java's ``Map.toString``)."""
    return "{" + ", ".join(f"{k}={v}" for k, v in pairs) + "}"


class EventLog:
    """The execution-log lines of one event (a connect, a message or a disconnect)."""

    __slots__ = ("request_id", "api_id", "verbose", "data_trace", "lines", "failed",
                 "endpoint_request_id")

    def __init__(self, request_id: str, api_id: str, level: int, data_trace: bool) -> None:
        self.request_id = request_id
        self.api_id = api_id
        self.verbose = level >= INFO
        self.data_trace = self.verbose and data_trace
        self.lines: list[tuple[int, str]] = []
        self.failed = False
        self.endpoint_request_id: str | None = None  # the Lambda request id, once answered

    def _add(self, message: str) -> None:
        self.lines.append((int(time.time() * 1000),
                           truncated(f"({self.request_id}) {message}")))

    def info(self, message: str) -> None:
        """An INFO line: written when the route logs at INFO."""
        if self.verbose:
            self._add(message)

    def error(self, message: str) -> None:
        """An ERROR line: written at ERROR and INFO; the event counts as failed."""
        self.failed = True
        self._add(message)

    def data(self, message: str) -> None:
        """A data-trace line (callers test :attr:`data_trace` before formatting one)."""
        if self.data_trace:
            self._add(message)

    def endpoint_request_id_line(self) -> None:
        """``AWS Integration Endpoint RequestId : <id>``: at INFO always, at ERROR for a failed
        event, so its failure can be followed into the function's own log."""
        if self.endpoint_request_id and (self.verbose or self.failed):
            self._add(f"AWS Integration Endpoint RequestId : {self.endpoint_request_id}")


class ExecutionLog:
    """Begins an :class:`EventLog` for an event whose route logs, and delivers it at its end."""

    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts

    @staticmethod
    def level_of(view: StageView, route_key: str | None) -> int:
        """The route's LoggingLevel (its RouteSettings, else the stage's default)."""
        if route_key is not None:
            own = view.route_settings.get(route_key)
            if own is not None and "LoggingLevel" in own:
                return _LEVELS.get(own["LoggingLevel"], OFF)
        return _LEVELS.get(view.default_route_settings.get("LoggingLevel"), OFF)

    @staticmethod
    def _data_trace(view: StageView, route_key: str | None) -> bool:
        own = view.route_settings.get(route_key) if route_key is not None else None
        if own is not None and "DataTraceEnabled" in own:
            return bool(own["DataTraceEnabled"])
        return bool(view.default_route_settings.get("DataTraceEnabled"))

    def begin(self, view: StageView, route_key: str | None, info: ConnectionInfo,
              request_id: str, event_type: str) -> EventLog | None:
        """The event's log with its opening lines, or None when its route does not log.

        ``route_key`` None: no route was selected (the stage's default settings apply)."""
        if not view.execution_logging:
            return None
        level = self.level_of(view, route_key)
        if not level:
            return None
        trace = EventLog(request_id, view.api_id, level, self._data_trace(view, route_key))
        trace.info(f"Extended Request Id: {request_id}")
        trace.info(f"Starting execution for request: {request_id}")
        if route_key is not None:
            trace.info(f"WebSocket Request Route: [{route_key}]")
        if event_type == "CONNECT":
            trace.info(f"Client [UserAgent: {info.user_agent or 'null'}, SourceIp: "
                       f"{info.source_ip}] is connecting to WebSocket API [{view.api_id}].")
        elif event_type == "MESSAGE":
            trace.info(f"WebSocket API [{view.api_id}] received message from client "
                       f"[Connection Id: {info.connection_id}].")
        return trace

    def no_route(self, trace: EventLog, selection: str | None) -> None:
        """A message that selects no route, on an API without ``$default`` (chosen wording;
        the client gets the Forbidden frame)."""
        value = "the message body is not JSON" if selection is None else f"[{selection}]"
        trace.error(f"Execution failed: no route matches the route selection value {value} "
                    "and the API has no $default route: Forbidden")

    def connected(self, trace: EventLog, info: ConnectionInfo, ok: bool) -> None:
        if ok:
            trace.info(f"Client [Connection Id: {info.connection_id}] connected to API "
                       f"[{trace.api_id}] successfully.")

    def message_done(self, trace: EventLog, info: ConnectionInfo, status: int,
                     invoked: bool) -> None:
        if invoked:
            trace.info(f"Message from client [Connection Id: {info.connection_id}] sent to "
                       f"API [{trace.api_id}] with response status code [{status}].")

    def disconnected(self, trace: EventLog, info: ConnectionInfo, code: int, reason: str,
                     integration_status: int | None) -> None:
        integration = ("" if integration_status is None else
                       f" with integration response status code [{integration_status}]")
        trace.info(f"Client [Connection Id: {info.connection_id}] disconnected from API "
                   f"[{trace.api_id}]{integration}. Close reason: [{code}: {reason}]")

    def end(self, trace: EventLog, view: StageView, region: str) -> None:
        """Close the event's lines and write them to the stage's execution log."""
        trace.endpoint_request_id_line()
        if not trace.lines:
            return
        try:
            deliver(self.parts, execution_log_group(view.api_id, view.stage_name),
                    stream_of(view.api_id, view.stage_name), region, trace.lines)
        except Exception:
            log.exception("writing the execution log of %s/%s failed", view.api_id,
                          view.stage_name)
