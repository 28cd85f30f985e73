"""Every notebook can be run twice: the second run neither fails nor duplicates anything.

A learner re-runs cells and whole notebooks, after kernel restarts too; each notebook finds
what it made before by name.
"""

from __future__ import annotations

import pytest

from tests.integration.chatstack import target_for
from workshop_utils.cleanup import leftovers
from workshop_utils.localcloud import LocalCloud
from workshop_utils.walkthrough import execute, notebook_paths


@pytest.fixture
def fresh_cloud(monkeypatch):
    """A local cloud of the test's own, set as the environment's workshop target."""
    with LocalCloud() as cloud:
        monkeypatch.setenv("WORKSHOP_HOME", str(cloud.settings.home))
        monkeypatch.setenv("WORKSHOP_TARGET", "local")
        monkeypatch.delenv("WORKSHOP_PREFIX", raising=False)
        yield cloud


def test_each_notebook_runs_twice_without_failing_or_duplicating(fresh_cloud) -> None:
    """Each notebook run twice succeeds both times and leaves one API with its 3 integrations, 4
    routes and 1 stage; the clean-up notebook run twice leaves nothing."""
    paths = notebook_paths()
    *building, cleanup = paths
    for path in building:
        for attempt in (1, 2):
            ok, _, detail = execute(path, write=False)
            assert ok, f"{path.name} run {attempt}: {detail}"
    target = target_for(fresh_cloud, "wschat")
    apigw = target.client("apigatewayv2")
    (api,) = [a for a in apigw.get_apis()["Items"] if a["Name"] == target.names.api]
    assert len(apigw.get_integrations(ApiId=api["ApiId"])["Items"]) == 3
    assert len(apigw.get_routes(ApiId=api["ApiId"])["Items"]) == 4
    assert len(apigw.get_stages(ApiId=api["ApiId"])["Items"]) == 1
    for attempt in (1, 2):
        ok, _, detail = execute(cleanup, write=False)
        assert ok, f"{cleanup.name} run {attempt}: {detail}"
    assert not any(leftovers(target).values())
