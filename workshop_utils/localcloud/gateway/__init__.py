"""The API Gateway WebSocket data plane (placeholder: being built)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any


class Gateway:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self._server: asyncio.Server | None = None

    async def start(self, sock: socket.socket) -> None:
        async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        self._server = await asyncio.start_server(refuse, sock=sock)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def status(self) -> dict[str, Any]:
        return {"apis": []}
