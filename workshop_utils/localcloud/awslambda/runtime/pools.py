"""Execution environments per function: reuse, scale-out, retire, reclaim.

Per function (and version) a :class:`Pool` of up to ``settings.max_workers_per_function``
workers. The most recently used idle worker is reused, so sequential invocations stay on one
environment; a new one starts only when all are busy. The pool is keyed by a fingerprint of
what AWS would redeploy on (code sha, handler, runtime, environment, timeout, memory, role):
any change retires the old workers (busy ones when they finish) and the next invoke is a cold
start. An environment idle for ``lambda_idle_timeout_s`` is reclaimed.

A cold start unpacks the package (the task root) and the layers (``/opt``) and finds the
runtime's packages (:mod:`.runtimedir`). An init that fails is run once more in the invoke
phase, in a new process on the same log stream (AWS's "suppressed init"); the invocation runs
if that one succeeds.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .environment import environment
from .functions import code_of, layer_zips
from .invocation import ColdStart, init_report
from .package import unpack, unpack_layers
from .runtimedir import runtime_dir
from .workers import Worker, WorkerDied, now_ms

if TYPE_CHECKING:
    from ...parts import CloudParts
    from .functions import FunctionSpec
    from .invocation import Invocation

INIT_TIMEOUT_S = 10.0  # AWS's init phase limit (on top of the function's timeout here)


class Pool:
    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.fingerprint = spec.fingerprint
        self.workers: set[Worker] = set()
        self.idle: list[Worker] = []  # most recently used last
        self.waiters: deque[asyncio.Future[Worker | None]] = deque()
        self.retired = False


class Pools:
    """Every function's pool. ``background`` is the runtime's set of tasks it waits for at
    stop; the workers closed here join it."""

    def __init__(self, parts: CloudParts, background: set[asyncio.Task[Any]]) -> None:
        self.parts = parts
        self._pools: dict[tuple[str, str], Pool] = {}
        self._background = background
        self.closing = False

    def all_workers(self) -> list[Worker]:
        return [w for pool in self._pools.values() for w in pool.workers]

    def clear(self) -> None:
        self._pools.clear()

    def pool_for(self, spec: FunctionSpec) -> Pool:
        key = (spec.name, spec.version)
        pool = self._pools.get(key)
        if pool is not None and pool.fingerprint == spec.fingerprint:
            return pool
        if pool is not None:
            self._retire(pool)
        pool = self._pools[key] = Pool(spec)
        return pool

    def _retire(self, pool: Pool) -> list[asyncio.Task[None]]:
        pool.retired = True
        closing = []
        for worker in pool.idle:
            worker.cancel_reclaim()
            pool.workers.discard(worker)
            closing.append(self._close_later(worker))
        pool.idle.clear()
        while pool.waiters:
            fut = pool.waiters.popleft()
            if not fut.done():
                fut.set_result(None)
        return closing

    def _close_later(self, worker: Worker) -> asyncio.Task[None]:
        worker.kill()
        task = asyncio.get_running_loop().create_task(worker.close())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    def forget(self, name: str, version: str | None = None) -> list[asyncio.Task[None]]:
        """The function (or one version) is gone: its environments go too. Returns the tasks
        closing its idle ones (busy ones close when their invocation ends)."""
        closing: list[asyncio.Task[None]] = []
        for key in [k for k in self._pools if k[0] == name and version in (None, k[1])]:
            closing += self._retire(self._pools.pop(key))
        return closing

    async def acquire(self, spec: FunctionSpec, inv: Invocation) -> tuple[Worker, ColdStart | None]:
        """A worker for ``inv``: the most recently used idle one, else a cold start while the
        function has fewer than ``max_workers_per_function``, else the next one released.
        The second value says how a cold start went, None if warm."""
        if self.closing:
            raise RuntimeError("the Lambda runtime is stopping")
        while True:
            pool = self.pool_for(spec)
            while pool.idle:
                worker = pool.idle.pop()
                worker.cancel_reclaim()
                if worker.alive:
                    worker.current = inv
                    return worker, None
                pool.workers.discard(worker)
            if len(pool.workers) < self.parts.settings.max_workers_per_function:
                worker, cold = await self._cold_start(pool, spec, inv)
                if not cold.failed:
                    return worker, cold
                # AWS logs the failed init, then runs it again in the invoke phase
                inv.events.append((now_ms(), init_report(cold, "init")))
                pool.workers.discard(worker)
                self._close_later(worker)
                worker, cold = await self._cold_start(pool, spec, inv, stream=worker.stream)
                cold = ColdStart(cold.init_ms, cold.header, cold.body, suppressed=True)
                if cold.failed:
                    inv.events.append((now_ms(), init_report(cold, "invoke")))
                return worker, cold
            fut: asyncio.Future[Worker | None] = asyncio.get_running_loop().create_future()
            pool.waiters.append(fut)
            worker = await fut
            if worker is not None:
                worker.current = inv
                return worker, None

    async def _cold_start(self, pool: Pool, spec: FunctionSpec, inv: Invocation,
                          stream: str | None = None) -> tuple[Worker, ColdStart]:
        """A new environment for ``inv`` (on a new log stream unless ``stream`` is given)."""
        if stream is None:
            created = datetime.now(UTC)
            stream = f"{created:%Y/%m/%d}/[{spec.version}]{uuid.uuid4().hex}"
        worker = Worker(pool, stream)
        pool.workers.add(worker)
        try:
            task_root, opt, runtime = await asyncio.to_thread(self._unpack, spec)
            parts = self.parts
            env = environment(parts.settings, spec, stream, task_root,
                              parts.iam_sessions.credentials(spec.role, spec.name),
                              opt=opt, runtime_dir=runtime)
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(INIT_TIMEOUT_S + spec.timeout):
                    header, body = await worker.start(env, task_root, inv)
            except WorkerDied as died:
                header = {"t": "init_error"}
                body = json.dumps({
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"RequestId: {inv.request_id} Error: Runtime exited with "
                                    f"error: {died}",
                }).encode()
            except TimeoutError:
                header = {"t": "init_error"}
                body = json.dumps({"errorType": "Sandbox.Timedout",
                                   "errorMessage": "INIT phase timed out"}).encode()
            init_ms = (time.perf_counter() - t0) * 1000
        except BaseException:
            pool.workers.discard(worker)
            worker.kill()
            raise
        return worker, ColdStart(init_ms, header, body)

    def release(self, worker: Worker) -> None:
        """``worker`` finished an invocation: to the next waiter, else idle (reclaimed after
        ``lambda_idle_timeout_s``), or closed when it died or its pool was retired."""
        pool = worker.pool
        usable = worker.alive and not pool.retired and not self.closing
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
                self.parts.settings.lambda_idle_timeout_s, self._reclaim, worker)

    def _reclaim(self, worker: Worker) -> None:
        """An environment idle for ``lambda_idle_timeout_s`` goes away, as on AWS."""
        worker.reclaim = None
        pool = worker.pool
        if worker in pool.idle:
            pool.idle.remove(worker)
            pool.workers.discard(worker)
            self._close_later(worker)

    def _unpack(self, spec: FunctionSpec) -> tuple[str, str, str]:
        """The task root (the zip, unpacked once per code sha under
        ``<home>/lambda/<fn>/<sha>/``), the ``/opt`` of its layers and the runtime
        directory."""
        home = self.parts.settings.home
        task_root = unpack(home, spec.name, spec.code_sha, lambda: code_of(self.parts, spec))
        if spec.layers:
            opt = unpack_layers(home, spec.name, spec.layers,
                                lambda: layer_zips(self.parts, spec))
        else:  # no layers: an /opt that does not exist, as on AWS
            opt = str(home / "lambda" / spec.name / "no-layers")
        return task_root, opt, str(runtime_dir(home))
