"""Named chat clients for notebook cells: connect, talk, and print a readable transcript.

The workshop's chat protocol (see lambda_src/): a client connects to the stage URL with
``?name=<name>`` (and ``&token=<token>`` once the API has the authorizer, which then takes
the name from the token), sends ``{"action": "join"}`` to announce itself, and sends messages as
``{"action": "sendmessage", "message": "<text>"}``. It receives JSON frames of ``type``
``message``, ``presence``, ``welcome`` (its own join acknowledged, after the others were told)
or ``error`` (and API Gateway's own ``Forbidden`` / ``Internal server error`` frames).

Deliveries to different clients race each other, so :class:`ChatRoom` waits until every
client got what it expects and prints the new frames in a fixed order (clients in join order):
the same transcript on every run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

SETTLE_S = 0.3  # quiet time after which no more frames are expected
WELCOME_TIMEOUT_S = 30.0  # a cold start on AWS takes a second or two; this is generous


def connect_url(url: str, name: str | None = None, token: str | None = None) -> str:
    """The stage URL with ``?name=`` and ``&token=`` set (each only when given); any other
    query parameters are kept, and an old ``name``/``token`` is replaced."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("name", "token")]
    query += [(k, v) for k, v in (("name", name), ("token", token)) if v]
    return urlunsplit(parts._replace(query=urlencode(query)))


def refused(status: int, *, token: bool) -> str:
    """What a refused handshake means, in a few words (with or without a token sent)."""
    if status == 401:
        return ("the chat needs a token (HTTP 401 Unauthorized): its $connect has an "
                "authorizer")
    if status == 403 and token:
        return ("the chat refused the token (HTTP 403 Forbidden): it is expired, or not "
                "signed with this chat's secret")
    return f"the handshake was refused with HTTP {status}"


def describe(frame: str) -> str:
    """One transcript line for a received frame."""
    try:
        data = json.loads(frame)
    except ValueError:
        return f"(raw) {frame}"
    if not isinstance(data, dict):
        return f"(raw) {frame}"
    kind = data.get("type")
    if kind == "message":
        return f"{data.get('from')}: {data.get('text')}"
    if kind == "presence":
        verb = {"join": "joined", "leave": "left"}.get(data.get("event"), data.get("event"))
        return f"* {data.get('name')} {verb}"
    if kind == "welcome":
        here = ", ".join(data.get("online") or []) or "nobody else yet"
        return f"* welcome, {data.get('name')} (here: {here})"
    if kind == "error":
        return f"! error: {data.get('error')}"
    if "message" in data and "connectionId" in data:  # API Gateway's own error frames
        return f"! API Gateway: {data['message']}"
    return json.dumps(data, sort_keys=True)


@dataclass
class ChatClient:
    name: str
    ws: ClientConnection
    received: list[str] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    welcomed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None
    _reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                text = frame if isinstance(frame, str) else frame.decode()
                self.received.append(text)
                if '"welcome"' in text and isinstance(data := parse(text), dict) and (
                        data.get("type") == "welcome"):
                    self.welcomed.set()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.closed.set()

    async def send(self, text: str, timeout_s: float = WELCOME_TIMEOUT_S) -> None:
        """Send a chat message through the ``sendmessage`` route and wait for its echo.

        The chat sends every message back to its sender too; once the echo is here the
        fan-out to the others is done or nearly, and what is sent next cannot overtake it.
        """
        seen = len(self.received)
        await self.ws.send(json.dumps({"action": "sendmessage", "message": text}))
        await self.wait_for(lambda f: f.get("type") == "message" and f.get("from") == self.name
                            and f.get("text") == text, after=seen, timeout_s=timeout_s)

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], *, after: int = 0,
                       timeout_s: float = WELCOME_TIMEOUT_S) -> dict[str, Any] | None:
        """The first JSON frame from index ``after`` on that ``match`` accepts, or None once
        ``timeout_s`` has passed (what did arrive is still in the transcript)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            for frame in self.received[after:]:
                data = parse(frame)
                if isinstance(data, dict) and match(data):
                    return data
            if loop.time() > deadline or self.closed.is_set():
                return None
            await asyncio.sleep(0.005)

    async def send_raw(self, frame: str) -> None:
        """Send a frame exactly as given (to see how the chat handles bad input)."""
        await self.ws.send(frame)

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self.closed.wait(), 10)


class ChatRoom:
    """Several named clients of one stage, and the transcript of what each received."""

    def __init__(self, url: str, *, settle_s: float = SETTLE_S) -> None:
        self.url = url
        self.settle_s = settle_s
        self.clients: dict[str, ChatClient] = {}
        self._seen: dict[str, int] = {}

    async def join(self, name: str, *, token: str | None = None,
                   announce: bool = True) -> ChatClient:
        """Connect ``name`` (``?name=`` in the URL, and ``&token=`` when given: a chat with
        the authorizer takes the name from the token) and announce it to the others."""
        if name in self.clients and not self.clients[name].closed.is_set():
            return self.clients[name]
        try:
            ws = await connect(connect_url(self.url, name, token), open_timeout=30)
        except InvalidStatus as exc:
            # The URL is not repeated: with a token in it, it is a credential.
            raise ConnectionRefusedError(
                f"{name}: {refused(exc.response.status_code, token=bool(token))}"
            ) from None
        client = ChatClient(name, ws)
        client.start()
        self.clients[name] = client
        self._seen[name] = 0
        if announce:
            await ws.send(json.dumps({"action": "join"}))
            # Wait for the chat's welcome: by then everyone else has been told, so nothing
            # sent next can overtake the join (frames run as concurrent invocations).
            try:
                await asyncio.wait_for(client.welcomed.wait(), WELCOME_TIMEOUT_S)
            except TimeoutError:
                raise TimeoutError(
                    f"{name}: no welcome from the chat within {WELCOME_TIMEOUT_S:.0f} s; is the "
                    "$default route deployed, and does the broadcast function work? (notebook 06 "
                    "shows its log)"
                ) from None
        return client

    async def settle(self, timeout_s: float = 10.0) -> None:
        """Wait until no client has received anything new for ``settle_s`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        last = self._counts()
        quiet_since = loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(0.02)
            now = self._counts()
            if now != last:
                last, quiet_since = now, loop.time()
            elif loop.time() - quiet_since >= self.settle_s:
                return

    def _counts(self) -> tuple[int, ...]:
        return tuple(len(c.received) for c in self.clients.values())

    def new_lines(self) -> list[str]:
        """What each client received since the last call, clients in join order."""
        lines = []
        for name, client in self.clients.items():
            for frame in client.received[self._seen[name]:]:
                lines.append(f"{name:>8} <- {describe(frame)}")
            self._seen[name] = len(client.received)
        return lines

    async def show(self, timeout_s: float = 10.0) -> None:
        """Settle, then print the transcript of what arrived."""
        await self.settle(timeout_s)
        lines = self.new_lines()
        print("\n".join(lines) if lines else "(nothing received)")

    async def leave(self, name: str, timeout_s: float = WELCOME_TIMEOUT_S) -> None:
        """Close ``name``'s connection and wait until the others were told it left."""
        await self.clients[name].close()
        await self.gone(name, timeout_s)

    async def gone(self, name: str, timeout_s: float = WELCOME_TIMEOUT_S) -> None:
        """Wait until ``name``'s connection is closed (e.g. by ``delete_connection``) and every
        other open client got the leave notice ($disconnect runs after the close, cold or warm).
        Returns quietly after ``timeout_s``: the transcript then shows what did arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        leaver = self.clients[name]
        while loop.time() < deadline:
            others = [c for n, c in self.clients.items() if n != name and not c.closed.is_set()]
            if leaver.closed.is_set() and all(_was_told_leave(c, name) for c in others):
                return
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Close every client (safe to call twice)."""
        for client in self.clients.values():
            if not client.closed.is_set():
                await client.close()


def _was_told_leave(client: ChatClient, name: str) -> bool:
    for frame in reversed(client.received):
        data = parse(frame)
        if isinstance(data, dict) and data.get("type") == "presence" and (
                data.get("event"), data.get("name")) == ("leave", name):
            return True
    return False


def parse(frame: str) -> Any:
    """A received frame as JSON, or the text itself when it is not JSON."""
    try:
        return json.loads(frame)
    except ValueError:
        return frame
