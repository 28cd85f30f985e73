"""Reading Lambda's CloudWatch Logs in a notebook: print events, parse REPORT lines."""

from __future__ import annotations

import re
from typing import Any

REPORT_RE = re.compile(
    r"REPORT RequestId: (?P<request_id>\S+)\s+Duration: (?P<duration>[\d.]+) ms\s+"
    r"Billed Duration: (?P<billed>\d+) ms\s+Memory Size: (?P<memory>\d+) MB\s+"
    r"Max Memory Used: (?P<used>\d+) MB(?:\s+Init Duration: (?P<init>[\d.]+) ms)?"
)


def show_events(events: list[dict[str, Any]]) -> None:
    """Print log events one per line (multi-line events indented), oldest first."""
    for event in events:
        lines = event["message"].rstrip("\n").replace("\r", "\n").splitlines() or [""]
        print(lines[0])
        for line in lines[1:]:
            print("    " + line)


def report_lines(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The REPORT lines among ``events``, parsed: request id, durations, memory, init."""
    reports = []
    for event in events:
        match = REPORT_RE.search(event["message"])
        if match:
            reports.append({
                "request_id": match["request_id"],
                "duration_ms": float(match["duration"]),
                "billed_ms": int(match["billed"]),
                "memory_mb": int(match["memory"]),
                "max_used_mb": int(match["used"]),
                "init_ms": float(match["init"]) if match["init"] else None,
            })
    return reports
