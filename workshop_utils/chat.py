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

Introduced in notebook 04, after a cell has done the same with plain ``websockets`` code
(``connect``, ``send``, a receive loop per client). What the room adds:

- A wait ends as soon as the answer is in: an error frame (API Gateway's ``Forbidden`` or
  ``Internal server error``, the chat's ``{"type": "error"}``) raises :class:`ChatError` at
  once, with what it usually means. A wait that times out says what did arrive and which log
  groups hold the reason (:mod:`workshop_utils.route_logs`). A refused handshake says its HTTP
  status and what that usually means (:func:`refused`).
- A client joins the workshop's own chat with a token when it needs one: once ``$connect`` has
  the workshop's authorizer (notebook 06), ``join(name)`` without ``token=`` sends one minted
  for ``name`` from the learner's secret (``tokens.auto_token``, the rule ``workshop chat``
  follows), so later notebooks' clients need no change.
- Re-running a cell or a notebook does not pile up connections: joining ``alice`` again closes
  the old ``alice`` first, and a new ``ChatRoom`` on a URL closes the clients of the room made
  before it on that URL in this kernel (a registry per URL), so nobody is welcomed by ghosts
  of an earlier run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .route_logs import api_and_stage, where_to_look

if TYPE_CHECKING:
    from .target import Target

SETTLE_S = 0.3  # quiet time after which no more frames are expected
WELCOME_TIMEOUT_S = 30.0  # a cold start on AWS takes a second or two; this is generous
# After closing an earlier run's clients: how long to wait for their $disconnect to remove
# them from the table (it runs after the close, cold or warm), so the next welcome lists
# only who is really here.
RETIRE_TIMEOUT_S = 10.0

# What API Gateway's own error frames usually mean (SPEC-gateway.md, "Route selection").
GATEWAY_ERRORS = {
    "Forbidden": ("no deployed route takes this frame and the stage serves no $default route "
                  "(a route added since the last deployment is not live until you deploy "
                  "again)"),
    "Internal server error": ("the route's integration failed: its function raised or timed "
                              "out, or API Gateway may not invoke it (lambda add_permission)"),
}


class ChatError(RuntimeError):
    """An error frame answered what a client sent: API Gateway's own or the chat's.

    ``frame`` is the frame as received (a dict); ``reason`` its short text (``Forbidden``,
    ``Internal server error``, or the chat's ``error``)."""

    def __init__(self, message: str, frame: dict[str, Any]) -> None:
        super().__init__(message)
        self.frame = frame
        self.reason = error_reason(frame) or ""


def connect_url(url: str, name: str | None = None, token: str | None = None) -> str:
    """The stage URL with ``?name=`` and ``&token=`` set (each only when given); any other
    query parameters are kept, and an old ``name``/``token`` is replaced."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if k not in ("name", "token")]
    query += [(k, v) for k, v in (("name", name), ("token", token)) if v]
    return urlunsplit(parts._replace(query=urlencode(query)))


def refused(status: int, *, token: bool) -> str:
    """What a refused handshake means, in a few words (with or without a token sent).

    The statuses are API Gateway's (SPEC-gateway.md, "Handshake"): the ``$connect`` function's
    own ``statusCode`` (400, 500 from this chat's handler), 502 when it could not run, 401/403
    from an authorizer, 403 for a URL with no deployed stage, 429 when throttled."""
    if status == 401:
        return ("the chat needs a token (HTTP 401 Unauthorized): its $connect has an "
                "authorizer")
    if status == 403 and token:
        return ("the chat refused the token (HTTP 403 Forbidden): it is expired, or not "
                "signed with this chat's secret")
    meanings = {
        400: "the $connect function refused it (this chat: a name longer than 32 characters "
             "or not printable)",
        403: "usually no deployed API and stage at this URL (check the URL, and that the "
             "stage was deployed), or an authorizer denied it",
        429: "throttled: too many connections at once, or the $connect function's "
             "concurrency is used up",
        500: "the $connect function answered 500 (it could not store the connection: see "
             "its log)",
        502: "the $connect function could not run: it raised, timed out, or API Gateway "
             "may not invoke it (lambda add_permission)",
    }
    phrase = {400: "Bad Request", 403: "Forbidden", 429: "Too Many Requests",
              500: "Internal Server Error", 502: "Bad Gateway"}.get(status)
    if status in meanings:
        return f"the handshake was refused with HTTP {status} {phrase}: {meanings[status]}"
    return f"the handshake was refused with HTTP {status}"


def error_reason(data: Any) -> str | None:
    """The short reason of an error frame (``Forbidden``, ``Internal server error``, the
    chat's error text), or None for any other frame."""
    if not isinstance(data, dict):
        return None
    if data.get("type") == "error":
        return str(data.get("error"))
    if "type" not in data and "message" in data and "connectionId" in data:
        return str(data["message"])  # API Gateway's own frame
    return None


def explain_error(name: str, data: dict[str, Any]) -> str:
    """One line for the error frame ``data`` that ``name`` received: what it says, who said it
    and what it usually means."""
    reason = error_reason(data) or "?"
    if data.get("type") == "error":
        return f"{name}: the chat answered with an error: {reason}"
    meaning = GATEWAY_ERRORS.get(reason, "API Gateway refused the frame")
    return (f"{name}: API Gateway answered {reason!r} (request id {data.get('requestId')}): "
            f"{meaning}")


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
    if error_reason(data) is not None:  # API Gateway's own error frames
        return f"! API Gateway: {data['message']}"
    return json.dumps(data, sort_keys=True)


@dataclass
class ChatClient:
    """One named connection and everything it received (its own receive loop fills
    ``received``, as the notebooks' first cells do by hand)."""

    name: str
    ws: ClientConnection
    received: list[str] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    welcomed: asyncio.Event = field(default_factory=asyncio.Event)
    close_code: int | None = None
    # Set by the room: what a timeout message names as the places to look.
    hints: Callable[[str], list[str]] = field(default=lambda route_key: [], repr=False)
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

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop this client's connection lives on (None before it started)."""
        return self._reader.get_loop() if self._reader is not None else None

    async def send(self, text: str, timeout_s: float = WELCOME_TIMEOUT_S) -> dict[str, Any]:
        """Send a chat message through the ``sendmessage`` route and wait for its echo (which
        is returned).

        The chat sends every message back to its sender too; once the echo is here the
        fan-out to the others is done or nearly, and what is sent next cannot overtake it.
        An error frame instead of the echo raises :class:`ChatError` at once; no echo within
        ``timeout_s`` raises ``TimeoutError`` saying what did arrive and where to look.
        """
        seen = len(self.received)
        await self.ws.send(json.dumps({"action": "sendmessage", "message": text}))
        echo = await self.wait_for(lambda f: f.get("type") == "message"
                                   and f.get("from") == self.name and f.get("text") == text,
                                   after=seen, timeout_s=timeout_s, errors=True)
        if echo is None:
            raise self.no_answer(f"no echo of {_short(text)!r}", seen, timeout_s,
                                 "sendmessage")
        return echo

    async def wait_for(self, match: Callable[[dict[str, Any]], bool], *, after: int = 0,
                       timeout_s: float = WELCOME_TIMEOUT_S,
                       errors: bool = False) -> dict[str, Any] | None:
        """The first JSON frame from index ``after`` on that ``match`` accepts, or None once
        ``timeout_s`` has passed or the connection closed (what did arrive is still in the
        transcript). With ``errors=True`` an error frame that ``match`` does not accept ends
        the wait at once with :class:`ChatError`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            for frame in self.received[after:]:
                data = parse(frame)
                if not isinstance(data, dict):
                    continue
                if match(data):
                    return data
                if errors and error_reason(data) is not None:
                    raise ChatError(explain_error(self.name, data), data)
            if loop.time() > deadline or self.closed.is_set():
                return None
            await asyncio.sleep(0.005)

    def no_answer(self, what: str, after: int, timeout_s: float, route_key: str) -> Exception:
        """The error for a wait that ended without its answer: what arrived meanwhile, and
        where the reason is written."""
        arrived = [describe(f) for f in self.received[after:]]
        got = "; ".join(arrived) if arrived else "nothing"
        if self.closed.is_set():
            return ConnectionError(
                f"{self.name}: {what}: the connection closed (code {self.close_code}); "
                f"received before: {got}")
        places = self.hints(route_key)
        look = f"; look in {' and '.join(places)}" if places else ""
        return TimeoutError(f"{self.name}: {what} within {timeout_s:.0f} s; received "
                            f"meanwhile: {got}{look}")

    async def send_raw(self, frame: str,
                       timeout_s: float = WELCOME_TIMEOUT_S) -> dict[str, Any]:
        """Send a frame exactly as given (to see how the chat handles bad input) and return
        the error frame that answers it.

        The chat answers every frame it refuses with an error frame to the sender, and API
        Gateway answers a frame it cannot route with its own. Waiting for that answer keeps
        what comes next (a close, the next frame) from overtaking it: a frame runs as its
        own invocation, which may need a cold start first."""
        seen = len(self.received)
        await self.ws.send(frame)
        answer = await self.wait_for(lambda f: error_reason(f) is not None, after=seen,
                                     timeout_s=timeout_s)
        if answer is None:
            raise self.no_answer(f"no answer to the frame {_short(frame)!r}", seen, timeout_s,
                                 "$default")
        return answer

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.wait_for(self.closed.wait(), 10)


# The rooms of this kernel, by stage URL: a new room (or a re-run of a notebook) closes the
# clients an earlier room left open on the same URL.
_rooms: dict[str, ChatRoom] = {}


def room_key(url: str) -> str:
    """A stage URL without its query (``?name=``/``&token=`` differ per client)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="", fragment=""))


class ChatRoom:
    """Several named clients of one stage, and the transcript of what each received.

    ``target`` (optional) lets the room say which log groups to read when an answer does not
    come, and wait for the table to forget the clients an earlier run left open."""

    def __init__(self, url: str, target: Target | None = None, *,
                 settle_s: float = SETTLE_S) -> None:
        self.url = url
        self.target = target
        self.settle_s = settle_s
        self.clients: dict[str, ChatClient] = {}
        self._seen: dict[str, int] = {}
        key = room_key(url)
        previous = _rooms.get(key)
        self._retiring: list[ChatClient] = list(previous.clients.values()) if previous else []
        _rooms[key] = self
        self._own_api: str | None | bool = False  # not looked up yet

    def own_api_id(self) -> str | None:
        """The id of the API this room's URL is on if it is the learner's own chat API (found
        by name and owner, once per room), else None: tokens are minted for that one only."""
        if self._own_api is False:
            self._own_api = None
            found = api_and_stage(self.url)
            if self.target is not None and found is not None:
                from .stack import find_api_id

                try:
                    own = find_api_id(self.target)
                except Exception:  # botocore's errors, or someone else's API by that name
                    own = None
                self._own_api = found[0] if own == found[0] else None
        return self._own_api if isinstance(self._own_api, str) else None

    def auto_token(self, name: str) -> str | None:
        """The token ``join(name)`` sends when given none: minted for ``name`` when this is the
        learner's own API and its ``$connect`` has the workshop's authorizer, and the secret
        can be read (``tokens.auto_token``); None otherwise (an open chat needs none, and a
        refusal then says what is missing)."""
        api_id = self.own_api_id()
        if api_id is None:
            return None
        from .tokens import TokenSecretError, auto_token

        try:
            return auto_token(self.target, api_id, name)
        except (TokenSecretError, ValueError):
            return None

    def where_to_look(self, route_key: str) -> list[str]:
        """The log groups that explain a frame on ``route_key`` (see ``route_logs``)."""
        return where_to_look(self.target, self.url, route_key)

    async def _retire(self, clients: list[ChatClient]) -> None:
        """Close ``clients`` (an earlier run's, or a name joining again) and wait, bounded,
        until their ``$disconnect`` has taken them off the table. Clients of another event
        loop (an earlier ``asyncio.run``) are gone with it and only forgotten."""
        loop = asyncio.get_running_loop()
        names = set()
        for client in clients:
            if client.closed.is_set() or client.loop is not loop:
                continue
            await client.close()
            names.add(client.name)
        if names and self.target is not None:
            await self._until_off_the_table(names)

    async def _until_off_the_table(self, names: set[str]) -> None:
        assert self.target is not None
        ddb = self.target.client("dynamodb")
        table = self.target.names.table
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETIRE_TIMEOUT_S
        while loop.time() < deadline:
            items = [item for page in ddb.get_paginator("scan").paginate(
                TableName=table, ProjectionExpression="#n",
                ExpressionAttributeNames={"#n": "name"}) for item in page["Items"]]
            if not names & {item.get("name", {}).get("S") for item in items}:
                return
            await asyncio.sleep(0.05)

    async def _take_over(self) -> None:
        if self._retiring:
            retiring, self._retiring = self._retiring, []
            await self._retire(retiring)

    async def join(self, name: str, *, token: str | None = None,
                   announce: bool = True) -> ChatClient:
        """Connect ``name`` (``?name=`` in the URL, and ``&token=``: the one given, or one
        :meth:`auto_token` mints; a chat with the authorizer takes the name from the token)
        and announce it to the others.

        A ``name`` already in the room is closed first (a re-run cell joins afresh). A refused
        handshake raises ``ConnectionRefusedError`` saying what its status usually means; an
        error frame instead of the welcome raises :class:`ChatError` at once."""
        await self._take_over()
        if name in self.clients:
            await self._retire([self.clients.pop(name)])
            self._seen.pop(name, None)
        if token is None:
            token = self.auto_token(name)
        try:
            ws = await connect(connect_url(self.url, name, token), open_timeout=30)
        except InvalidStatus as exc:
            # The URL is not repeated: with a token in it, it is a credential.
            places = self.where_to_look("$connect") if exc.response.status_code in (
                500, 502) else []
            look = f"; look in {' and '.join(places)}" if places else ""
            raise ConnectionRefusedError(
                f"{name}: {refused(exc.response.status_code, token=bool(token))}{look}"
            ) from None
        client = ChatClient(name, ws, hints=self.where_to_look)
        client.start()
        self.clients[name] = client
        self._seen[name] = 0
        if announce:
            await ws.send(json.dumps({"action": "join"}))
            # Wait for the chat's welcome: by then everyone else has been told, so nothing
            # sent next can overtake the join (frames run as concurrent invocations).
            welcome = await client.wait_for(
                lambda f: f.get("type") == "welcome", timeout_s=WELCOME_TIMEOUT_S, errors=True)
            if welcome is None:
                raise client.no_answer("no welcome from the chat", 0, WELCOME_TIMEOUT_S,
                                       "join")
        return client

    async def settle(self, timeout_s: float = 10.0) -> None:
        """Wait until no client has received anything new for ``settle_s`` seconds."""
        await self._take_over()
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
        """Close every client (safe to call twice). With a target, also wait (bounded) until
        their ``$disconnect`` has removed them from the table, so what comes next does not
        meet them there."""
        await self._take_over()
        await self._retire(list(self.clients.values()))


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
