"""Root pytest plugin: notebooks checked by nbval run against a fresh local cloud.

When the session collects notebooks, a new local cloud is started on free ports in a temporary
home and the kernels find it through WORKSHOP_HOME, so ids start from the seed exactly as in the
committed outputs, and the learner's own cloud (if any) is never touched.

The account gets API Gateway's CloudWatch role first, as an instructor's `workshop class setup`
gives a classroom's account: notebook 06 turns access logging on, which AWS (and the local
cloud) refuses without it. Then moto's ids are seeded again, so the notebooks' ids are those of
a fresh cloud. Transitional: once notebook 06 sets the role itself (issue 16's notebook
changes), this step goes, or that cell's committed output would not match.
"""

from __future__ import annotations

import os
import urllib.request

import pytest

_fresh_cloud = None


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    global _fresh_cloud
    if _fresh_cloud is None and any(str(item.path).endswith(".ipynb") for item in items):
        from tests.integration.kit import ensure_logging_role
        from workshop_utils.localcloud import LocalCloud

        _fresh_cloud = LocalCloud().__enter__()
        ensure_logging_role(_fresh_cloud)
        seed = urllib.request.Request(
            f"{_fresh_cloud.aws_endpoint}/moto-api/seed?a={_fresh_cloud.settings.seed}",
            method="POST")
        with urllib.request.urlopen(seed) as answer:  # noqa: S310 - the cloud on 127.0.0.1
            answer.read()
        os.environ["WORKSHOP_HOME"] = str(_fresh_cloud.settings.home)
        os.environ["WORKSHOP_TARGET"] = "local"
        os.environ.pop("WORKSHOP_PREFIX", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _fresh_cloud
    if _fresh_cloud is not None:
        _fresh_cloud.close()
        _fresh_cloud = None
