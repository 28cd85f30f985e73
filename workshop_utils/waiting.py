"""Waits and retries that real AWS needs and the local cloud does not.

They run on both targets (one code path); locally they return at once. Each one is a known
AWS behaviour: a new IAM role takes seconds to be assumable by Lambda, a new function is
``Pending`` before ``Active``, an update is ``InProgress`` for a moment, CloudWatch Logs
shows events a few seconds after they are written, and a new resource's tags may read as
none for a few seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

ROLE_NOT_READY = "cannot be assumed by Lambda"
# How long AWS may show a new resource without its tags. DynamoDB's TagResource reference: the
# tags "might" read as "an empty tag set" because ListTagsOfResource "uses an eventually
# consistent query [...] Wait for a few seconds, and then try [...] again"; IAM is eventually
# consistent as a whole. The local cloud shows tags at once (``Target.tag_settle_s`` is 0).
TAG_SETTLE_S = 10.0

Found = TypeVar("Found")


def create_function_when_role_ready(
    lambda_client: Any, *, timeout_s: float = 90.0, sleep: Callable[[float], None] = time.sleep,
    **create_kwargs: Any,
) -> dict[str, Any]:
    """``create_function``, retried while the new execution role is not yet visible to Lambda.

    AWS answers ``InvalidParameterValueException: The role defined for the function cannot be
    assumed by Lambda`` for several seconds after ``iam.create_role`` (IAM is eventually
    consistent). Any other error is raised at once.
    """
    delay, deadline = 1.0, time.monotonic() + timeout_s
    while True:
        try:
            return lambda_client.create_function(**create_kwargs)
        except lambda_client.exceptions.InvalidParameterValueException as exc:
            if ROLE_NOT_READY not in str(exc) or time.monotonic() + delay > deadline:
                raise
        sleep(delay)
        delay = min(delay * 2, 10.0)


def wait_until_active(lambda_client: Any, function_name: str) -> None:
    """Wait until a new function is Active and its last update finished."""
    lambda_client.get_waiter("function_active_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})


def wait_for_log_events(
    logs_client: Any,
    group: str,
    *,
    filter_pattern: str = "",
    start_time_ms: int | None = None,
    min_events: int = 1,
    until: Callable[[list[dict[str, Any]]], bool] | None = None,
    timeout_s: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Events of ``group`` matching ``filter_pattern``, once at least ``min_events`` are there
    (and, with ``until``, once ``until(events)`` holds: say the line that ends a request).

    CloudWatch Logs is eventually consistent: on AWS an event written now may show up seconds
    later, and the events of one request may show up in several batches. Returns what is
    there when the timeout passes (possibly fewer events).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        events = read_log_events(logs_client, group, filter_pattern=filter_pattern,
                                 start_time_ms=start_time_ms)
        if len(events) >= min_events and (until is None or until(events)):
            return events
        if time.monotonic() > deadline:
            return events
        sleep(1.0)


def until_tagged(found: Found | None, read: Callable[[], Found | None],
                 tags_of: Callable[[Found], dict[str, str]], *, timeout_s: float) -> Found | None:
    """``found`` (what was just read), read again with ``read()`` while it exists with no tags
    at all, for at most ``timeout_s`` (0: never again, as on the local cloud, where nothing
    lags).

    A resource the learner created a moment ago can read as untagged on AWS (see
    TAG_SETTLE_S); one that is still untagged after the wait really has no tags. Returns the
    last read (None if the resource is gone meanwhile).
    """
    delay, deadline = 0.5, time.monotonic() + timeout_s
    while found is not None and not tags_of(found) and time.monotonic() + delay <= deadline:
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
        found = read()
    return found


def read_log_events(
    logs_client: Any, group: str, *, filter_pattern: str = "", start_time_ms: int | None = None,
) -> list[dict[str, Any]]:
    """Every event of ``group`` (all pages), oldest first; [] if the group does not exist yet."""
    kwargs: dict[str, Any] = {"logGroupName": group}
    if filter_pattern:
        kwargs["filterPattern"] = filter_pattern
    if start_time_ms is not None:
        kwargs["startTime"] = start_time_ms
    events: list[dict[str, Any]] = []
    try:
        for page in logs_client.get_paginator("filter_log_events").paginate(**kwargs):
            events.extend(page.get("events", []))
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    return sorted(events, key=lambda e: (e["timestamp"], e.get("ingestionTime", 0)))
