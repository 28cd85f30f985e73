"""Shared fixtures: a local cloud started once per test session on free ports.

Tests that need a cloud of their own (different limits, crash tests) start one with
``LocalCloud(limits=...)`` as a context manager; every cloud is stopped when its test ends.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from workshop_utils.localcloud import LocalCloud

# boto3 inside tests must never reach AWS: fake credentials, a fixed region.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(scope="session")
def cloud() -> Iterator[LocalCloud]:
    """One running local cloud shared by the integration tests of a session."""
    with LocalCloud() as running:
        yield running


def pytest_configure(config: pytest.Config) -> None:
    """Refuse a WORKSHOP_TESTS_TIMEOUT_FACTOR that is not a positive number in one line, before
    any module is collected (rather than one traceback per module that reads the unit)."""
    try:
        import tests.timing  # noqa: F401  (reading the unit reads the factor)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
