"""Start, find and stop the local cloud as a background process (the public API's core).

The process outlives notebook kernels: notebook 03 sees what notebook 01 created. It is found
through its home directory (``WORKSHOP_HOME``, default ``.workshop/``): ``cloud.pid``,
``state.json`` (endpoints, written when ready) and ``cloud.log``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .settings import STATUS_PATH, CloudSettings


class LocalCloudError(RuntimeError):
    """The local cloud could not be started, found or stopped; the message says why."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is not alive
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def read_state(home: Path) -> dict[str, Any] | None:
    try:
        state = json.loads((home / "state.json").read_text())
    except (OSError, ValueError):
        return None
    return state if _pid_alive(int(state.get("pid", 0))) else None


def status(home: Path, timeout: float = 3.0) -> dict[str, Any] | None:
    """The running cloud's live status, or None if no cloud answers for ``home``."""
    state = read_state(home)
    if state is None:
        return None
    try:
        with urllib.request.urlopen(state["aws_endpoint"] + STATUS_PATH, timeout=timeout) as r:
            return json.loads(r.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None


def start(settings: CloudSettings, timeout: float = 60.0) -> dict[str, Any]:
    """Start a local cloud in the background and return its status once it answers.

    Idempotent: if one already runs for this home, that one is returned.
    """
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    if (running := status(home)) is not None:
        return running
    (home / "state.json").unlink(missing_ok=True)
    log_path = home / "cloud.log"
    with open(log_path, "ab") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workshop_utils.localcloud", "serve", "--settings-json",
             settings.to_json()],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the kernel / terminal that started it
            cwd=str(home),
        )
    (home / "cloud.pid").write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LocalCloudError(
                f"the local cloud exited with code {proc.returncode} while starting; "
                f"last lines of {log_path}:\n{_tail(log_path)}"
            )
        state = read_state(home)
        if state and state.get("pid") == proc.pid and (live := status(home)) is not None:
            return live
        time.sleep(0.05)
    proc.kill()
    raise LocalCloudError(f"the local cloud did not answer within {timeout:.0f} s; see {log_path}")


def stop(home: Path, timeout: float = 20.0) -> bool:
    """Stop the cloud of ``home``; True if one was running."""
    pid_file = home / "cloud.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    if not _pid_alive(pid):
        pid_file.unlink(missing_ok=True)
        (home / "state.json").unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _pid_alive(pid):
        time.sleep(0.05)
    if _pid_alive(pid):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    pid_file.unlink(missing_ok=True)
    (home / "state.json").unlink(missing_ok=True)
    return True


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
