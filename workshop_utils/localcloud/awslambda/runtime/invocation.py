"""One invocation on a worker, as Lambda runs and logs it: START, the function, END, REPORT.

Timeouts (``Sandbox.Timedout``), a worker that dies (``Runtime.ExitError``), a response over
Lambda's quota (``Function.ResponseSizeTooLarge``) and a failed init are answered and logged
with AWS's texts; the REPORT line carries Duration, Billed Duration, Memory Size, Max Memory
Used and, on a cold start, Init Duration.

A failed init is logged as AWS logs it today (a python3.12 capture of 2026-04-22, in
/work/research/lambda-and-iam.md §2.2; awslambdaric PR #163 reports init errors in the init
phase): the runtime's LAMBDA_WARNING and ``[ERROR] <type>: <message>`` lines, ``INIT_REPORT
Init Duration: … ms\tPhase: init\tStatus: error\tError Type: <type>``; then Lambda runs the
init again in the invoke phase (the same lines, ``Phase: invoke``), and only then START, END and
a REPORT without Init Duration, with ``Status: error\tError Type: <type>``. The payload's
``requestId`` is ``""``, the init's (there was no invocation yet when it failed).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .workers import WorkerDied, now_ms

if TYPE_CHECKING:
    from .functions import FunctionSpec
    from .workers import Worker

MAX_RESPONSE = 6291556  # what AWS prints in Function.ResponseSizeTooLarge
MAX_LOG_BYTES = 1024 * 1024  # per invocation kept for CloudWatch; the rest is dropped
TAIL_BYTES = 4096


@dataclass(frozen=True)
class InvokeResult:
    status_code: int  # 200 RequestResponse, 202 Event, 204 DryRun
    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed (error, timeout, crash)
    log_result: str | None  # base64 of the last 4 KB of log, when LogType=Tail
    request_id: str
    executed_version: str = "$LATEST"


@dataclass(frozen=True)
class ColdStart:
    """How the environment of an invocation was made: its init's duration and last frame
    (``ready`` or ``init_error``). None in place of it means a warm environment."""

    init_ms: float
    header: dict[str, Any]
    body: bytes
    suppressed: bool = False  # the init ran again in the invoke phase, after a failed one

    @property
    def failed(self) -> bool:
        return self.header.get("t") != "ready"

    def error(self) -> dict[str, Any]:
        try:
            error = json.loads(self.body) if self.failed else {}
        except ValueError:
            error = {}
        return error if isinstance(error, dict) else {}


def init_report(cold: ColdStart, phase: str) -> str:
    """The INIT_REPORT line of a failed init (``phase``: "init" or "invoke")."""
    error_type = cold.error().get("errorType") or "Runtime.Unknown"
    line = f"INIT_REPORT Init Duration: {cold.init_ms:.2f} ms\tPhase: {phase}\t"
    if error_type == "Sandbox.Timedout":
        return line + "Status: timeout\n"
    return line + f"Status: error\tError Type: {error_type}\n"


@dataclass
class Invocation:
    """One invocation's request id, its log events (bounded) and, once sent, its result."""

    request_id: str
    events: list[tuple[int, str]] = field(default_factory=list)
    log_bytes: int = 0
    result: asyncio.Future[tuple[dict[str, Any], bytes]] | None = None

    def add(self, ts: int, message: str) -> None:
        if self.log_bytes > MAX_LOG_BYTES:
            return
        self.log_bytes += len(message)
        if self.log_bytes > MAX_LOG_BYTES:
            message = "[local cloud] log output of this invocation truncated at 1 MB\n"
        self.events.append((ts, message))


def _iso(ts_ms: int) -> str:
    dt = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


async def run_on(
    worker: Worker, init: ColdStart | None, spec: FunctionSpec,
    inv: Invocation, payload: bytes, invoked_arn: str, client_context: dict[str, Any] | None,
) -> tuple[bytes, bool]:
    """Run ``inv`` on ``worker`` (``init``: how its environment was made, None when warm);
    returns (payload, failed) with START, END and REPORT in ``inv.events``."""
    rid = inv.request_id
    init_ms: float | None = None  # the REPORT's Init Duration
    init_in_invoke = 0.0  # a suppressed init counts in the invocation's Duration
    error_type: str | None = None
    init_failed = init is not None and init.failed
    if init is not None:
        if init.suppressed:
            init_in_invoke = init.init_ms
        else:
            init_ms = init.init_ms
    start_ts = now_ms()
    inv.events.append((start_ts, f"START RequestId: {rid} Version: {spec.version}\n"))
    t0 = time.perf_counter()
    if init_failed:
        assert init is not None
        error = init.error()
        result_body = json.dumps(error).encode()
        failed = True
        error_type = error.get("errorType")
        worker.kill()
    else:
        inv.result = asyncio.get_running_loop().create_future()
        deadline_ms = now_ms() + spec.timeout * 1000
        worker.send({"id": rid, "deadline": deadline_ms, "arn": invoked_arn,
                     "cc": client_context}, payload)
        try:
            async with asyncio.timeout(spec.timeout):
                header, result_body = await inv.result
            failed = bool(header.get("error"))
            if failed:
                error_type = json.loads(result_body).get("errorType")
            elif len(result_body) > MAX_RESPONSE:
                failed, error_type = True, "Function.ResponseSizeTooLarge"
                result_body = json.dumps({
                    "errorMessage": "Response payload size exceeded maximum allowed payload "
                                    f"size ({MAX_RESPONSE} bytes).",
                    "errorType": error_type,
                }).encode()
        except TimeoutError:
            worker.kill()
            elapsed = time.perf_counter() - t0
            failed, error_type = True, "Sandbox.Timedout"
            message = f"Task timed out after {elapsed:.2f} seconds"
            inv.events.append((now_ms(), f"{_iso(now_ms())} {rid} {message}\n"))
            result_body = json.dumps({
                "errorType": error_type, "errorMessage": f"RequestId: {rid} Error: {message}",
            }).encode()
        except WorkerDied as died:
            failed, error_type = True, "Runtime.ExitError"
            message = f"RequestId: {rid} Error: Runtime exited with error: {died}"
            inv.events.append((now_ms(), f"{message}\n{error_type}\n"))
            result_body = json.dumps({
                "errorType": error_type, "errorMessage": message,
            }).encode()
    duration = (time.perf_counter() - t0) * 1000 + init_in_invoke
    end_ts = now_ms()
    billed = math.ceil(duration + (init_ms or 0))
    report = (f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\t"
              f"Billed Duration: {billed} ms\tMemory Size: {spec.memory} MB\t"
              f"Max Memory Used: {max(worker.rss_mb, 1)} MB\t")
    if init_ms is not None:
        report += f"Init Duration: {init_ms:.2f} ms\t"
    if error_type == "Sandbox.Timedout":
        report += "Status: timeout\n"
    elif error_type in ("Runtime.ExitError",) or init_failed:
        report += f"Status: error\tError Type: {error_type}\n"
    else:
        report += "\n"
    inv.events.append((end_ts, f"END RequestId: {rid}\n"))
    inv.events.append((end_ts, report))
    return result_body, failed


def log_tail(events: list[tuple[int, str]]) -> bytes:
    """The last 4 KB of an invocation's log, what ``LogType=Tail`` returns (base64)."""
    tail = "".join(msg if msg.endswith("\n") else msg + "\n" for _, msg in events)
    return tail.encode("utf-8")[-TAIL_BYTES:]
