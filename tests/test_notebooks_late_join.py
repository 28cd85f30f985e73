"""Every notebook can be joined late: on a fresh local cloud, right after the one catch-up call
the notebooks name (``ensure_prerequisites(n)``), notebook ``n`` runs through.

A learner who jumps to notebook 05, or whose local cloud restarted (everything is in its
memory), calls ``ensure_prerequisites(5)`` and goes on; nothing in notebook ``n`` may need more
than what that call builds (for example a log line only an earlier notebook's hand invocation
wrote).
"""

from __future__ import annotations

import pytest

from tests.integration.chatstack import target_for
from workshop_utils.localcloud import LocalCloud
from workshop_utils.stack import ensure_prerequisites
from workshop_utils.walkthrough import execute, notebook_paths

LATE = [p for p in notebook_paths() if int(p.name[:2]) >= 1]


@pytest.mark.parametrize("path", LATE, ids=lambda p: p.name)
def test_a_notebook_runs_right_after_ensure_prerequisites(path, monkeypatch) -> None:
    """Notebook n on a fresh cloud after ensure_prerequisites(n): no cell fails."""
    with LocalCloud() as cloud:
        monkeypatch.setenv("WORKSHOP_HOME", str(cloud.settings.home))
        monkeypatch.setenv("WORKSHOP_TARGET", "local")
        monkeypatch.delenv("WORKSHOP_PREFIX", raising=False)
        ensure_prerequisites(int(path.name[:2]), target_for(cloud, "wschat"))
        ok, _, detail = execute(path, write=False)
        assert ok, f"{path.name} after ensure_prerequisites({int(path.name[:2])}): {detail}"
