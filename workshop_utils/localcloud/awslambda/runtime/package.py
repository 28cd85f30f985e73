"""Zips unpacked once: the deployed package (the task root, ``/var/task``) and the layers
(the function's ``/opt``).

Both are directories under ``<home>/lambda/<function>/`` named for their content, made in a
temporary directory and renamed when complete, so a cold start never sees half a package and
two cold starts at once do not collide.

Layers: "Lambda extracts the layers in the order (low to high) listed by the function. Lambda
merges folders with the same name, so if the same file appears in multiple layers, the function
uses the version in the last extracted layer" (Lambda Developer Guide, invocation-layers): so
here, every layer of the function's list is extracted into one directory, in order.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import uuid
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path


def unpack(home: Path, function_name: str, code_sha: str, load_code: Callable[[], bytes]) -> str:
    """The zip ``load_code()`` returns, unpacked under ``<home>/lambda/<fn>/<sha>/`` (read
    only when that directory is not complete yet); returns the directory."""
    target = Path(home) / "lambda" / function_name / (code_sha or "empty")
    return str(_extract_once(target, lambda: [load_code()]))


def unpack_layers(home: Path, function_name: str, layers: Sequence[tuple[str, str]],
                  load_layers: Callable[[], list[bytes]]) -> str:
    """The function's ``/opt``: the zips ``load_layers()`` returns (one per ``(arn, sha)`` of
    ``layers``, in that order) extracted into one directory, later ones over earlier ones."""
    digest = hashlib.sha256(repr(list(layers)).encode()).hexdigest()[:16]
    target = Path(home) / "lambda" / function_name / f"opt-{digest}"
    return str(_extract_once(target, load_layers))


def _extract_once(target: Path, load: Callable[[], list[bytes]]) -> Path:
    if (target / ".complete").exists():
        return target
    zips = load()
    tmp = target.with_name(f".tmp-{uuid.uuid4().hex}")
    tmp.mkdir(parents=True)
    try:
        for code in zips:
            if code:
                _extract(code, tmp)
        (tmp / ".complete").touch()
        try:
            tmp.rename(target)
        except OSError:  # extracted concurrently by another cold start
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _extract(code: bytes, into: Path) -> None:
    root = str(into.resolve())
    with zipfile.ZipFile(io.BytesIO(code)) as zf:
        for info in zf.infolist():
            dest = (into / info.filename).resolve()
            if not str(dest).startswith(root + os.sep):
                continue  # no path escapes from a zip (nor the directory itself)
            if dest.is_file() and not info.is_dir():
                dest.unlink()  # a later layer's file replaces an earlier one's
            zf.extract(info, into)
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                os.chmod(dest, mode | 0o400)
