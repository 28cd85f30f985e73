"""The runtime's own packages: boto3, botocore and what they need, and nothing else.

AWS's Python runtime gives a function the standard library and the SDK for Python, installed in
``/var/lang/lib/python3.X/site-packages`` (https://docs.aws.amazon.com/lambda/latest/dg/
lambda-python.html, "Runtime-included SDK versions"): boto3 and botocore with what they
require (s3transfer, jmespath, python-dateutil, six, urllib3). The local cloud's environment
holds far more (websockets, requests, numpy, moto, the workshop itself), which a handler must
not be able to import: ``import requests`` fails on AWS with ``Runtime.ImportModuleError``, so
it must fail here.

A worker therefore runs without any site-packages (``python -S``, see :mod:`.workers`) and
gets, in their place, the *runtime directory* built here: ``site-packages/`` holding symlinks
to exactly the SDK's distributions of the cloud's environment (their packages and their
``.dist-info``, so ``importlib.metadata.version("boto3")`` works as on AWS). The set is the
dependency closure of boto3 read from the installed metadata (extras left out), so a newer
botocore that needs another package brings it along. It is built once per set of versions,
under ``<home>/lambda/runtime-<digest>/``, which is the function's ``LAMBDA_RUNTIME_DIR``
(AWS: ``/var/runtime``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata as metadata
import os
import re
import shutil
import threading
import uuid
from pathlib import Path

SDK_ROOTS = ("boto3",)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_lock = threading.Lock()
_built: dict[Path, Path] = {}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sdk_distributions(roots: tuple[str, ...] = SDK_ROOTS) -> list[metadata.Distribution]:
    """The installed distributions of ``roots`` and everything they require (no extras)."""
    found: dict[str, metadata.Distribution] = {}
    pending = list(roots)
    while pending:
        name = _canonical(pending.pop())
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement whose marker excludes this interpreter
        found[name] = dist
        for requirement in dist.requires or []:
            marker = requirement.partition(";")[2]
            if "extra" in marker:
                continue
            if match := _NAME.match(requirement):
                pending.append(match[1])
    return [found[name] for name in sorted(found)]


def _top_level_paths(dist: metadata.Distribution) -> list[Path]:
    """What ``dist`` puts in site-packages: its packages or modules and its .dist-info."""
    names: set[str] = set()
    for file in dist.files or []:
        first = file.parts[0]
        if first in ("..", "__pycache__") or first.endswith(".data"):
            continue
        if len(file.parts) == 1 and not first.endswith((".py", ".so", ".pyd")):
            continue  # a stray file (a .pth, a LICENSE) is not importable code
        names.add(first)
    return sorted(Path(dist.locate_file(name)) for name in names)


def runtime_dir(home: Path) -> Path:
    """The runtime directory of this environment's SDK under ``home`` (built on first use,
    then remembered: the environment does not change while the cloud runs):
    ``<dir>/site-packages`` holds the SDK and nothing else."""
    home = Path(home)
    with _lock:
        if home in _built:
            return _built[home]
        dists = sdk_distributions()
        digest = hashlib.sha256("\n".join(
            f"{d.metadata['Name']}=={d.version}@{d.locate_file('')}" for d in dists
        ).encode()).hexdigest()[:16]
        target = home / "lambda" / f"runtime-{digest}"
        if not (target / ".complete").exists():
            _build(target, dists)
        _built[home] = target
        return target


def _build(target: Path, dists: list[metadata.Distribution]) -> None:
    tmp = target.with_name(f".tmp-{uuid.uuid4().hex}")
    site = tmp / "site-packages"
    site.mkdir(parents=True)
    try:
        for dist in dists:
            for path in _top_level_paths(dist):
                if path.exists():
                    os.symlink(path, site / path.name)
        (tmp / ".complete").touch()
        try:
            tmp.rename(target)
        except OSError:  # built by another cloud on the same home meanwhile
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
