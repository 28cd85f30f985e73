"""The floor: a bare websockets broadcast server (no Lambda, no DynamoDB, no gateway rules).

``python -m benchmarks.floor`` binds 127.0.0.1 on a free port, prints the port on stdout, and
on each received text frame sends it to every connected client (the sender included, as the
chat's broadcast does). It exits when stdin closes (its parent, the benchmark, went away).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

from websockets.asyncio.server import broadcast, serve


async def _main() -> None:
    async def handler(ws) -> None:
        async for message in ws:
            broadcast(server.connections, message)

    server = await serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None,
                         max_queue=None)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()  # EOF: the benchmark is done (or died)
    server.close()
    await server.wait_closed()


class FloorServer:
    """The floor server as a child process (its own core, like the local cloud)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def __enter__(self) -> FloorServer:
        self.proc = subprocess.Popen([sys.executable, "-m", "benchmarks.floor"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.strip():
            self.close()
            raise RuntimeError("the floor server did not start")
        self.port = int(line)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/floor"

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None


if __name__ == "__main__":
    asyncio.run(_main())
