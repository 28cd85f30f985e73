"""One chat message followed across its whole path, joined by the ids in CloudWatch Logs.

Notebook 07 makes these filter calls in its cells first; this module is the same three calls
with waiting, paging and parsing, and a sequence diagram of what they found:

1. the stage's **access log**, written with :data:`ACCESS_FORMAT`: the MESSAGE line of the
   route gives the gateway's ``requestId`` (R) and ``messageId``, the sender's connection id,
   and ``$context.integration.requestId``, the Lambda request id (L) of the invocation (API
   Gateway Developer Guide, "Customizing WebSocket API access logs": "Same as
   ``$context.awsEndpointRequestId``");
2. the stage's **execution log**: every line of that request starts with ``(R)``; among them
   the integration's status and latency and ``AWS Integration Endpoint RequestId : L``;
3. the **function's own log**: START, the handler's JSON lines (each with ``awsRequestId``
   L), END and REPORT (its duration). At DEBUG (the function's ``LOG_LEVEL``, or Lambda's
   ``AWS_LAMBDA_LOG_LEVEL``) the chat's handlers also log each DynamoDB call and each
   ``@connections`` post, which no AWS log lists.

On AWS each group shows its events seconds after they were written, each group on its own
schedule: every read waits (bounded, ``waiting.wait_for_log_events``) until the piece it
needs is there, and reads every page (``nextToken``). Locally the waits return at once.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .logview import report_lines
from .waiting import wait_for_log_events

# The access-log format the trace reads: space-separated, one field per $context variable.
ACCESS_FIELDS = ("requestId", "messageId", "eventType", "routeKey", "status", "connectionId",
                 "integrationRequestId")
ACCESS_FORMAT = ("$context.requestId $context.messageId $context.eventType $context.routeKey "
                 "$context.status $context.connectionId $context.integration.requestId")

LATENCY_RE = re.compile(r"Integration latency: (\d+) ms")
ENDPOINT_ID_RE = re.compile(r"AWS Integration Endpoint RequestId : (\S+)")
# An execution log's lines of one request are all there once its outcome is: the integration's
# request id, or a failure (which may come without one).
OUTCOME_RE = re.compile(r"AWS Integration Endpoint RequestId : |Execution failed|"
                        r"Lambda execution failed|Lambda invocation failed")


def parse_access_line(message: str) -> dict[str, str] | None:
    """The fields of one access-log line in :data:`ACCESS_FORMAT` (None for another shape)."""
    values = message.split()
    if len(values) != len(ACCESS_FIELDS):
        return None
    return dict(zip(ACCESS_FIELDS, values, strict=True))


def access_pattern(route_key: str) -> str:
    """The filter for a route's access-log lines (the MESSAGE ones are picked from them): one
    quoted term, matched as written (a term with ``$``, ``-`` or ``=`` must be quoted)."""
    return f'"{route_key}"'


def request_pattern(request_id: str) -> str:
    """The filter for one request's execution-log lines: they all start with ``(<id>)``."""
    return f'"({request_id})"'


def invocation_pattern(lambda_request_id: str) -> str:
    """The filter for one invocation's lines: START, END, REPORT and every JSON line of the
    chat's handlers carry its request id."""
    return f'"{lambda_request_id}"'


@dataclass
class Trace:
    """What the logs say about one message, hop by hop."""

    access: dict[str, str]
    execution: list[str] = field(default_factory=list)  # that request's lines, "(R) " cut
    invocation: list[str] = field(default_factory=list)  # START … REPORT, in order
    handler: list[dict[str, Any]] = field(default_factory=list)  # the JSON lines among them

    @property
    def request_id(self) -> str:
        return self.access["requestId"]

    @property
    def message_id(self) -> str:
        return self.access["messageId"]

    @property
    def sender(self) -> str:
        return self.access["connectionId"]

    @property
    def lambda_request_id(self) -> str | None:
        """The access log's integration request id, else the execution log's (``-``: none)."""
        found = self.access.get("integrationRequestId", "-")
        if found != "-":
            return found
        for line in self.execution:
            match = ENDPOINT_ID_RE.search(line)
            if match:
                return match[1]
        return None

    @property
    def integration_latency_ms(self) -> int | None:
        for line in self.execution:
            match = LATENCY_RE.search(line)
            if match:
                return int(match[1])
        return None

    @property
    def report(self) -> dict[str, Any] | None:
        found = report_lines([{"message": m} for m in self.invocation])
        return found[0] if found else None

    def lines(self, event: str) -> list[dict[str, Any]]:
        """The handler's JSON lines of one kind (``"dynamodb"``, ``"post"``, ``"broadcast"``)."""
        return [line for line in self.handler if line.get("event") == event]

    @property
    def recipients(self) -> list[str]:
        """The connections the message was posted to: from the DEBUG post lines if there are
        any (fan-out order), else none are known by id."""
        return list(dict.fromkeys(line["connectionId"] for line in self.lines("post")))


def find_message(logs: Any, access_group: str, *, route_key: str = "sendmessage",
                 start_time_ms: int, timeout_s: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, str]:
    """The first MESSAGE of ``route_key`` in the access log since ``start_time_ms``."""
    events = wait_for_log_events(logs, access_group, filter_pattern=access_pattern(route_key),
                                 start_time_ms=start_time_ms, timeout_s=timeout_s, sleep=sleep)
    for event in events:
        line = parse_access_line(event["message"])
        if line and line["eventType"] == "MESSAGE" and line["routeKey"] == route_key:
            return line
    raise LookupError(f"no MESSAGE line of route {route_key} in {access_group} since "
                      f"{start_time_ms} within {timeout_s:g} s (is the stage's access log on, "
                      "in trace.ACCESS_FORMAT?)")


def execution_lines(logs: Any, execution_group: str, request_id: str, *,
                    start_time_ms: int | None = None, timeout_s: float = 30.0,
                    sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """One request's execution-log lines, without their ``(R) `` prefix, once its outcome is
    there (bounded: what is there when ``timeout_s`` passes)."""
    prefix = f"({request_id}) "
    events = wait_for_log_events(
        logs, execution_group, filter_pattern=request_pattern(request_id),
        start_time_ms=start_time_ms, timeout_s=timeout_s, sleep=sleep,
        until=lambda found: any(OUTCOME_RE.search(e["message"]) for e in found))
    return [e["message"].removeprefix(prefix).rstrip("\n") for e in events
            if e["message"].startswith(prefix)]


def invocation_lines(logs: Any, function_group: str, lambda_request_id: str, *,
                     start_time_ms: int | None = None, timeout_s: float = 30.0,
                     sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """One invocation's lines, START to REPORT, once its REPORT is there (bounded)."""
    report = f"REPORT RequestId: {lambda_request_id}"
    events = wait_for_log_events(
        logs, function_group, filter_pattern=invocation_pattern(lambda_request_id),
        start_time_ms=start_time_ms, timeout_s=timeout_s, sleep=sleep,
        until=lambda found: any(e["message"].startswith(report) for e in found))
    return [e["message"].rstrip("\n") for e in events]


def handler_lines(invocation: list[str]) -> list[dict[str, Any]]:
    """The JSON objects among an invocation's lines (defensive: anything else is skipped)."""
    found = []
    for message in invocation:
        if not message.startswith("{"):
            continue
        try:
            line = json.loads(message)
        except ValueError:
            continue
        if isinstance(line, dict):
            found.append(line)
    return found


def collect(logs: Any, *, access_group: str, execution_group: str, function_group: str,
            start_time_ms: int, route_key: str = "sendmessage", timeout_s: float = 30.0,
            sleep: Callable[[float], None] = time.sleep) -> Trace:
    """The trace of the first ``route_key`` message since ``start_time_ms``: access line, then
    its request's execution lines, then its invocation, each read by the id the step before
    found."""
    access = find_message(logs, access_group, route_key=route_key,
                          start_time_ms=start_time_ms, timeout_s=timeout_s, sleep=sleep)
    trace = Trace(access)
    trace.execution = execution_lines(logs, execution_group, trace.request_id,
                                      start_time_ms=start_time_ms, timeout_s=timeout_s,
                                      sleep=sleep)
    lambda_id = trace.lambda_request_id
    if lambda_id:
        trace.invocation = invocation_lines(logs, function_group, lambda_id,
                                            start_time_ms=start_time_ms, timeout_s=timeout_s,
                                            sleep=sleep)
        trace.handler = handler_lines(trace.invocation)
    return trace


# --- the sequence diagram ----------------------------------------------------------------------

SENDER, GATEWAY, FUNCTION, DYNAMODB, CONNECTIONS = (
    "sender", "API Gateway", "broadcast Lambda", "DynamoDB", "@connections")


@dataclass(frozen=True)
class Arrow:
    """One hop: from one participant to another, labelled with what the logs say of it."""

    source: str
    target: str
    label: str


def short(identifier: str, keep: int | None = 8) -> str:
    """An id cut to ``keep`` characters for a diagram label (None: the whole id)."""
    if keep is None or len(identifier) <= keep + 1:
        return identifier
    return identifier[:keep] + "…"


def _ms(value: Any) -> str:
    return f"{value:g} ms" if isinstance(value, int | float) else "? ms"


def recipient(connection_id: str, sender: str, keep: int | None = 8) -> str:
    """The participant a post goes to (the sender gets its own echo)."""
    return f"{SENDER} (echo)" if connection_id == sender else f"to {short(connection_id, keep)}"


def _dynamodb_arrow(line: dict[str, Any]) -> Arrow:
    count = line.get("count")
    count = f", {count} item{'' if count == 1 else 's'}" if count is not None else ""
    error = f", {line['errorCode']}" if "errorCode" in line else ""
    return Arrow(FUNCTION, DYNAMODB, f"{line.get('operation')}{count}{error}  "
                                     f"{_ms(line.get('ms'))}")


def sequence(trace: Trace, keep: int | None = 8) -> list[Arrow]:
    """The hops of ``trace`` as arrows between participants, ids cut to ``keep`` characters.

    The calls before the fan-out in the order they were made; the posts, which run
    concurrently (their log order is the order they finished), the others' by connection id
    and the sender's echo last, so the same message draws the same diagram every time; then
    what the fan-out called DynamoDB for (a gone id's DeleteItem)."""
    arrows = [Arrow(SENDER, GATEWAY, f"{trace.access['routeKey']}  requestId "
                                     f"{short(trace.request_id, keep)}  messageId "
                                     f"{short(trace.message_id, keep)}")]
    lambda_id = trace.lambda_request_id
    if lambda_id is None:
        failure = next((line for line in trace.execution if "failed" in line), "no invocation")
        arrows.append(Arrow(GATEWAY, GATEWAY, failure))
        return arrows
    arrows.append(Arrow(GATEWAY, FUNCTION, f"Invoke  RequestId {short(lambda_id, keep)}"))
    posts = trace.lines("post")
    first_post = trace.handler.index(posts[0]) if posts else len(trace.handler)
    arrows += [_dynamodb_arrow(line) for line in trace.handler[:first_post]
               if line.get("event") == "dynamodb"]
    for line in sorted(posts, key=lambda p: (p.get("connectionId") == trace.sender,
                                             str(p.get("connectionId")))):
        cid = str(line.get("connectionId", "?"))
        arrows.append(Arrow(FUNCTION, CONNECTIONS, f"POST {short(cid, keep)} "
                                                   f"{line.get('outcome')}  {_ms(line.get('ms'))}"))
        if line.get("outcome") == "delivered":
            arrows.append(Arrow(CONNECTIONS, recipient(cid, trace.sender, keep), "frame"))
    arrows += [_dynamodb_arrow(line) for line in trace.handler[first_post:]
               if line.get("event") == "dynamodb"]
    if not posts:
        for line in trace.lines("broadcast"):
            arrows.append(Arrow(FUNCTION, CONNECTIONS,
                                f"{line.get('recipients')} posts, {line.get('delivered')} "
                                f"delivered  {_ms(line.get('duration_ms'))}"))
    report = trace.report
    latency = trace.integration_latency_ms
    arrows.append(Arrow(FUNCTION, GATEWAY,
                        f"200  Duration {_ms(report['duration_ms']) if report else '?'}"
                        + (f", integration latency {latency} ms" if latency is not None
                           else "")))
    return arrows


def participants(arrows: list[Arrow]) -> list[str]:
    """The lifelines, left to right: the fixed hops, then each recipient as it first appears."""
    fixed = [SENDER, GATEWAY, FUNCTION, DYNAMODB, CONNECTIONS]
    extra = [p for a in arrows for p in (a.source, a.target) if p not in fixed]
    return fixed + list(dict.fromkeys(extra))


def draw(trace: Trace, ax: Any = None) -> Any:
    """The sequence diagram of ``trace`` on a matplotlib axes (a new figure without one);
    returns the figure."""
    import matplotlib.pyplot as plt

    arrows = sequence(trace)
    lifelines = participants(arrows)
    x = {name: i for i, name in enumerate(lifelines)}
    if ax is None:
        _, ax = plt.subplots(figsize=(max(8.0, 1.9 * len(lifelines)), 0.45 * len(arrows) + 1.4))
    bottom = len(arrows) + 0.5
    for name, i in x.items():
        ax.plot([i, i], [0.3, bottom], color="0.75", lw=1, zorder=0)
        ax.text(i, 0, name, ha="center", va="bottom", fontsize=8, fontweight="bold")
    for row, arrow in enumerate(arrows, start=1):
        a, b = x[arrow.source], x[arrow.target]
        if a == b:
            ax.text(a + 0.05, row, arrow.label, fontsize=7, va="center", color="tab:red")
            continue
        ax.annotate("", xy=(b, row), xytext=(a, row),
                    arrowprops={"arrowstyle": "->", "color": "tab:blue", "lw": 1})
        ax.text(min(a, b) + 0.05, row - 0.12, arrow.label, fontsize=7, va="bottom")
    ax.set_xlim(-0.6, len(lifelines) - 0.4)
    ax.set_ylim(bottom, -0.6)
    ax.axis("off")
    ax.set_title(f"one message: requestId {trace.request_id}", fontsize=9)
    return ax.figure
