"""A swarm of websockets clients in one asyncio loop: open, broadcast, measure, close.

Every loop is bounded in count and in time; every connection is closed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect

OPEN_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 5.0


@dataclass
class BroadcastRun:
    """One run: M messages, each timed from send to the last recipient's receipt."""

    latencies_s: list[float] = field(default_factory=list)
    delivered: list[int] = field(default_factory=list)  # recipients reached, per message
    elapsed_s: float = 0.0


class Swarm:
    def __init__(self) -> None:
        self.conns: list[ClientConnection] = []
        self._readers: list[asyncio.Task[None]] = []
        self._marker: str | None = None
        self._got = 0
        self._expected = 0
        self._last = 0.0
        self._done = asyncio.Event()

    async def open(self, url: str, n: int, concurrency: int) -> tuple[float, int]:
        """Open ``n`` connections, at most ``concurrency`` handshakes at once.

        Returns (seconds from the first handshake to the last, failed handshakes)."""
        sem = asyncio.Semaphore(concurrency)
        failures = 0

        async def one() -> None:
            nonlocal failures
            async with sem:
                try:
                    ws = await connect(url, open_timeout=OPEN_TIMEOUT_S, compression=None,
                                       ping_interval=None, close_timeout=CLOSE_TIMEOUT_S,
                                       max_queue=None)
                except Exception:
                    failures += 1
                    return
            self.conns.append(ws)
            self._readers.append(asyncio.create_task(self._read(ws)))

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return time.perf_counter() - t0, failures

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for message in ws:
                marker = self._marker
                if marker is not None and marker in message:
                    self._got += 1
                    if self._got >= self._expected:
                        self._last = time.perf_counter()
                        self._done.set()

    async def broadcast(self, messages: int, tag: str, *, timeout_s: float, warmup: int = 0,
                        send: Callable[[str], Awaitable[None]] | None = None) -> BroadcastRun:
        """Send ``warmup`` + ``messages`` frames from the first client, one after the other;
        each must reach every client (the sender too) before the next is sent.

        ``send(marker)`` replaces the first client as the source of each message (the SDK
        floor posts it through @connections instead)."""
        sender = self.conns[0]

        async def send_chat_frame(marker: str) -> None:
            await sender.send(json.dumps({"action": "sendmessage", "message": marker}))

        send = send or send_chat_frame
        self._expected = len(self.conns)
        run = BroadcastRun()
        t_start = 0.0
        for i in range(-warmup, messages):
            if i == 0:
                t_start = time.perf_counter()
            marker = f"<{tag}:{i}>"
            self._marker, self._got = marker, 0
            self._done.clear()
            t0 = time.perf_counter()
            await send(marker)
            try:
                await asyncio.wait_for(self._done.wait(), timeout_s)
                latency = self._last - t0
            except TimeoutError:
                latency = time.perf_counter() - t0
            if i >= 0:
                run.latencies_s.append(latency)
                run.delivered.append(self._got)
        run.elapsed_s = time.perf_counter() - t_start
        self._marker = None
        return run

    async def close(self, concurrency: int = 100) -> None:
        sem = asyncio.Semaphore(concurrency)

        async def one(ws: ClientConnection) -> None:
            async with sem:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_S + 1)

        await asyncio.gather(*(one(ws) for ws in self.conns))
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        self.conns.clear()
        self._readers.clear()
