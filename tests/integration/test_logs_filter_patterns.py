"""filter_log_events through the running local cloud takes term patterns as AWS does.

Source: CloudWatch Logs' documented term patterns (Lightsail API reference, GetContainerLog
``filterPattern``; CloudWatch Logs User Guide, "Filter pattern syntax"): several terms are
ANDed, ``?`` terms ORed, ``-`` terms excluded. moto 5.2.5 read ``"a" "b"`` as one phrase and
let ``?``/``-`` patterns match every event.
"""

from __future__ import annotations

import itertools

import pytest

from workshop_utils.localcloud import LocalCloud

pytestmark = pytest.mark.cloud
_groups = itertools.count()


def messages(logs, group: str, pattern: str) -> list[str]:
    """Every event of ``group`` that ``pattern`` matches, through all pages."""
    return [e["message"] for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, filterPattern=pattern) for e in page["events"]]


@pytest.fixture()
def group(cloud: LocalCloud):
    """A log group holding three lines of an execution log and one of a function."""
    logs = cloud.client("logs")
    name = f"/test/filter-patterns-{next(_groups)}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="s")
    lines = ["(R1=) Starting execution for request: R1=",
             "(R1=) Execution failed due to configuration error: Invalid permissions",
             "(R2=) Starting execution for request: R2=",
             "START RequestId: 5a1b Version: $LATEST"]
    logs.put_log_events(logGroupName=name, logStreamName="s", logEvents=[
        {"timestamp": 1_796_000_000_000 + i, "message": m} for i, m in enumerate(lines)])
    yield logs, name
    logs.delete_log_group(logGroupName=name)


@pytest.mark.parametrize(("pattern", "expected"), [
    ('"(R1=)" "Execution failed"', [1]),
    ('"(R1=)" Starting', [0]),
    ('?"(R2=)" ?START', [2, 3]),
    ('-"(R1=)"', [2, 3]),
    ('"(R1=)"', [0, 1]),
])
def test_filter_log_events_ands_ors_and_excludes_terms(group, pattern: str,
                                                       expected: list[int]) -> None:
    """Quoted terms are ANDed, ``?`` terms ORed and ``-`` terms excluded, as on AWS."""
    logs, name = group
    lines = messages(logs, name, "")
    assert len(lines) == 4
    assert messages(logs, name, pattern) == [lines[i] for i in expected]
