"""The deployed zip, unpacked once per code sha: the function's task root (``/var/task``)."""

from __future__ import annotations

import io
import os
import shutil
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path


def unpack(home: Path, function_name: str, code_sha: str, load_code: Callable[[], bytes]) -> str:
    """The zip ``load_code()`` returns, unpacked under ``<home>/lambda/<fn>/<sha>/`` (read
    only when that directory is not complete yet); returns the directory."""
    base = Path(home) / "lambda" / function_name
    target = base / (code_sha or "empty")
    if (target / ".complete").exists():
        return str(target)
    code = load_code()
    tmp = base / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir(parents=True)
    try:
        if code:
            with zipfile.ZipFile(io.BytesIO(code)) as zf:
                for info in zf.infolist():
                    dest = (tmp / info.filename).resolve()
                    if not str(dest).startswith(str(tmp.resolve())):
                        continue  # no path escapes from a zip
                    zf.extract(info, tmp)
                    mode = (info.external_attr >> 16) & 0o777
                    if mode and not info.is_dir():
                        os.chmod(dest, mode | 0o400)
        (tmp / ".complete").touch()
        try:
            tmp.rename(target)
        except OSError:  # extracted concurrently by another cold start
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return str(target)
