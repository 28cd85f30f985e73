"""The local cloud side: deploy the workshop's real stack, wait for the table, Lambda timings."""

from __future__ import annotations

import io
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from typing import Any

from workshop_utils.localcloud import LocalCloud
from workshop_utils.target import Target, local_target

from .stats import summary_ms

PREFIX = "wschat-bench"
EMPTY_FUNCTION = "wschat-bench-empty"
EMPTY_HANDLER = "def handler(event, context):\n    return None\n"


def target_for(cloud: LocalCloud) -> Target:
    """A ``local`` target on ``cloud`` with the benchmark's own prefix."""
    return local_target(cloud.state, PREFIX)


def _scan_pages(target: Target, **request: Any) -> Iterator[dict[str, Any]]:
    ddb = target.client("dynamodb")
    request = {"TableName": target.names.table, "ConsistentRead": True, **request}
    for _ in range(10_000):  # bounded pagination
        page = ddb.scan(**request)
        yield page
        if not page.get("LastEvaluatedKey"):
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def count_connections(target: Target) -> int:
    return sum(page["Count"] for page in _scan_pages(target, Select="COUNT"))


def connection_ids(target: Target) -> list[str]:
    """Every connection id the chat's table holds (what the broadcast handler scans)."""
    return [item["connectionId"]["S"]
            for page in _scan_pages(target, ProjectionExpression="connectionId")
            for item in page.get("Items", [])]


def wait_table(target: Target, expected: int, timeout_s: float = 120.0) -> int:
    """Wait until the connections table holds ``expected`` items ($disconnects done)."""
    deadline = time.monotonic() + timeout_s
    count = count_connections(target)
    while count != expected and time.monotonic() < deadline:
        time.sleep(0.2)
        count = count_connections(target)
    return count


def _zip(source: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("app.py", date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, source)
    return buf.getvalue()


def deploy_empty(target: Target) -> None:
    lam = target.client("lambda")
    role = target.client("iam").get_role(RoleName=target.names.role)["Role"]["Arn"]
    try:
        lam.get_function(FunctionName=EMPTY_FUNCTION)
    except lam.exceptions.ResourceNotFoundException:
        lam.create_function(FunctionName=EMPTY_FUNCTION, Runtime="python3.12", Role=role,
                            Handler="app.handler", Code={"ZipFile": _zip(EMPTY_HANDLER)},
                            Timeout=10, MemorySize=128)


def warm_invokes(target: Target, calls: int) -> dict[str, Any]:
    """Median of many ``lambda.invoke`` of the empty handler, and the floor: the same boto3
    call on the same path (HTTP, the Invoke API, the function's lookup) that stops before the
    execution environment, ``InvocationType="DryRun"``. The difference is the runtime's share
    (pipe to the warm worker, the handler call, START/END/REPORT into CloudWatch Logs)."""
    lam = target.client("lambda")

    def invoke(kind: str) -> float:
        t0 = time.perf_counter()
        out = lam.invoke(FunctionName=EMPTY_FUNCTION, Payload=b"{}", InvocationType=kind)
        out["Payload"].read()
        return time.perf_counter() - t0

    for _ in range(5):
        invoke("RequestResponse")
        invoke("DryRun")
    warm, floor = [], []
    for _ in range(calls):  # interleaved, so both see the same load
        warm.append(invoke("RequestResponse"))
        floor.append(invoke("DryRun"))
    return {"calls": calls, "invoke_ms": summary_ms(warm), "floor_ms": summary_ms(floor),
            "floor_what": "lambda.invoke InvocationType=DryRun (same path, no worker)"}


def cold_starts(target: Target, reps: int) -> dict[str, Any]:
    """Force a cold start by changing the configuration, then time the first invoke.

    Floor: starting a bare Python interpreter (``python -c pass``), what any cold start pays."""
    lam = target.client("lambda")
    cold, warm_after = [], []
    for i in range(reps):
        lam.update_function_configuration(
            FunctionName=EMPTY_FUNCTION, Environment={"Variables": {"BENCH_NONCE": str(i)}})
        t0 = time.perf_counter()
        out = lam.invoke(FunctionName=EMPTY_FUNCTION, Payload=b"{}")
        out["Payload"].read()
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        lam.invoke(FunctionName=EMPTY_FUNCTION, Payload=b"{}")["Payload"].read()
        warm_after.append(time.perf_counter() - t0)
    floor = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        floor.append(time.perf_counter() - t0)
    return {"reps": reps, "cold_ms": summary_ms(cold), "warm_next_ms": summary_ms(warm_after),
            "floor_ms": summary_ms(floor),
            "floor_what": "python -c pass (interpreter start)",
            "cold_median_ms": round(statistics.median(cold) * 1000, 3)}

