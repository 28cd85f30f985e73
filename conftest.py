"""Root pytest plugin: notebooks checked by nbval run against a fresh local cloud.

When the session collects notebooks, a new local cloud is started on free ports in a temporary
home and the kernels find it through WORKSHOP_HOME, so ids start from the seed exactly as in the
committed outputs, and the learner's own cloud (if any) is never touched.
"""

from __future__ import annotations

import os

import pytest

_fresh_cloud = None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    global _fresh_cloud
    if _fresh_cloud is None and any(str(item.path).endswith(".ipynb") for item in items):
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
