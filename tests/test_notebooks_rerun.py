"""Every notebook can be run twice: the second run neither fails nor duplicates anything, and
shows what the first showed.

A learner re-runs cells and whole notebooks, after kernel restarts too; each notebook finds
what it made before by name, makes its own "mistake" cells make the mistake again, and reads
only the logs of its own run. So the second run's outputs match the first's once nbval's
sanitizers have replaced the volatile values, with the differences listed in
:data:`SECOND_RUN`: what the first run made, the second finds (each cell says which), and
nothing else may differ. The clean-up notebook's second run finds nothing to delete; that is
its text ("every step finds nothing of yours"), and its check still passes.
"""

from __future__ import annotations

import difflib
import re

import pytest

from tests.integration.chatstack import target_for
from tests.notebook_outputs import sanitized_outputs, sanitizers
from workshop_utils.cleanup import leftovers
from workshop_utils.localcloud import LocalCloud
from workshop_utils.walkthrough import notebook_paths, run_notebook

# What a first run prints where a second run prints something else, by design: (pattern of the
# first run's text, what the second run says instead). Applied to the first run's outputs.
SECOND_RUN = [
    # 01: the table and its TTL, made by the first run, found by the second
    (r"(?m)^creating (\S+)$", r"\1 already exists (yours)"),
    (r"(?m)^TTL turned on for (\S+)$", r"TTL already on \1"),
    # 02, 03, 04: the role, the functions, the API
    (r"(?m)^created ", "exists  "),
    # 04: API Gateway's invoke permission
    (r"(?m)^allowed API Gateway to invoke ", "permission already there for "),
    # 06: the account's CloudWatch role, set up by the first run (logging_role.ensure says so)
    (r"(?m)^API Gateway has no CloudWatch Logs role in account .*\n", ""),
    (r"(?m)^setting it up now \(what `workshop class setup` does\)\n", ""),
    (r"(?m)^API Gateway's CloudWatch Logs role in \S+ is now .*\n", ""),
]
# Applied to both runs: whether an execution environment is still warm from the first run is
# Lambda's choice, so a REPORT line may have an Init Duration in one run and not the other.
EITHER_RUN = [(r"\tInit Duration: N ms", "")]


@pytest.fixture
def fresh_cloud(monkeypatch):
    """A local cloud of the test's own, set as the environment's workshop target."""
    with LocalCloud() as cloud:
        monkeypatch.setenv("WORKSHOP_HOME", str(cloud.settings.home))
        monkeypatch.setenv("WORKSHOP_TARGET", "local")
        monkeypatch.delenv("WORKSHOP_PREFIX", raising=False)
        yield cloud


def differences(first: list[str], second: list[str]) -> list[str]:
    """The code cells (by index) whose second-run text differs, with a diff of each."""
    found = []
    for index, (a, b) in enumerate(zip(first, second, strict=True)):
        if a != b:
            diff = "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(), "first run",
                                                  "second run", lineterm="", n=1))
            found.append(f"code cell {index}:\n{diff}")
    return found


def test_each_notebook_runs_twice_with_the_same_outputs_and_no_duplicates(fresh_cloud) -> None:
    """Each notebook run twice succeeds both times with the same sanitized outputs (but for
    SECOND_RUN), and leaves one API with its 3 integrations, 4 routes and 1 stage; the clean-up
    notebook run twice leaves nothing."""
    both = sanitizers() + [(re.compile(p), r) for p, r in EITHER_RUN]
    first_only = [(re.compile(p), r) for p, r in SECOND_RUN]
    *building, cleanup = notebook_paths()
    for path in building:
        runs = []
        for attempt in (1, 2):
            ok, _, detail, nb = run_notebook(path)
            assert ok, f"{path.name} run {attempt}: {detail}"
            runs.append(nb)
        first = sanitized_outputs(runs[0], both + first_only)
        second = sanitized_outputs(runs[1], both)
        assert not differences(first, second), (
            f"{path.name}: the second run shows something else:\n"
            + "\n".join(differences(first, second)))
    target = target_for(fresh_cloud, "wschat")
    apigw = target.client("apigatewayv2")
    (api,) = [a for a in apigw.get_apis()["Items"] if a["Name"] == target.names.api]
    assert len(apigw.get_integrations(ApiId=api["ApiId"])["Items"]) == 3
    assert len(apigw.get_routes(ApiId=api["ApiId"])["Items"]) == 4
    assert len(apigw.get_stages(ApiId=api["ApiId"])["Items"]) == 1
    for attempt in (1, 2):
        ok, _, detail, nb = run_notebook(cleanup)
        assert ok, f"{cleanup.name} run {attempt}: {detail}"
    assert not any(leftovers(target).values())
