"""One execution environment: a worker process (``bootstrap.py``) and its two pipes.

The worker is started with ``sys.executable -S -s -P`` through asyncio's subprocess API: the
interpreter of the cloud's environment without its site-packages, user site or script
directory, so the function sees only what ``bootstrap.py`` puts on its path (the standard
library, the runtime's boto3, its package and its layers: as on AWS, and never the
workshop's own packages). It gets two private pipes (fds in ``_LOCALCLOUD_FDS``): commands
in, frames out. Every frame, both ways, is ``>II`` (header length, body length), a JSON
header, then the raw body (``bootstrap.py`` tells the frames). One reader task per worker,
for its whole life, collects log frames and results into the current
:class:`~.invocation.Invocation`; there is no thread, process or polling per invocation. A
worker that exits, or sends garbage, fails what it was doing with :class:`WorkerDied`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import struct
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .invocation import Invocation
    from .pools import Pool

log = logging.getLogger(__name__)

_HEAD = struct.Struct(">II")
BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
# no site-packages (-S), no user site (-s), not the bootstrap's directory first (-P)
PYTHON_FLAGS = ("-S", "-s", "-P")
MAX_FRAME = 64 * 1024 * 1024  # a worker sending more than this per frame is broken: kill it


class WorkerDied(Exception):
    """The worker process is gone; the message is Go's ExitError text (see exit_reason)."""


def now_ms() -> int:
    return int(time.time() * 1000)


def exit_reason(returncode: int | None) -> str:
    """Go's ExitError text, which is what AWS's ``Runtime exited with error: …`` shows."""
    if returncode is None:
        return "signal: killed"
    if returncode < 0:
        try:
            name = signal.strsignal(-returncode) or f"signal {-returncode}"
        except ValueError:
            name = f"signal {-returncode}"
        return f"signal: {name.lower()}"
    return f"exit status {returncode}"


class Worker:
    """One execution environment: a process, its pipes, its log stream."""

    def __init__(self, pool: Pool, stream: str) -> None:
        self.pool = pool
        self.stream = stream
        self.reclaim: asyncio.TimerHandle | None = None  # set while idle
        self.proc: asyncio.subprocess.Process | None = None
        self.alive = False
        self.current: Invocation | None = None
        self.rss_mb = 0
        self._ready: asyncio.Future[tuple[dict[str, Any], bytes]] | None = None
        self._cmd: asyncio.WriteTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, env: dict[str, str], cwd: str, inv: Invocation) -> tuple[dict, bytes]:
        """Spawn and wait for init; returns the ``ready`` or ``init_error`` frame."""
        loop = asyncio.get_running_loop()
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        env = {**env, "_LOCALCLOUD_FDS": f"{cmd_r},{evt_w}"}
        self.current = inv
        self._ready = loop.create_future()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, *PYTHON_FLAGS, str(BOOTSTRAP),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env, cwd=cwd, pass_fds=(cmd_r, evt_w),
            )
        except BaseException:
            for fd in (cmd_r, cmd_w, evt_r, evt_w):
                os.close(fd)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.close(cmd_r)
                os.close(evt_w)
        self.alive = True
        self._cmd, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(cmd_w, "wb", 0)
        )
        reader = asyncio.StreamReader(limit=2**16)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(evt_r, "rb", 0)
        )
        self._tasks = [
            loop.create_task(self._read_frames(reader), name=f"lambda-frames-{self.stream}"),
            loop.create_task(self._read_stdout(), name=f"lambda-stdout-{self.stream}"),
        ]
        return await self._ready

    def cancel_reclaim(self) -> None:
        if self.reclaim is not None:
            self.reclaim.cancel()
            self.reclaim = None

    def send(self, header: dict[str, Any], body: bytes) -> None:
        head = json.dumps(header).encode()
        assert self._cmd is not None
        self._cmd.write(_HEAD.pack(len(head), len(body)) + head + body)

    async def _read_frames(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                hlen, blen = _HEAD.unpack(await reader.readexactly(_HEAD.size))
                if hlen > 65536 or blen > MAX_FRAME:
                    raise ValueError(f"bad frame ({hlen}, {blen})")
                header = json.loads(await reader.readexactly(hlen))
                body = await reader.readexactly(blen) if blen else b""
                kind = header.get("t")
                if kind == "log":
                    if self.current is not None:
                        self.current.add(int(header["ts"]), body.decode("utf-8", "replace"))
                elif kind in ("ready", "init_error"):
                    self.rss_mb = int(header.get("rss", 0))
                    if self._ready is not None and not self._ready.done():
                        self._ready.set_result((header, body))
                elif kind == "result":
                    self.rss_mb = int(header.get("rss", 0))
                    inv = self.current
                    if inv is not None and inv.result is not None and not inv.result.done():
                        inv.result.set_result((header, body))
                else:
                    raise ValueError(f"unknown frame {kind!r}")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # EOF, garbage: the environment is gone
            garbage = not isinstance(exc, asyncio.IncompleteReadError)
            if garbage:
                log.warning("lambda worker %s sent garbage (%s): killing it", self.stream, exc)
            await self._died(kill_first=garbage)

    async def _read_stdout(self) -> None:
        """Output written to fd 1/2 directly (C code, subprocesses): one event per line."""
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        pending = b""
        with contextlib.suppress(Exception):
            while chunk := await stdout.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if len(pending) > 65536:
                    lines.append(pending)
                    pending = b""
                for line in lines:
                    text = line.decode("utf-8", "replace") + "\n"
                    if self.current is not None:
                        self.current.add(now_ms(), text)
                    else:
                        log.info("lambda %s: %s", self.stream, text.rstrip())

    async def _died(self, kill_first: bool) -> None:
        self.alive = False
        returncode = None
        if self.proc is not None and not kill_first:
            # the channel closed: the process is exiting by itself. Let asyncio's child watcher
            # reap it first (Popen.kill() polls and would steal its exit status).
            with contextlib.suppress(Exception):
                returncode = await asyncio.wait_for(asyncio.shield(self.proc.wait()), 1)
        self.kill()
        if self.proc is not None and returncode is None:
            with contextlib.suppress(Exception):
                returncode = await asyncio.wait_for(self.proc.wait(), 5)
        exc = WorkerDied(exit_reason(returncode))
        for fut in (self._ready, self.current.result if self.current else None):
            if fut is not None and not fut.done():
                fut.set_exception(exc)

    def kill(self) -> None:
        self.alive = False
        if self._cmd is not None:
            self._cmd.close()
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()

    async def close(self) -> None:
        self.kill()
        if self.proc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proc.wait(), 5)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
