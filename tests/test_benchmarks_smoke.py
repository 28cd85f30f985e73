"""The benchmark runs end to end at its smoke size (what CI runs; the full size is `make bench`).

No timing is asserted here, ever: the machine is shared and timings are what the benchmark
reports, not what a test checks. This checks the result's shape and that every broadcast
message reached every client, through the real stack and through the floor.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.timing import SECOND

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.cloud


@pytest.fixture(scope="module")
def smoke_result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The JSON result of one `python -m benchmarks --smoke` run, once its table and plot are
    checked."""
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out-dir", str(out), "--name", "ci"],
        cwd=ROOT, capture_output=True, text=True, timeout=300 * SECOND,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for row in ("| cloud |", "| SDK floor |", "| SDK sequential |", "| floor |"):
        assert row in proc.stdout  # the printed table
    assert (out / "ci.png").stat().st_size > 0
    return json.loads((out / "ci.json").read_text())


def test_result_has_every_section(smoke_result: dict) -> None:
    """The smoke result has every section and figure the full benchmark reports, for every size
    and system."""
    assert {"name", "machine", "config", "broadcast", "connect", "lambda", "targets",
            "elapsed_s", "load_average_at_end"} <= smoke_result.keys()
    machine = smoke_result["machine"]
    assert {"cpu_model", "cores", "python", "websockets", "moto",
            "load_average_at_start"} <= machine.keys()
    for size in smoke_result["config"]["sizes"]:
        summary = smoke_result["broadcast"]["summary"][str(size)]
        for system in ("cloud", "sdk_floor", "sdk_sequential", "floor"):
            assert {"p50_ms", "p95_ms", "p99_ms", "max_ms", "deliveries_per_s",
                    "messages_per_s", "all_delivered"} <= summary[system].keys()
        for ratio in ("ratio", "ratio_sdk_floor"):
            assert {"p50_ms", "p99_ms", "deliveries_per_s"} <= summary[ratio].keys()
    connect = smoke_result["connect"]
    assert {"connects_per_s", "rss_process_mb", "rss_workers_mb", "rss_total_mb",
            "all_held"} <= connect["cloud"].keys()
    assert {"connects_per_s", "rss_process_mb"} <= connect["floor"].keys()
    assert {"connects_per_s", "rss_process_mb"} <= connect["ratio"].keys()
    lam = smoke_result["lambda"]
    assert {"invoke_ms", "floor_ms", "ratio_p50"} <= lam["warm"].keys()
    assert {"cold_ms", "floor_ms", "ratio_p50"} <= lam["cold"].keys()


def test_every_message_reached_everyone(smoke_result: dict) -> None:
    """In every run of every system, every broadcast message reached every client."""
    config = smoke_result["config"]
    for system in ("cloud", "sdk_floor", "sdk_sequential", "floor"):
        for size in config["sizes"]:
            runs = smoke_result["broadcast"]["runs"][system][str(size)]
            assert len(runs) == config["reps"]
            for run in runs:
                assert run["delivered_per_message"] == [size] * config["messages"], system
                assert run["all_delivered"]


def test_every_connection_was_held_and_cleaned_up(smoke_result: dict) -> None:
    """Every connection was held open, its $connect stored an item and its $disconnect removed
    it."""
    connect = smoke_result["connect"]
    assert connect["cloud"]["all_held"] and connect["floor"]["all_held"]
    for run in connect["runs"]["cloud"]:
        assert run["table_items"] == run["clients"]  # every $connect stored its item
        assert run["table_items_after_close"] == 0  # every $disconnect removed it
    for system in ("sdk_floor", "sdk_sequential"):
        for runs in smoke_result["broadcast"]["runs"][system].values():
            assert all(run["table_items_after_close"] == 0 for run in runs)
