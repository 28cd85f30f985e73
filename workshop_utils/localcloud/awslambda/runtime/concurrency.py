"""Reserved concurrency: a function's invocations in flight, against the limit it was given.

``put_function_concurrency`` caps how many invocations of a function run at once, across all
its execution environments and versions (Lambda Developer Guide, configuration-concurrency);
0 throttles every invocation ("To throttle a function, set the reserved concurrency to zero.
This stops any events from being processed until you remove the limit").

- A synchronous invocation over the limit is refused at once: 429
  ``TooManyRequestsException``, Reason ``ReservedFunctionConcurrentInvocationLimitExceeded``
  (:class:`~..exceptions.TooManyRequestsException`).
- An ``Event`` invocation is accepted (202) whatever the limit, as AWS queues it. With a
  reserved concurrency of 0 it is dropped without running (AWS sends it to the on-failure
  destination with condition ``ZeroReservedConcurrency``, ``approximateInvokeCount: 0``:
  LocalStack's AWS snapshot, 2025-11-25; there are no destinations here, the cloud log says
  so). Over a limit above 0 it waits for a slot, as AWS retries throttled events for up to the
  maximum event age (6 hours by default; chosen: the limit is looked at again whenever a slot
  frees, and at least every second, so lifting it is noticed).

moto keeps the number (``reserved_concurrency`` on the function, read with every invocation
into :class:`~.functions.FunctionSpec`); this counts what runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

MAX_EVENT_AGE_S = 6 * 3600.0  # MaximumEventAgeInSeconds' default and maximum
RECHECK_S = 1.0


class Concurrency:
    """In-flight invocations per function (keyed by region and name, whatever the version)."""

    def __init__(self) -> None:
        self._in_flight: dict[tuple[str, str], int] = defaultdict(int)
        self._freed: dict[tuple[str, str], asyncio.Event] = {}

    def in_flight(self, region: str, name: str) -> int:
        return self._in_flight.get((region, name), 0)

    def try_acquire(self, region: str, name: str, limit: int | None) -> bool:
        """Take a slot unless ``limit`` (None: unreserved) is reached."""
        key = (region, name)
        if limit is not None and self._in_flight[key] >= limit:
            return False
        self._in_flight[key] += 1
        return True

    def release(self, region: str, name: str) -> None:
        key = (region, name)
        self._in_flight[key] -= 1
        if self._in_flight[key] <= 0:
            del self._in_flight[key]
        if (event := self._freed.pop(key, None)) is not None:
            event.set()

    async def wait_for_release(self, region: str, name: str, deadline: float) -> None:
        """Until a slot of the function frees, a second passes or ``deadline`` (monotonic)."""
        event = self._freed.setdefault((region, name), asyncio.Event())
        timeout = max(0.0, min(RECHECK_S, deadline - time.monotonic()))
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass
