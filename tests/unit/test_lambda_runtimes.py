"""Lambda's runtime lifecycle, by date: create blocked from one day, updates from a later one.

The block dates of AWS's runtime table (Lambda Developer Guide, lambda-runtimes.html,
"Deprecated runtimes", as cfn-lint's LmbdRuntimeLifecycle.json had them on 2026-06-02) are
checked against the day's date. On 2026-12-01 no Python runtime is past its block-update date,
so that rule cannot be seen through a running cloud yet: it is checked here with the dates
given. AWS's wording is the same for both (LocalStack's AWS snapshot TestRuntimeValidation,
2026-01-12: "no longer supported for creating or updating").
"""

from __future__ import annotations

from datetime import date

import pytest

from workshop_utils.localcloud.awslambda import runtimes

BLOCKED = ("The runtime parameter of python3.8 is no longer supported for creating or updating "
           "AWS Lambda functions. We recommend you use a supported runtime while creating or "
           "updating functions.")


@pytest.mark.parametrize("today, creating, expected", [
    (date(2026, 12, 1), True, None),  # deprecated, still creatable
    (date(2027, 1, 31), True, None),
    (date(2027, 2, 1), True, BLOCKED),  # block create
    (date(2027, 2, 1), False, None),  # a function already on it can still be updated
    (date(2027, 3, 2), False, None),
    (date(2027, 3, 3), False, BLOCKED),  # block update
])
def test_a_deprecated_runtime_is_blocked_for_create_then_for_update(
        today: date, creating: bool, expected: str | None) -> None:
    """python3.8: creatable until 2027-02-01, updatable until 2027-03-03, then refused."""
    assert runtimes.refusal("python3.8", creating=creating, today=today) == expected


def test_an_update_that_sets_no_runtime_never_meets_the_enum_error() -> None:
    """Only a runtime a request sets is checked against AWS's enum: an update of a function
    whose runtime left the enum long ago is judged by its dates alone."""
    assert runtimes.refusal("python3.6", creating=False, today=date(2026, 12, 1)) is None
    assert runtimes.refusal("python3.6", creating=True, today=date(2026, 12, 1)).startswith(
        "Value python3.6 at 'runtime' failed to satisfy constraint")


def test_every_runtime_in_the_table_of_dates_is_python_and_dated_in_order() -> None:
    """Each row's dates come in AWS's order: deprecation, block create, block update."""
    for runtime, (deprecated, block_create, block_update) in runtimes.LIFECYCLE.items():
        assert runtime.startswith("python3.")
        assert deprecated <= block_create <= block_update, runtime
