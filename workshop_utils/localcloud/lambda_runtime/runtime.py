"""Execution environments: warm worker processes that run the deployed zip, on the cloud's loop.

Process model: per function (and version) a :class:`_Pool` of up to
``settings.max_workers_per_function`` worker processes (``bootstrap.py``, started with
``sys.executable`` through asyncio's subprocess API). A worker imports the handler once (cold
start, measured as Init Duration), then serves invocations one at a time over a private pipe.
The most recently used idle worker is reused, so sequential invocations stay on one environment;
a new one starts only when all are busy. The pool is keyed by a fingerprint of what AWS would
redeploy on (code sha, handler, runtime, environment, timeout, memory, role): any change retires
the old workers (busy ones when they finish) and the next invoke is a cold start.

Per invocation there is no thread, no process and no polling: one write on the command pipe, then
the worker's reader task (one per worker, for its whole life) collects log frames and the result.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import re
import shutil
import signal
import struct
import sys
import time
import uuid
import zipfile
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_HEAD = struct.Struct(">II")
BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
MAX_PAYLOAD = 6 * 1024 * 1024  # 6291456: synchronous request and response payload quota
MAX_RESPONSE = 6291556  # what AWS prints in Function.ResponseSizeTooLarge
MAX_FRAME = 64 * 1024 * 1024  # a worker sending more than this per frame is broken: kill it
MAX_LOG_BYTES = 1024 * 1024  # per invocation kept for CloudWatch; the rest is dropped
TAIL_BYTES = 4096
INIT_TIMEOUT_S = 10.0  # AWS's init phase limit (on top of the function's timeout here)

_ARN = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?(?:(?P<account>\d{12}):)?"
    r"(?:function:)?(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)


class FunctionNotFound(Exception):
    """No such function (or qualifier): what AWS answers with ResourceNotFoundException."""

    def __init__(self, arn: str) -> None:
        super().__init__(f"Function not found: {arn}")
        self.arn = arn


@dataclass(frozen=True)
class InvokeResult:
    status_code: int  # 200 RequestResponse, 202 Event, 204 DryRun
    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed (error, timeout, crash)
    log_result: str | None  # base64 of the last 4 KB of log, when LogType=Tail
    request_id: str
    executed_version: str = "$LATEST"


@dataclass(frozen=True)
class _Spec:
    """What one invocation needs to know about the function, read from moto."""

    name: str
    arn: str  # unqualified
    version: str  # "$LATEST" or "1", "2", ...
    handler: str
    runtime: str
    env: tuple[tuple[str, str], ...]
    timeout: int
    memory: int
    role: str
    code_sha: str  # hex digest of the zip
    region: str

    @property
    def fingerprint(self) -> tuple[Any, ...]:
        return (self.code_sha, self.handler, self.runtime, self.env, self.timeout,
                self.memory, self.role)


class _WorkerDied(Exception):
    pass


@dataclass
class _Invocation:
    request_id: str
    events: list[tuple[int, str]] = field(default_factory=list)
    log_bytes: int = 0
    result: asyncio.Future[tuple[dict[str, Any], bytes]] | None = None

    def add(self, ts: int, message: str) -> None:
        if self.log_bytes > MAX_LOG_BYTES:
            return
        self.log_bytes += len(message)
        if self.log_bytes > MAX_LOG_BYTES:
            message = "[local cloud] log output of this invocation truncated at 1 MB\n"
        self.events.append((ts, message))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ts_ms: int) -> str:
    dt = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


def _exit_reason(returncode: int | None) -> str:
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


class _Worker:
    """One execution environment: a process, its pipes, its log stream."""

    def __init__(self, pool: _Pool, stream: str) -> None:
        self.pool = pool
        self.stream = stream
        self.reclaim: asyncio.TimerHandle | None = None  # set while idle
        self.proc: asyncio.subprocess.Process | None = None
        self.alive = False
        self.current: _Invocation | None = None
        self.rss_mb = 0
        self._ready: asyncio.Future[tuple[dict[str, Any], bytes]] | None = None
        self._cmd: asyncio.WriteTransport | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, env: dict[str, str], cwd: str, inv: _Invocation) -> tuple[dict, bytes]:
        """Spawn and wait for init; returns the ``ready`` or ``init_error`` frame."""
        loop = asyncio.get_running_loop()
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        env = {**env, "_LOCALCLOUD_FDS": f"{cmd_r},{evt_w}"}
        self.current = inv
        self._ready = loop.create_future()
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, str(BOOTSTRAP),
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
                        self.current.add(_now_ms(), text)
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
        exc = _WorkerDied(_exit_reason(returncode))
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


class _Pool:
    def __init__(self, spec: _Spec) -> None:
        self.spec = spec
        self.fingerprint = spec.fingerprint
        self.workers: set[_Worker] = set()
        self.idle: list[_Worker] = []  # most recently used last
        self.waiters: deque[asyncio.Future[_Worker | None]] = deque()
        self.retired = False


class LambdaRuntime:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self._pools: dict[tuple[str, str], _Pool] = {}
        self._background: set[asyncio.Task[Any]] = set()
        self._closing = False

    def aws_extension(self) -> Any:
        from .api import LambdaInvokeExtension

        return LambdaInvokeExtension(self)

    async def start(self) -> None:
        self._closing = False

    async def stop(self) -> None:
        self._closing = True
        for task in list(self._background):
            task.cancel()
        workers = [w for pool in self._pools.values() for w in pool.workers]
        self._pools.clear()
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task

    # --- looking the function up in moto -------------------------------------------------------

    def resolve(self, function: str, qualifier: str | None = None) -> _Spec:
        """The function as moto holds it now, or FunctionNotFound (with AWS's ARN in it)."""
        settings = self.cloud.settings
        match = _ARN.match(function)
        if not match:
            raise FunctionNotFound(self._arn(function, qualifier))
        region = match["region"] or settings.region
        name = match["name"]
        qualifier = match["qualifier"] or qualifier
        unqualified = self._arn(name, None, region)
        if (match["account"] or settings.account_id) != settings.account_id:
            raise FunctionNotFound(self._arn(function, qualifier, region))
        try:
            backend = self.cloud.moto_backend("lambda", region)
            fn = backend.get_function(name, qualifier)
        except Exception:
            raise FunctionNotFound(
                unqualified + (f":{qualifier}" if qualifier else "")
            ) from None
        env = fn.environment_vars or {}
        return _Spec(
            name=fn.function_name, arn=unqualified, version=str(fn.version),
            handler=fn.handler or "", runtime=fn.run_time or "python3.12",
            env=tuple(sorted((str(k), str(v)) for k, v in env.items())),
            timeout=int(fn.timeout or 3), memory=int(fn.memory_size or 128),
            role=fn.role or "", code_sha=fn.code_digest or "", region=region,
        )

    def _arn(self, name: str, qualifier: str | None, region: str | None = None) -> str:
        if name.startswith("arn:"):
            return name
        settings = self.cloud.settings
        if ":" in name:  # partial ARN / name:qualifier
            name, _, rest = name.partition(":")
            if name.isdigit():  # 123456789012:function:name
                return f"arn:aws:lambda:{region or settings.region}:{name}:{rest}"
            qualifier = rest
        arn = f"arn:aws:lambda:{region or settings.region}:{settings.account_id}:function:{name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    # --- invoke ----------------------------------------------------------------------------------

    async def invoke(
        self,
        function: str,
        payload: bytes,
        *,
        invocation_type: str = "RequestResponse",
        log_type: str | None = None,
        qualifier: str | None = None,
        client_context: dict[str, Any] | None = None,
    ) -> InvokeResult:
        try:
            spec = self.resolve(function, qualifier)
        except FunctionNotFound:
            if match := _ARN.match(function):
                self.forget(match["name"])  # deleted while warm: its environments go lazily
            raise
        match = _ARN.match(function)
        given = (match["qualifier"] if match else None) or qualifier
        invoked_arn = spec.arn + (f":{given}" if given else "")
        request_id = str(uuid.uuid4())
        if invocation_type == "DryRun":
            return InvokeResult(204, b"", None, None, request_id, spec.version)
        if invocation_type == "Event":
            task = asyncio.get_running_loop().create_task(
                self._run(spec, payload, request_id, invoked_arn, client_context)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
            return InvokeResult(202, b"", None, None, request_id, spec.version)
        # shielded: if the caller gives up (the gateway's integration timeout), the invocation
        # still runs to its end, is logged and gives its environment back, as on AWS
        inner = asyncio.get_running_loop().create_task(
            self._run(spec, payload, request_id, invoked_arn, client_context)
        )
        payload_out, error, tail = await asyncio.shield(inner)
        log_result = None
        if log_type == "Tail":
            log_result = base64.b64encode(tail).decode()
        return InvokeResult(200, payload_out, "Unhandled" if error else None, log_result,
                            request_id, spec.version)

    async def _run(
        self, spec: _Spec, payload: bytes, request_id: str, invoked_arn: str,
        client_context: dict[str, Any] | None,
    ) -> tuple[bytes, bool, bytes]:
        """One invocation end to end; returns (payload, failed, log tail bytes)."""
        inv = _Invocation(request_id)
        worker, init = await self._acquire(spec, inv)
        try:
            return await self._run_on(worker, init, spec, inv, payload, invoked_arn,
                                      client_context)
        except BaseException:
            worker.kill()
            raise
        finally:
            worker.current = None
            self._release(worker)

    async def _run_on(
        self, worker: _Worker, init: tuple[float, dict[str, Any], bytes] | None, spec: _Spec,
        inv: _Invocation, payload: bytes, invoked_arn: str, client_context: dict[str, Any] | None,
    ) -> tuple[bytes, bool, bytes]:
        rid = inv.request_id
        init_ms: float | None = None
        error_type: str | None = None
        init_failed = False
        if init is not None:
            init_ms, header, body = init
            init_failed = header.get("t") != "ready"
        start_ts = _now_ms()
        inv.events.append((start_ts, f"START RequestId: {rid} Version: {spec.version}\n"))
        t0 = time.perf_counter()
        if init_failed:
            assert init is not None
            error = json.loads(init[2]) if init[1].get("t") == "init_error" else {}
            error["requestId"] = rid
            result_body = json.dumps(error).encode()
            failed = True
            error_type = error.get("errorType")
            worker.kill()
        else:
            inv.result = asyncio.get_running_loop().create_future()
            deadline_ms = _now_ms() + spec.timeout * 1000
            worker.send({"id": rid, "deadline": deadline_ms, "arn": invoked_arn,
                         "cc": client_context}, payload)
            try:
                async with asyncio.timeout(spec.timeout):
                    header, result_body = await inv.result
                failed = bool(header.get("error"))
                if failed:
                    error_type = json.loads(result_body).get("errorType")
                elif len(result_body) > MAX_RESPONSE:
                    failed, error_type = True, "Function.ResponseSizeTooLarge"
                    result_body = json.dumps({
                        "errorMessage": "Response payload size exceeded maximum allowed payload "
                                        f"size ({MAX_RESPONSE} bytes).",
                        "errorType": error_type,
                    }).encode()
            except TimeoutError:
                worker.kill()
                elapsed = time.perf_counter() - t0
                failed, error_type = True, "Sandbox.Timedout"
                message = f"Task timed out after {elapsed:.2f} seconds"
                inv.events.append((_now_ms(), f"{_iso(_now_ms())} {rid} {message}\n"))
                result_body = json.dumps({
                    "errorType": error_type, "errorMessage": f"RequestId: {rid} Error: {message}",
                }).encode()
            except _WorkerDied as died:
                failed, error_type = True, "Runtime.ExitError"
                message = f"RequestId: {rid} Error: Runtime exited with error: {died}"
                inv.events.append((_now_ms(), f"{message}\n{error_type}\n"))
                result_body = json.dumps({
                    "errorType": error_type, "errorMessage": message,
                }).encode()
        duration = (time.perf_counter() - t0) * 1000
        end_ts = _now_ms()
        billed = math.ceil(duration + (init_ms or 0))
        report = (f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\t"
                  f"Billed Duration: {billed} ms\tMemory Size: {spec.memory} MB\t"
                  f"Max Memory Used: {max(worker.rss_mb, 1)} MB\t")
        if init_ms is not None:
            report += f"Init Duration: {init_ms:.2f} ms\t"
        if error_type == "Sandbox.Timedout":
            report += "Status: timeout\n"
        elif error_type in ("Runtime.ExitError",) or init_failed:
            report += f"Status: error\tError Type: {error_type}\n"
        else:
            report += "\n"
        inv.events.append((end_ts, f"END RequestId: {rid}\n"))
        inv.events.append((end_ts, report))
        self._deliver_logs(spec, worker.stream, inv.events)
        tail = "".join(msg if msg.endswith("\n") else msg + "\n" for _, msg in inv.events)
        tail_bytes = tail.encode("utf-8")[-TAIL_BYTES:]
        return result_body, failed, tail_bytes

    def _deliver_logs(self, spec: _Spec, stream: str, events: list[tuple[int, str]]) -> None:
        """Write the invocation's log, if the execution role may: on AWS a role without
        ``logs:`` permissions runs fine and its logs are silently lost."""
        group = f"/aws/lambda/{spec.name}"
        prefix = f"arn:aws:logs:{spec.region}:{self.cloud.settings.account_id}:log-group:{group}"
        needed = [("logs:CreateLogStream", f"{prefix}:log-stream:{stream}"),
                  ("logs:PutLogEvents", f"{prefix}:log-stream:{stream}")]
        if not self.cloud.logs.has_group(group, spec.region):
            needed.insert(0, ("logs:CreateLogGroup", prefix))
        for action, resource in needed:
            denied = self.cloud.iam_sessions.denial(spec.role, spec.name, action, resource)
            if denied is not None:
                log.warning("logs of %s not delivered: %s", spec.name, denied)
                return
        self.cloud.logs.put(group, stream, events, region=spec.region)

    # --- environments ----------------------------------------------------------------------------

    def _pool(self, spec: _Spec) -> _Pool:
        key = (spec.name, spec.version)
        pool = self._pools.get(key)
        if pool is not None and pool.fingerprint == spec.fingerprint:
            return pool
        if pool is not None:
            self._retire(pool)
        pool = self._pools[key] = _Pool(spec)
        return pool

    def _retire(self, pool: _Pool) -> None:
        pool.retired = True
        for worker in pool.idle:
            pool.workers.discard(worker)
            self._close_later(worker)
        pool.idle.clear()
        while pool.waiters:
            fut = pool.waiters.popleft()
            if not fut.done():
                fut.set_result(None)

    def _close_later(self, worker: _Worker) -> None:
        worker.kill()
        task = asyncio.get_running_loop().create_task(worker.close())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def forget(self, name: str) -> None:
        """The function is gone: its environments go too."""
        for key in [k for k in self._pools if k[0] == name]:
            self._retire(self._pools.pop(key))

    async def _acquire(
        self, spec: _Spec, inv: _Invocation
    ) -> tuple[_Worker, tuple[float, dict[str, Any], bytes] | None]:
        if self._closing:
            raise RuntimeError("the Lambda runtime is stopping")
        while True:
            pool = self._pool(spec)
            while pool.idle:
                worker = pool.idle.pop()
                worker.cancel_reclaim()
                if worker.alive:
                    worker.current = inv
                    return worker, None
                pool.workers.discard(worker)
            if len(pool.workers) < self.cloud.settings.max_workers_per_function:
                return await self._cold_start(pool, spec, inv)
            fut: asyncio.Future[_Worker | None] = asyncio.get_running_loop().create_future()
            pool.waiters.append(fut)
            worker = await fut
            if worker is not None:
                worker.current = inv
                return worker, None

    async def _cold_start(
        self, pool: _Pool, spec: _Spec, inv: _Invocation
    ) -> tuple[_Worker, tuple[float, dict[str, Any], bytes]]:
        created = datetime.now(UTC)
        stream = f"{created:%Y/%m/%d}/[{spec.version}]{uuid.uuid4().hex}"
        worker = _Worker(pool, stream)
        pool.workers.add(worker)
        try:
            task_root = await asyncio.to_thread(self._extract, spec)
            env = self._environment(spec, stream, task_root)
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(INIT_TIMEOUT_S + spec.timeout):
                    header, body = await worker.start(env, task_root, inv)
            except _WorkerDied as died:
                message = f"Runtime exited with error: {died}"
                header = {"t": "init_error"}
                body = json.dumps({"errorType": "Runtime.ExitError",
                                   "errorMessage": message}).encode()
            except TimeoutError:
                header = {"t": "init_error"}
                body = json.dumps({"errorType": "Sandbox.Timedout",
                                   "errorMessage": "INIT phase timed out"}).encode()
            init_ms = (time.perf_counter() - t0) * 1000
        except BaseException:
            pool.workers.discard(worker)
            worker.kill()
            raise
        return worker, (init_ms, header, body)

    def _release(self, worker: _Worker) -> None:
        pool = worker.pool
        usable = worker.alive and not pool.retired and not self._closing
        if not usable:
            pool.workers.discard(worker)
            self._close_later(worker)
        while pool.waiters:
            fut = pool.waiters.popleft()
            if fut.done():
                continue
            fut.set_result(worker if usable else None)
            return
        if usable:
            pool.idle.append(worker)
            worker.reclaim = asyncio.get_running_loop().call_later(
                self.cloud.settings.lambda_idle_timeout_s, self._reclaim, worker)

    def _reclaim(self, worker: _Worker) -> None:
        """An environment idle for ``lambda_idle_timeout_s`` goes away, as on AWS."""
        worker.reclaim = None
        pool = worker.pool
        if worker in pool.idle:
            pool.idle.remove(worker)
            pool.workers.discard(worker)
            self._close_later(worker)

    def _extract(self, spec: _Spec) -> str:
        """The deployed zip, unpacked once per code sha under ``<home>/lambda/<fn>/<sha>/``."""
        base = Path(self.cloud.settings.home) / "lambda" / spec.name
        target = base / (spec.code_sha or "empty")
        if (target / ".complete").exists():
            return str(target)
        backend = self.cloud.moto_backend("lambda", spec.region)
        fn = backend.get_function(spec.name, None if spec.version == "$LATEST" else spec.version)
        code = getattr(fn, "code_bytes", b"") or b""
        tmp = base / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir(parents=True)
        try:
            if code:
                import io

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

    def _environment(self, spec: _Spec, stream: str, task_root: str) -> dict[str, str]:
        settings = self.cloud.settings
        key_id, secret, token = self.cloud.iam_sessions.credentials(spec.role, spec.name)
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            # no ~/.aws of the learner inside the function (there is none on Lambda either)
            "AWS_CONFIG_FILE": str(Path(settings.home) / "lambda" / ".no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(Path(settings.home) / "lambda" / ".no-aws-creds"),
        }
        env.update(dict(spec.env))
        env.update({
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "LAMBDA_TASK_ROOT": task_root,
            "LAMBDA_RUNTIME_DIR": str(BOOTSTRAP.parent),
            "TZ": ":UTC",
            "AWS_ACCESS_KEY_ID": key_id,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": token,
            # the SDK inside the function reaches the local cloud, with no `if local` in it
            "AWS_ENDPOINT_URL": f"http://{settings.host}:{settings.aws_port}",
            "_LOCALCLOUD_GATEWAY": f"http://{settings.host}:{settings.ws_port}",
        })
        return env


