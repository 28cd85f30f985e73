"""``workshop lab`` (what ``make lab`` runs) on a learner's machine, through a real JupyterLab.

Each test starts ``workshop lab`` on free ports in a temporary home with the PATH ``make`` gives
(no ``.venv/bin`` on it), as root (how CI, containers and many classroom VMs run) and as a
normal user made with ``useradd`` whose HOME does not exist (a container's arbitrary user).
Through JupyterLab's own REST and WebSocket APIs it checks what the issue reported broken: the
server's root is the checkout (``lambda_src/`` reachable) and it opens on the first notebook; a
kernel and a terminal find ``.venv/bin`` first on PATH (``workshop``); a taken port is one line;
on SIGINT (Ctrl-C reaches the whole process group) or SIGTERM it says the local cloud still runs
and how to stop it, or stops it with ``--stop-cloud``.
"""

from __future__ import annotations

import contextlib
import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.timing import SECOND
from workshop_utils.lab import checkout as repo_root
from workshop_utils.localcloud import status, stop

REPO = repo_root()
BIN = Path(sys.executable).absolute().parent  # .venv/bin
WAIT_S = 120 * SECOND  # JupyterLab and a kernel start in seconds; a loaded machine is slower
MAKE_PATH = "/usr/local/bin:/usr/bin:/bin"  # what `make lab` inherits: no .venv/bin on it
MARK = "WSLAB-PROBE"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    """One ``workshop lab`` process and what it printed."""

    proc: subprocess.Popen
    home: Path
    port: int
    out_path: Path
    err_path: Path
    token: str = ""
    url: str = ""
    banner: list[str] = field(default_factory=list)

    def out(self) -> str:
        return self.out_path.read_text(errors="replace")

    def err(self) -> str:
        return self.err_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            if match := re.search(r"^JupyterLab: (\S+\?token=(\S+))$", self.out(), re.M):
                self.url, self.token = match[1], match[2]
                return
            time.sleep(0.2 * SECOND)
        raise AssertionError(f"workshop lab is not ready:\n{self.out()}\n{self.err()[-3000:]}")

    def api(self, method: str, path: str, body: dict | None = None) -> dict | list:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}",
                     "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=WAIT_S) as reply:
            text = reply.read()
        return json.loads(text) if text else {}

    def stop(self, how: str) -> int:
        """Stop it as a terminal's Ctrl-C does (SIGINT to the process group) or as
        ``docker stop`` does (SIGTERM to the process alone); its exit status."""
        if how == "SIGINT":
            os.killpg(self.proc.pid, signal.SIGINT)
        else:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=WAIT_S)


@contextlib.contextmanager
def workshop_lab(home: Path, *args: str, user: pwd.struct_passwd | None = None,
                 python: Path = Path(sys.executable)) -> Iterator[Lab]:
    """``workshop lab`` on free ports, stopped (with its cloud) whatever the test does."""
    port = free_port()
    env = {"PATH": MAKE_PATH, "LANG": "C.UTF-8", "WORKSHOP_TARGET": "local"}
    env["HOME"] = user.pw_dir if user else os.environ.get("HOME", "/root")
    out_path, err_path = home / "lab.out", home / "lab.err"
    command = [str(python), "-m", "workshop_utils.cli", "--home", str(home), "lab",
               "--port", str(port), "--aws-port", "0", "--ws-port", "0", "--no-browser", *args]
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
            start_new_session=True,  # its own process group, as a terminal gives it
            **({"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []} if user else {}),
        )
    lab = Lab(proc, home, port, out_path, err_path)
    try:
        yield lab
    except BaseException:
        print(f"workshop lab's stdout:\n{lab.out()}\nits stderr:\n{lab.err()[-5000:]}")
        raise
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=WAIT_S)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        stop(home)


def run_in_kernel(lab: Lab, code: str) -> str:
    """Run ``code`` in a python3 kernel of a notebook session on the first notebook; its
    stdout. Speaks Jupyter's messaging protocol over the server's kernel WebSocket."""
    session = lab.api("POST", "/api/sessions", {
        "path": "notebooks/00_welcome.ipynb", "type": "notebook", "name": "00_welcome.ipynb",
        "kernel": {"name": "python3"}})
    kernel_id = session["kernel"]["id"]
    msg_id = uuid.uuid4().hex
    request = {
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                   "session": uuid.uuid4().hex, "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }
    output: list[str] = []
    try:
        url = (f"ws://127.0.0.1:{lab.port}/api/kernels/{kernel_id}/channels"
               f"?token={lab.token}")
        with connect(url, open_timeout=WAIT_S, max_size=None) as ws:
            ws.send(json.dumps(request))
            for _ in range(500):
                message = json.loads(ws.recv(timeout=WAIT_S))
                if message.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind = message["header"]["msg_type"]
                if kind == "stream":
                    output.append(message["content"]["text"])
                elif kind == "error":
                    raise AssertionError("\n".join(message["content"]["traceback"]))
                elif kind == "status" and message["content"]["execution_state"] == "idle":
                    break  # iopub's idle comes after all output (execute_reply may not)
    finally:
        lab.api("DELETE", f"/api/sessions/{session['id']}")
    return "".join(output)


def run_in_terminal(lab: Lab, command: str) -> str:
    """Type ``command`` into a new JupyterLab terminal; what it printed up to the end mark."""
    name = lab.api("POST", "/api/terminals")["name"]
    text = ""
    try:
        url = f"ws://127.0.0.1:{lab.port}/terminals/websocket/{name}?token={lab.token}"
        with connect(url, open_timeout=WAIT_S) as ws:
            # $((…)) so that the echoed command line itself does not contain the mark
            ws.send(json.dumps(["stdin", f"{command}; echo {MARK}-$((40+2))\r"]))
            for _ in range(500):
                kind, *payload = json.loads(ws.recv(timeout=WAIT_S))
                if kind == "stdout":
                    text += payload[0]
                if f"{MARK}-42" in text:
                    break
    finally:
        lab.api("DELETE", f"/api/terminals/{name}")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")  # no terminal codes


def assert_lab_works(lab: Lab, expected_uid: int, bin_dir: Path = BIN) -> None:
    """What a learner meets in the JupyterLab that ``make lab`` opened."""
    lab.wait_ready()
    assert lab.url.startswith(f"http://127.0.0.1:{lab.port}/lab/tree/notebooks/00_welcome.ipynb")
    # "/" (where a browser lands) opens the first notebook
    with urllib.request.urlopen(f"http://127.0.0.1:{lab.port}/?token={lab.token}",
                                timeout=WAIT_S) as reply:
        assert reply.url.split("?")[0].endswith("/lab/tree/notebooks/00_welcome.ipynb")
    # rooted at the checkout: the notebooks and the Lambda code are both in the file browser
    root = {item["name"] for item in lab.api("GET", "/api/contents")["content"]}
    assert {"notebooks", "lambda_src", "README.md"} <= root
    assert not [name for name in root if name.endswith(".egg-info")], "packaging is hidden"
    code = lab.api("GET", "/api/contents/lambda_src/broadcast/app.py")
    assert code["type"] == "file" and "def lambda_handler" in code["content"]

    probe = run_in_kernel(lab, (
        "import json, os, shutil\n"
        "print(json.dumps({'path0': os.environ['PATH'].split(os.pathsep)[0],\n"
        "                  'workshop': shutil.which('workshop'), 'cwd': os.getcwd(),\n"
        "                  'uid': os.getuid(), 'home': os.environ['WORKSHOP_HOME']}))\n"))
    seen = json.loads(probe.strip().splitlines()[-1])
    assert seen == {"path0": str(bin_dir), "workshop": str(bin_dir / "workshop"),
                    "cwd": str(REPO / "notebooks"), "uid": expected_uid,
                    "home": str(lab.home)}

    typed = run_in_terminal(lab, "command -v workshop; pwd; workshop cloud status --json "
                                 "| head -c 1; echo")
    assert f"\n{bin_dir / 'workshop'}\n{REPO}\n{{\n" in typed, typed


def assert_stops_as_asked(lab: Lab, how: str, cloud_kept: bool) -> None:
    """Stopped by ``how``, it exits 0 and says whether the local cloud still runs."""
    assert lab.stop(how) == 0, lab.err()[-3000:]
    out = lab.out()
    if cloud_kept:
        assert re.search(r"^JupyterLab stopped; the local cloud still runs \(pid \d+, AWS APIs "
                         r"at http://127\.0\.0\.1:\d+\) .*`workshop cloud stop`", out, re.M), out
        assert status(lab.home) is not None
    else:
        assert "JupyterLab stopped, and so did the local cloud" in out, out
        assert status(lab.home) is None
    assert "Traceback" not in lab.err()


@pytest.fixture
def home() -> Iterator[Path]:
    # Under /tmp with a short path, readable by the test user (pytest's tmp_path is not).
    path = Path(tempfile.mkdtemp(prefix="wslab-"))
    try:
        yield path
    finally:
        stop(path)
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize(("how", "stop_cloud"), [("SIGINT", False), ("SIGTERM", True)])
def test_lab_as_this_user(home: Path, how: str, stop_cloud: bool) -> None:
    """As the tests' user (root in CI and containers, where JupyterLab alone refuses), the lab
    opens on the first notebook with .venv/bin first on PATH, and stops as asked."""
    with workshop_lab(home, *(["--stop-cloud"] if stop_cloud else [])) as lab:
        assert_lab_works(lab, os.getuid())
        assert_stops_as_asked(lab, how, cloud_kept=not stop_cloud)


@pytest.fixture
def learner() -> Iterator[pwd.struct_passwd]:
    """A normal user made with useradd, whose HOME does not exist."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a user with useradd (CI runs as root)")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd/userdel are not installed")
    name = f"wslab{os.getpid() % 100000}"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", f"/nonexistent/{name}",
                    "--shell", "/bin/sh", name], check=True, capture_output=True,
                   timeout=60 * SECOND)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True, timeout=60 * SECOND)
        with contextlib.suppress(KeyError):  # userdel leaves the group on some systems
            grp.getgrnam(name)
            subprocess.run(["groupdel", name], capture_output=True, timeout=60 * SECOND)


def _others_can_enter(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents)) and bool(
        path.stat().st_mode & (stat.S_IROTH | stat.S_IXOTH))


@pytest.fixture
def learner_python(learner: pwd.struct_passwd) -> Iterator[Path]:
    """A Python the learner can run, with the workshop's packages: this .venv's own if other
    users can run it; otherwise (its interpreter may live in root's 0700 home, as pyenv's
    does) a venv of the system's python3 of the same version that imports this .venv's
    site-packages and Jupyter's files, with its own ``bin/workshop``, as a learner's own
    ``make setup`` makes."""
    if _others_can_enter(Path(os.path.realpath(sys.executable))) and _others_can_enter(BIN):
        yield Path(sys.executable)
        return
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(version, path=MAKE_PATH)
    if system is None or not _others_can_enter(Path(os.path.realpath(system))):
        pytest.skip(f"{sys.executable} is not usable by other users and there is no system "
                    f"{version} to make one for them")
    tmp = Path(tempfile.mkdtemp(prefix="wslab-venv-"))
    try:
        tmp.chmod(0o755)
        venv = tmp / "venv"
        subprocess.run([system, "-m", "venv", "--without-pip", str(venv)], check=True,
                       capture_output=True, timeout=WAIT_S)
        site_packages = next((venv / "lib").glob("python3*/site-packages"))
        (site_packages / "workshop-tests.pth").write_text(
            f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
        for shared in ("etc", "share"):  # Jupyter's server extensions, kernel specs, lab app
            if (Path(sys.prefix) / shared).exists():
                (venv / shared).symlink_to(Path(sys.prefix) / shared)
        script = venv / "bin" / "workshop"
        script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\n"
                          "from workshop_utils.cli import main\nsys.exit(main())\n")
        script.chmod(0o755)
        yield venv / "bin" / "python"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_lab_as_a_normal_user_without_a_home(home: Path, learner: pwd.struct_passwd,
                                              learner_python: Path) -> None:
    """A useradd user whose HOME does not exist gets the same lab, its Jupyter files under
    the cloud's home and owned by them."""
    if not _others_can_enter(REPO):
        pytest.skip(f"{REPO} is not readable by other users")
    os.chown(home, learner.pw_uid, learner.pw_gid)
    with workshop_lab(home, user=learner, python=learner_python) as lab:
        assert_lab_works(lab, learner.pw_uid, bin_dir=learner_python.parent)
        assert_stops_as_asked(lab, "SIGINT", cloud_kept=True)
    # Jupyter's files went under the cloud's home, as the learner's
    assert (home / "jupyter" / "runtime").is_dir()
    assert (home / "jupyter" / "runtime").stat().st_uid == learner.pw_uid


def _taken_port() -> contextlib.AbstractContextManager[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return contextlib.closing(sock)


def _workshop(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "workshop_utils.cli", "--home", str(home),
                           *args], capture_output=True, text=True, timeout=WAIT_S,
                          stdin=subprocess.DEVNULL, cwd=REPO,
                          env={**os.environ, "WORKSHOP_TARGET": "local"})


def test_lab_port_taken_is_one_line_and_starts_nothing(home: Path) -> None:
    """A taken JupyterLab port is one line with the next port to use, and no cloud starts."""
    with _taken_port() as sock:
        port = sock.getsockname()[1]
        done = _workshop(home, "lab", "--port", str(port), "--aws-port", "0", "--ws-port", "0",
                         "--no-browser")
    assert done.returncode == 1
    assert done.stderr == (
        f"workshop: port {port} (JupyterLab) is already in use on 127.0.0.1; another JupyterLab "
        f"(or `make lab`) may be running there; choose another: WORKSHOP_LAB_PORT={port + 1} "
        f"make lab (or workshop lab --port {port + 1})\n")
    assert status(home) is None and not (home / "cloud.pid").exists()


@pytest.mark.parametrize("which", ["--aws-port", "--ws-port"])
@pytest.mark.parametrize("command", ["lab", "cloud start"])
def test_cloud_port_taken_is_one_line(home: Path, which: str, command: str) -> None:
    """A taken local-cloud port, for lab and cloud start, is one line naming the port's
    variable, and no cloud starts."""
    with _taken_port() as sock:
        port = sock.getsockname()[1]
        other = "--ws-port" if which == "--aws-port" else "--aws-port"
        extra = ["--port", str(free_port()), "--no-browser"] if command == "lab" else []
        done = _workshop(home, *command.split(), which, str(port), other, "0", *extra)
    assert done.returncode == 1, done
    assert len(done.stderr.splitlines()) == 1, done.stderr
    what = "AWS APIs" if which == "--aws-port" else "WebSockets"
    assert done.stderr.startswith(
        f"workshop: port {port} (the local cloud's {what}) is already in use on 127.0.0.1; "
        "stop what uses it"), done.stderr
    assert "WORKSHOP_AWS_PORT=" in done.stderr and "Traceback" not in done.stderr
    assert status(home) is None
