"""Lambda's runtimes: which ``Runtime`` values exist, and when a deprecated one is blocked.

CreateFunction refuses a runtime past its *block function create* date, and every update of a
function on a runtime past its *block function update* date, with AWS's
``InvalidParameterValueException`` (LocalStack's AWS snapshot
``TestRuntimeValidation::test_create_deprecated_function_runtime_with_validation_enabled``,
recorded 2026-01-12). The dates are AWS's runtime table (Lambda Developer Guide,
lambda-runtimes.html, "Deprecated runtimes"), as cfn-lint's ``LmbdRuntimeLifecycle.json`` had
them on 2026-06-02 (commit afd7953b): AWS has moved them several times, so they are data here,
checked against the day's date, and to be refreshed from that page. A runtime missing from
both the table and :data:`VALID_RUNTIMES` is unknown (``python3.6``, ``PYTHON3.9``): AWS's
enum error.
"""

from __future__ import annotations

from datetime import date

# runtime: (deprecation, block function create, block function update)
LIFECYCLE: dict[str, tuple[date, date, date]] = {
    "python3.7": (date(2023, 12, 4), date(2024, 1, 9), date(2027, 3, 3)),
    "python3.8": (date(2024, 10, 14), date(2027, 2, 1), date(2027, 3, 3)),
    "python3.9": (date(2025, 12, 15), date(2027, 2, 1), date(2027, 3, 3)),
    "python3.10": (date(2026, 10, 31), date(2027, 2, 1), date(2027, 3, 3)),
    "python3.11": (date(2027, 6, 30), date(2027, 7, 31), date(2027, 8, 31)),
    "python3.12": (date(2028, 10, 31), date(2028, 11, 30), date(2029, 1, 10)),
    "python3.13": (date(2029, 6, 30), date(2029, 7, 31), date(2029, 8, 31)),
    "python3.14": (date(2029, 6, 30), date(2029, 7, 31), date(2029, 8, 31)),
}

# The enum of AWS's error for an unknown runtime, in the order AWS printed it (LocalStack's AWS
# snapshot TestLambdaFunction::test_create_lambda_exceptions, recorded 2026-01-12).
VALID_RUNTIMES = (
    "nodejs20.x", "python3.14", "provided.al2023", "python3.12", "python3.13", "nodejs24.x",
    "nodejs22.x", "java25", "python3.10", "python3.11", "java21", "ruby3.3", "ruby3.4",
    "ruby3.2", "python3.8", "python3.9", "java17", "nodejs16.x", "dotnet10", "dotnet8",
    "java11", "dotnet6", "nodejs18.x", "provided.al2", "java8.al2",
)


def unknown_runtime_message(runtime: str) -> str:
    return (f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy "
            f"enum value set: [{', '.join(VALID_RUNTIMES)}] or be a valid ARN")


def blocked_message(runtime: str) -> str:
    return (f"The runtime parameter of {runtime} is no longer supported for creating or "
            "updating AWS Lambda functions. We recommend you use a supported runtime while "
            "creating or updating functions.")


def refusal(runtime: str, *, creating: bool, today: date) -> str | None:
    """Why Lambda refuses ``runtime`` today, or None. ``creating``: CreateFunction, or an
    update that sets this runtime (chosen: that makes a function on it as much as a create
    does); otherwise an update of a function already on it, refused from block-update on."""
    dates = LIFECYCLE.get(runtime)
    if dates is not None:
        blocked_from = dates[1] if creating else dates[2]
        return blocked_message(runtime) if today >= blocked_from else None
    if creating and runtime not in VALID_RUNTIMES:
        return unknown_runtime_message(runtime)
    return None
