"""Root pytest plugin: notebooks checked by nbval run against a fresh local cloud, and the
suite spread over worker processes (pytest-xdist) a file at a time.

When the first notebook is about to run, a new local cloud is started on free ports in a
temporary home and the kernels find it through WORKSHOP_HOME, so ids start from the seed exactly
as in the committed outputs, and the learner's own cloud (if any) is never touched.

``make test`` runs the suite on two workers (pytest-xdist): most of its time is spent waiting
on clouds, kernels and browsers, not computing. A worker takes a whole test file, so a module's
cloud fixture starts once, on one worker; the notebooks go together to one worker, since each
builds on the one before in the same fresh cloud, in order.
"""

from __future__ import annotations

import os

import pytest

NOTEBOOKS_GROUP = "notebooks"

_fresh_cloud = None


def is_notebook(item: pytest.Item) -> bool:
    return str(item.path).endswith(".ipynb")


def scope_of(nodeid: str) -> str:
    """The unit of work a worker takes whole: a test's file, or all the notebooks together."""
    path = nodeid.split("::", 1)[0]
    return NOTEBOOKS_GROUP if path.endswith(".ipynb") else path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """xdist's scope scheduling, with :func:`scope_of` as the scope. (Its ``loadgroup`` marks
    would do the same, but rewrite a private attribute that pytest 9.2 no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

        def schedule(self) -> None:
            # Units in the order of collection (see pytest_collection_modifyitems), not
            # xdist's default of the units with most tests first.
            self.config.option.loadscopereorder = False
            super().schedule()

    return ByFile(config, log)


def run_order(item: pytest.Item) -> int:
    """Notebooks first, unit tests last: the slow units (notebooks, a browser, a lab, the
    notebooks run twice) start early, and the quick ones fill the gaps at the end, where one
    slow file would leave the other worker idle."""
    if is_notebook(item):
        return 0
    return 2 if "/tests/unit/" in str(item.path) else 1


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    items.sort(key=run_order)  # stable: each file's (and each notebook's) own order stays


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Start the notebooks' fresh cloud before nbval starts the first kernel (which inherits
    WORKSHOP_HOME), and only in the process that runs the notebooks."""
    global _fresh_cloud
    if _fresh_cloud is None and is_notebook(item):
        from workshop_utils.localcloud import LocalCloud

        _fresh_cloud = LocalCloud().__enter__()
        os.environ["WORKSHOP_HOME"] = str(_fresh_cloud.settings.home)
        os.environ["WORKSHOP_TARGET"] = "local"
        os.environ.pop("WORKSHOP_PREFIX", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _fresh_cloud
    if _fresh_cloud is not None:
        _fresh_cloud.close()
        _fresh_cloud = None
