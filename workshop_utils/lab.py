"""``workshop lab``, what ``make lab`` runs: the local cloud, then JupyterLab on the workshop.

What a learner's machine needs from it, whoever and wherever they are:

- **root or not**: containers and many classroom VMs run as root, where JupyterLab refuses to
  start without ``--allow-root``;
- **the whole checkout in the file browser**: the server's root is the repository, so
  ``lambda_src/`` (which the notebooks ask the learner to read and edit) is one click away,
  and it opens on ``notebooks/00_welcome.ipynb``, so the notebooks come first;
- **this environment first on PATH** in kernels and terminals: ``workshop chat …`` and
  ``python`` are the workshop's (JupyterLab's terminals are login shells, whose
  ``/etc/profile`` resets PATH; they get ``BASHRC`` instead, written to the cloud's home);
- **headless**: without a display it prints the address instead of opening a browser; a HOME
  it cannot write (a container's arbitrary user) gets Jupyter's files under the cloud's home;
- **ports**: a taken port is one line and the way out (``workshop_utils.ports``);
- **on exit**: it says that the local cloud still runs and how to stop it, or stops it
  (``--stop-cloud``).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import ports
from .cli_errors import CommandError
from .localcloud import CloudSettings, status, stop

DEFAULT_PORT = 8888  # JupyterLab's own default; WORKSHOP_LAB_PORT or --port to change it
FIRST_PAGE = "notebooks/00_welcome.ipynb"
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
BASHRC = """\
# Start-up file of the terminals of `workshop lab` (bash --rcfile this -i), written by it.
# JupyterLab would otherwise start a login shell, whose /etc/profile resets PATH and loses the
# workshop's environment: `workshop chat ...` would then be "command not found".
if [ -f "$HOME/.bashrc" ]; then
  . "$HOME/.bashrc"
fi
# The learner's ~/.bashrc may put another Python first (conda init does): the workshop's wins.
if [ -n "${WORKSHOP_LAB_BIN:-}" ]; then
  export PATH="$WORKSHOP_LAB_BIN:$PATH"
fi
"""
# Jupyter's per-user directories, moved under the cloud's home when HOME cannot be written.
JUPYTER_DIRS = {
    "JUPYTER_CONFIG_DIR": "config",
    "JUPYTER_DATA_DIR": "data",
    "JUPYTER_RUNTIME_DIR": "runtime",
    "IPYTHONDIR": "ipython",
    "MPLCONFIGDIR": "matplotlib",
}


@dataclass(frozen=True)
class LabOptions:
    port: int = DEFAULT_PORT
    home: Path | None = None  # the local cloud's home (default WORKSHOP_HOME or .workshop/)
    aws_port: int | None = None
    ws_port: int | None = None
    browser: bool | None = None  # None: open one if this machine has a display
    stop_cloud: bool = False


def checkout() -> Path:
    """The repository this package runs from: JupyterLab's root."""
    return Path(__file__).resolve().parents[1]


def environment_bin() -> Path:
    """The ``bin/`` of the Python running ``workshop`` (``.venv/bin`` after ``make setup``).

    Not resolved: ``.venv/bin/python`` is a symlink to the base interpreter, whose directory
    has neither ``workshop`` nor the workshop's packages.
    """
    return Path(sys.executable).absolute().parent


def has_display(env: Mapping[str, str]) -> bool:
    """Can a browser be opened here? (macOS and Windows always; Linux with X or Wayland.)"""
    if sys.platform in ("darwin", "win32"):
        return True
    return any(env.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"))


def _home_writable(env: Mapping[str, str]) -> bool:
    home = env.get("HOME")
    if not home:
        try:
            home = str(Path.home())
        except RuntimeError:  # no HOME and no passwd entry (a container's arbitrary uid)
            return False
    return os.path.isdir(home) and os.access(home, os.W_OK)


def lab_environment(env: Mapping[str, str], *, bin_dir: Path, cloud_home: Path,
                    token: str) -> dict[str, str]:
    """The environment of the JupyterLab server; its kernels and terminals inherit it."""
    lab_env = dict(env)
    path = [p for p in env.get("PATH", os.defpath).split(os.pathsep) if p != str(bin_dir)]
    lab_env["PATH"] = os.pathsep.join([str(bin_dir), *path])
    lab_env["WORKSHOP_LAB_BIN"] = str(bin_dir)  # read by BASHRC
    lab_env["WORKSHOP_HOME"] = str(cloud_home)
    lab_env["JUPYTER_TOKEN"] = token
    if sys.prefix != sys.base_prefix:  # a virtual environment: say so, as `activate` would
        lab_env["VIRTUAL_ENV"] = sys.prefix
    if not _home_writable(env):
        for name, sub in JUPYTER_DIRS.items():
            lab_env.setdefault(name, str(cloud_home / "jupyter" / sub))
    return lab_env


def terminal_command(env: Mapping[str, str], cloud_home: Path) -> list[str]:
    """The shell of JupyterLab's terminals: bash with ``BASHRC``, or a non-login ``sh``
    (which keeps the PATH it is given) where there is no bash."""
    bash = shutil.which("bash", path=env.get("PATH"))
    if bash:
        rcfile = cloud_home / "lab" / "bashrc"
        rcfile.parent.mkdir(parents=True, exist_ok=True)
        rcfile.write_text(BASHRC)
        return [bash, "--rcfile", str(rcfile), "-i"]
    return [shutil.which("sh", path=env.get("PATH")) or "/bin/sh", "-i"]


HIDDEN_IN_FILE_BROWSER = ["__pycache__", "*.pyc", "*.pyo", ".DS_Store", "*.so", "*.dylib", "*~",
                          "*.egg-info"]


def jupyter_command(port: int, *, repo: Path, open_browser: bool, as_root: bool,
                    shell: list[str]) -> list[str]:
    """``python -m jupyterlab`` rooted at ``repo``, opening on the first notebook."""
    command = [
        sys.executable, "-m", "jupyterlab",
        "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0",  # a taken port fails instead of moving to the next one
        f"--ServerApp.root_dir={repo}",
        f"--LabApp.default_url=/lab/tree/{FIRST_PAGE}",
        "--ServerApp.terminado_settings=" + json.dumps({"shell_command": shell}),
        # Jupyter's own hidden files, plus what `pip install -e .` leaves at the root: the
        # learner's file browser shows the workshop, not its packaging.
        "--ContentsManager.hide_globs=" + json.dumps(HIDDEN_IN_FILE_BROWSER),
    ]
    if not open_browser:
        command.append("--no-browser")
    if as_root:
        command.append("--allow-root")
    return command


def answers(port: int, token: str, timeout: float = 2.0) -> bool:
    """Does the JupyterLab server on ``port`` answer its status API?"""
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def wait_until_ready(proc: subprocess.Popen[Any], port: int, token: str,
                     timeout: float = READY_TIMEOUT_S) -> bool:
    """True once the server answers; False if it exits first or is not up within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if answers(port, token):
            return True
        time.sleep(0.2)
    return False


def _cloud(options: LabOptions) -> tuple[CloudSettings, dict[str, Any]]:
    settings = CloudSettings.from_env(home=options.home, aws_port=options.aws_port,
                                      ws_port=options.ws_port)
    return settings, ports.start_cloud(settings)


def _farewell(settings: CloudSettings | None, stop_cloud: bool) -> str:
    if settings is None:
        return "JupyterLab stopped."
    if stop_cloud:
        stop(settings.home)
        return "JupyterLab stopped, and so did the local cloud (what you built in it is gone)."
    state = status(settings.home)
    if state is None:
        return "JupyterLab stopped; the local cloud is not running."
    return (f"JupyterLab stopped; the local cloud still runs (pid {state['pid']}, AWS APIs at "
            f"{state['aws_endpoint']}) with what you built in it: `workshop cloud stop` (or "
            "`make cloud-stop`) stops it, `make lab` works with it again.")


def run(options: LabOptions, env: Mapping[str, str] | None = None) -> int:
    """Start (or reuse) the local cloud, run JupyterLab until it stops, say what still runs."""
    env = dict(os.environ if env is None else env)
    ports.require_free(
        options.port, "JupyterLab",
        f"another JupyterLab (or `make lab`) may be running there; choose another: "
        f"WORKSHOP_LAB_PORT={options.port + 1} make lab (or workshop lab --port "
        f"{options.port + 1})")
    settings: CloudSettings | None = None
    if env.get("WORKSHOP_TARGET", "local").strip().lower() == "aws":
        print("target aws: the local cloud is not started (the notebooks use your AWS account)")
    else:
        settings, state = _cloud(options)
        print(f"local cloud running (pid {state['pid']}): AWS APIs at {state['aws_endpoint']}")
    cloud_home = settings.home if settings else CloudSettings.from_env(home=options.home).home
    bin_dir = environment_bin()
    token = env.get("JUPYTER_TOKEN") or secrets.token_urlsafe(24)
    lab_env = lab_environment(env, bin_dir=bin_dir, cloud_home=cloud_home, token=token)
    open_browser = has_display(env) if options.browser is None else options.browser
    command = jupyter_command(options.port, repo=checkout(), open_browser=open_browser,
                              as_root=hasattr(os, "geteuid") and os.geteuid() == 0,
                              shell=terminal_command(lab_env, cloud_home))
    stop_signals: list[int] = []
    started: list[subprocess.Popen[Any]] = []

    def forward(signum: int, _frame: object) -> None:
        # SIGINT (Ctrl-C) as SIGINT, which JupyterLab without a terminal takes as "stop now";
        # SIGTERM and SIGHUP (docker stop, a closed terminal) as SIGTERM. Repeats are dropped.
        stop_signals.append(signum)
        if len(stop_signals) == 1 and started and started[0].poll() is None:
            started[0].send_signal(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM)

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, forward) for sig in handled} if in_main_thread else {}
    # Its own session: a terminal's Ctrl-C reaches only this process, which passes exactly one
    # stop signal on. Both receiving it, JupyterLab took the second SIGINT in the middle of its
    # shutdown and died with a KeyboardInterrupt traceback.
    proc = subprocess.Popen(command, cwd=checkout(), env=lab_env, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    started.append(proc)
    if stop_signals:  # one arrived while it was being started
        forward(stop_signals.pop(), None)
    try:
        if wait_until_ready(proc, options.port, token):
            print(f"JupyterLab: http://127.0.0.1:{options.port}/lab/tree/{FIRST_PAGE}"
                  f"?token={token}", flush=True)
            print(f"  its kernels and terminals run {bin_dir} first on PATH (workshop, python);"
                  " Ctrl-C stops it", flush=True)
        status = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:  # we are leaving on an error of our own: do not orphan it
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        print(_farewell(settings, options.stop_cloud), flush=True)
    if status != 0 and not stop_signals:
        raise CommandError(f"JupyterLab exited with code {status} (its messages are above)",
                           "fix what they say, then run `make lab` again")
    return 0
