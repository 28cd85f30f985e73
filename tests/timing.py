"""The tests' one time unit: every timeout, sleep, deadline and time limit is a multiple of it.

python-websockets does the same (``tests/utils.py``: ``MS = 0.001 *
WEBSOCKETS_TESTS_TIMEOUT_FACTOR``) so that a slow machine stretches every wait of the suite at
once instead of failing here and there. On a slow or busy machine (CI on a shared runner, a
classroom's JupyterHub image) set ``WORKSHOP_TESTS_TIMEOUT_FACTOR=2`` (or 3): every wait, every
shrunk gateway limit and every Lambda timeout the tests configure grows with it, and what the
tests check stays the same.

The unit is a second (not python-websockets' millisecond) because what the tests wait for is
counted in seconds: Lambda's ``Timeout``, the gateway's ``*_timeout_s`` limits, boto3 and
websockets timeouts. ``tests/test_test_hygiene.py`` fails on a wait written as a bare number.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

FACTOR_VARIABLE = "WORKSHOP_TESTS_TIMEOUT_FACTOR"


def timeout_factor(environ: Mapping[str, str]) -> float:
    """The factor in ``environ`` (1 when unset); a value that is not a positive number is an
    error that says how to fix it, rather than a suite that waits forever or not at all."""
    text = environ.get(FACTOR_VARIABLE, "").strip() or "1"
    try:
        factor = float(text)
    except ValueError:
        factor = math.nan
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"{FACTOR_VARIABLE}={text!r} is not a positive number: set it to "
                         "1 (the default), or 2 or 3 on a slow machine")
    return factor


SECOND = timeout_factor(os.environ)


def whole_seconds(duration: float) -> int:
    """``duration`` rounded up to whole seconds, at least 1: what an AWS setting counted in
    seconds takes (Lambda's ``Timeout`` is an integer from 1 to 900)."""
    return max(1, math.ceil(duration - 1e-9))


def milliseconds(duration: float) -> int:
    """``duration`` in whole milliseconds: what an AWS setting counted in milliseconds takes
    (the integration's ``TimeoutInMillis``)."""
    return round(duration * 1000)
