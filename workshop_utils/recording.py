"""Record every AWS call a target's clients make, for the test that keeps the library and the
notebooks making the same calls (``tests/test_notebook_calls.py``).

Set ``WORKSHOP_RECORD_CALLS`` to a file path (the notebook kernels inherit it): each call is
appended as one JSON line ``{"service", "operation", "params"}``, written by a botocore
``before-parameter-build`` hook, so the parameters are exactly what the cell (or the library)
passed. Bytes are recorded as Lambda's ``CodeSha256`` of them (so two zips compare by content),
and a secret (the token secret's ``Value``) as ``<secret>``: the file never holds it.
Nothing is recorded when the variable is unset.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
from pathlib import Path
from typing import Any

from .packaging import code_sha256

ENV = "WORKSHOP_RECORD_CALLS"
# Parameters that hold a secret: recorded as SECRET, never written to the file.
SECRETS = {("ssm", "PutParameter"): {"Value"}}
SECRET = "<secret>"
_lock = threading.Lock()


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"CodeSha256": code_sha256(bytes(value))}
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


def install(client: Any, path: str | os.PathLike[str]) -> None:
    """Append every call ``client`` makes to ``path`` (one JSON line each)."""
    service = client.meta.service_model.service_name
    out = Path(path)

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        hidden = SECRETS.get((service, model.name), set())
        shown = {key: SECRET if key in hidden else value for key, value in params.items()}
        line = json.dumps({"service": service, "operation": model.name,
                           "params": _plain(shown)}, sort_keys=True)
        with _lock, out.open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    client.meta.events.register("before-parameter-build", record)


def install_from_environment(client: Any) -> None:
    """:func:`install` when ``WORKSHOP_RECORD_CALLS`` names a file."""
    path = os.environ.get(ENV)
    if path:
        install(client, path)


def read(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The calls recorded in ``path``, in order."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]
