"""The Lambda runtime's entry point: ``invoke`` as the Invoke API and the gateway call it.

Everything runs on the cloud's loop. ``RequestResponse`` waits for the result (shielded: a
caller that gives up, like the gateway at its integration timeout, does not stop the
invocation, as on AWS); ``Event`` answers 202 and runs in the background; ``DryRun`` answers
204 once the function is found. Each invocation takes a slot of the function's reserved
concurrency (:mod:`.concurrency`; none left: 429 for RequestResponse), a worker from
:mod:`.pools`, runs on it (:mod:`.invocation`), has its log delivered (:mod:`.logdelivery`)
and gives both back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from ..exceptions import FunctionNotFound, TooManyRequestsException
from .concurrency import MAX_EVENT_AGE_S, Concurrency
from .functions import ARN, FunctionSpec, resolve
from .invocation import Invocation, InvokeResult, log_tail, run_on
from .logdelivery import LogDelivery
from .pools import Pools

if TYPE_CHECKING:
    from ...parts import CloudParts

log = logging.getLogger(__name__)


class LambdaRuntime:
    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts
        self._background: set[asyncio.Task[Any]] = set()
        self.pools = Pools(parts, self._background)
        self.logs = LogDelivery(parts)
        self.concurrency = Concurrency()

    async def start(self) -> None:
        self.pools.closing = False

    async def stop(self) -> None:
        self.pools.closing = True
        for task in list(self._background):
            task.cancel()
        workers = self.pools.all_workers()
        self.pools.clear()
        await asyncio.gather(*(w.close() for w in workers), return_exceptions=True)
        for task in list(self._background):
            with contextlib.suppress(BaseException):
                await task

    async def forget(self, name: str, version: str | None = None) -> None:
        """The function (or one version of it) is deleted: its idle environments end now,
        busy ones when their invocation ends. Returns once the idle ones have exited."""
        closing = self.pools.forget(name, version)
        if closing:
            await asyncio.wait(closing, timeout=5)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
        match = ARN.match(function)
        try:
            spec = resolve(self.parts, function, qualifier)
        except FunctionNotFound:
            if match:  # gone without DeleteFunction (a moto reset): its environments go too
                self.pools.forget(match["name"])
            raise
        given = (match["qualifier"] if match else None) or qualifier
        invoked_arn = spec.arn + (f":{given}" if given else "")
        request_id = str(uuid.uuid4())
        if invocation_type == "DryRun":
            return InvokeResult(204, b"", None, None, request_id, spec.version)
        if invocation_type == "Event":
            self._spawn(self._run_event(function, qualifier, spec, payload, request_id,
                                        invoked_arn, client_context))
            return InvokeResult(202, b"", None, None, request_id, spec.version)
        if not self.concurrency.try_acquire(spec.region, spec.name, spec.reserved_concurrency):
            raise TooManyRequestsException()
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

    async def _run_event(self, function: str, qualifier: str | None, spec: FunctionSpec,
                         payload: bytes, request_id: str, invoked_arn: str,
                         client_context: dict[str, Any] | None) -> None:
        """An Event invocation: run when the function's reserved concurrency has a slot;
        dropped when it is 0, or still throttled at the maximum event age."""
        deadline = time.monotonic() + MAX_EVENT_AGE_S
        while True:
            if spec.reserved_concurrency == 0:
                log.info("Event invocation %s of %s dropped: its reserved concurrency is 0 "
                         "(AWS: condition ZeroReservedConcurrency)", request_id, spec.name)
                return
            if self.concurrency.try_acquire(spec.region, spec.name, spec.reserved_concurrency):
                break
            if time.monotonic() >= deadline:
                log.info("Event invocation %s of %s dropped: throttled for the maximum event "
                         "age", request_id, spec.name)
                return
            await self.concurrency.wait_for_release(spec.region, spec.name, deadline)
            try:
                spec = resolve(self.parts, function, qualifier)
            except FunctionNotFound:
                return  # deleted while it waited
        await self._run(spec, payload, request_id, invoked_arn, client_context)

    async def _run(
        self, spec: FunctionSpec, payload: bytes, request_id: str, invoked_arn: str,
        client_context: dict[str, Any] | None,
    ) -> tuple[bytes, bool, bytes]:
        """One invocation end to end, on a concurrency slot already taken (given back here);
        returns (payload, failed, log tail bytes)."""
        try:
            inv = Invocation(request_id)
            worker, init = await self.pools.acquire(spec, inv)
            try:
                result_body, failed = await run_on(worker, init, spec, inv, payload,
                                                   invoked_arn, client_context)
                self.logs.deliver(spec, worker.stream, inv.events)
                return result_body, failed, log_tail(inv.events)
            except BaseException:
                worker.kill()
                raise
            finally:
                worker.current = None
                self.pools.release(worker)
        finally:
            self.concurrency.release(spec.region, spec.name)
