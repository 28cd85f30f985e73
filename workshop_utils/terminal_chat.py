"""``workshop chat``: the workshop's chat in a terminal, in the spirit of ``wscat``.

It speaks the chat's protocol (see ``workshop_utils.chat``): connects with ``?name=``, sends
``{"action": "join"}``, prints what arrives as a transcript (``alice: hi``, ``* bob joined``,
``! error: …``) and sends each line typed as a message. Ctrl-D or Ctrl-C leaves (close 1000).

Without a URL it finds the workshop's API on the current target (``WORKSHOP_TARGET``, the
prefix, the local cloud's state); ``--browser`` opens the browser chat page instead.

Tokens, for a chat whose ``$connect`` has the authorizer (``lambda_src/authorizer/``):
``--token T`` sends T; ``--token auto`` mints one for ``--name`` from the workshop's secret
on the current target. Without ``--token``, a token is minted only when the workshop found
the API itself and its ``$connect`` route has an authorizer that reads ``?token=``: that
costs two control-plane calls it can make anyway. For a URL given by hand the client cannot
know the API's routes cheaply (nor whose account it is in), so it sends no token unless asked.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import signal
import socket
import sys
import threading
import webbrowser
from pathlib import Path
from typing import Any, TextIO

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .chat import connect_url, describe, refused

OPEN_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 5.0
MAX_MESSAGE_LENGTH = 1000  # what the broadcast handler accepts
# API Gateway closes a connection with no data for 10 minutes; a repeated join is the chat's
# harmless "I'm here" (announced once per connection, then silent).
KEEPALIVE_S = 300.0
AUTO_TOKEN = "auto"  # --token auto: mint one from the workshop's secret
NAME_FOR_TOKEN = "a token carries your chat name: give --name too (or --token <token>)"
TERMINAL_TOKEN_TTL_S = 3600  # checked once, at connect: it only has to outlive the handshake
# The page reconnects by itself after a drop, with the same token: a classroom day's worth.
BROWSER_TOKEN_TTL_S = 8 * 3600


class ChatError(RuntimeError):
    """Why the chat could not start, in one line."""


def refusal(status: int, name: str | None, *, token: bool = False) -> str:
    """What a refused handshake means for this chat (``token``: whether one was sent)."""
    if status == 400:
        return (f"the chat refused the name {name!r} (HTTP 400): use at most 32 printable "
                "characters")
    if status == 401:
        return (f"{refused(status, token=token)}; pass --token <token>, or --token auto to "
                "mint one from the workshop's secret")
    if status == 403 and token:
        return f"{refused(status, token=token)}; mint a new one with --token auto"
    if status == 403:
        return "no such API or stage (HTTP 403 Forbidden): check the URL"
    if status == 410:
        return "the stage is being deleted or redeployed (HTTP 410 Gone): try again shortly"
    return f"the server refused the handshake with HTTP {status}"


def unreachable(exc: BaseException) -> str:
    """Why a connection could not be opened, in a few words."""
    if isinstance(exc, ConnectionRefusedError):
        return ("connection refused (nothing listens there; locally: is the cloud running? "
                "`workshop cloud status`)")
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return f"no answer within {OPEN_TIMEOUT_S:.0f} s"
    return str(exc) or type(exc).__name__


def environment(home: str | None = None) -> dict[str, str]:
    """The process environment, with ``WORKSHOP_HOME`` set to ``home`` if one is given."""
    env = dict(os.environ)
    if home:
        env["WORKSHOP_HOME"] = home
    return env


def current_target(home: str | None = None) -> Any:
    """The workshop's target from the environment (the local cloud is not started: a new
    one would hold no chat)."""
    from .target import TargetError, from_environment

    try:
        return from_environment(environment(home), start_cloud=False)
    except TargetError as exc:
        raise ChatError(str(exc)) from None


def find_api(home: str | None = None) -> tuple[Any, str]:
    """``(target, api_id)`` of the workshop's chat API on the current target."""
    from .cli_errors import explain
    from .stack import find_api_id

    target = current_target(home)
    try:
        api_id = find_api_id(target)
    except Exception as exc:  # botocore's errors: credentials, endpoint, permissions
        raise ChatError(explain(exc, environment(home))[0]) from None
    if api_id is None:
        raise ChatError(
            f"no API named {target.names.api!r} on the {target.kind} target (prefix "
            f"{target.prefix!r}): run notebooks 01-04 first, or give the URL: "
            "workshop chat wss://…/dev --name alice")
    return target, api_id


def mint(target: Any, name: str | None, ttl_s: int) -> str:
    """A token for ``name`` from ``target``'s signing secret."""
    from .tokens import TokenSecretError, mint_token, read_secret

    if not name:
        raise ChatError(NAME_FOR_TOKEN)
    try:
        return mint_token(read_secret(target), name, ttl_s)
    except TokenSecretError as exc:
        raise ChatError(f"{exc}") from None
    except ValueError as exc:
        raise ChatError(f"cannot mint a token for {name!r}: {exc}") from None


def choose_token(token: str | None, name: str | None, found: tuple[Any, str] | None, *,
                 home: str | None, ttl_s: int) -> str | None:
    """The token to send: the one given, a minted one (``auto``, or an API the workshop
    found with the authorizer: ``tokens.auto_token``'s rule, as ``ChatRoom`` follows it), or
    None."""
    from .tokens import TokenSecretError, auto_token

    if token == AUTO_TOKEN:
        return mint(found[0] if found else current_target(home), name, ttl_s)
    if token is not None:
        if not token.strip():
            raise ChatError("--token is empty: pass the token, or --token auto")
        return token
    if not found:
        return None
    try:
        return auto_token(found[0], found[1], name, ttl_s)
    except TokenSecretError as exc:
        raise ChatError(f"{exc}") from None
    except ValueError as exc:
        raise ChatError(NAME_FOR_TOKEN if not name
                        else f"cannot mint a token for {name!r}: {exc}") from None


def browser_page_url(websocket_url: str, name: str | None, home: str | None = None,
                     token: str | None = None) -> str:
    """The chat page for ``websocket_url``: served by the local cloud when one runs, else the
    page's file itself (a browser opens both the same way; the page works against AWS too).
    A token goes in the fragment, which the browser never sends to the page's server."""
    from . import localcloud

    state = localcloud.status(Path(home) if home else localcloud.default_home())
    if state is not None:
        return localcloud.chat_page_url(state["aws_endpoint"], websocket_url, name, token)
    query = localcloud.chat_page_query(websocket_url, name, token)
    return localcloud.CHAT_PAGE_FILE.as_uri() + query


def read_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None],
               fd: int) -> None:
    """Feed the lines of ``fd`` into ``queue`` from a daemon thread (None at end of input).

    os.read, not sys.stdin: a thread blocked in sys.stdin.readline holds the buffer's lock,
    which can abort the interpreter's shutdown; a blocked os.read holds nothing.
    """

    def put(item: str | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is already closed: we are leaving
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pending = ""
        try:
            while chunk := os.read(fd, 65536):
                pending += decoder.decode(chunk)
                *lines, pending = pending.split("\n")
                for line in lines:
                    put(line.rstrip("\r"))
        except OSError:
            pass
        if pending:
            put(pending)
        put(None)

    threading.Thread(target=pump, name="chat-stdin", daemon=True).start()


async def print_frames(ws: ClientConnection, out: TextIO) -> None:
    """Print each frame received as one transcript line, until the connection closes."""
    with contextlib.suppress(ConnectionClosed):
        async for frame in ws:
            text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
            print(describe(text), file=out, flush=True)


async def send_lines(ws: ClientConnection, lines: asyncio.Queue[str | None],
                     err: TextIO) -> None:
    """Send each line typed as a chat message; return at end of input."""
    while (line := await lines.get()) is not None:
        if not line.strip():
            continue
        if len(line) > MAX_MESSAGE_LENGTH:
            print(f"! not sent: a message is at most {MAX_MESSAGE_LENGTH} characters "
                  f"(this one has {len(line)})", file=err, flush=True)
            continue
        try:
            await ws.send(json.dumps({"action": "sendmessage", "message": line}))
        except ConnectionClosed:
            return


async def keep_alive(ws: ClientConnection, every_s: float) -> None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.sleep(every_s)
            await ws.send(json.dumps({"action": "join"}))


def closed_words(ws: ClientConnection) -> str:
    code = ws.close_code if ws.close_code is not None else 1006
    reason = ws.close_reason or ""
    return f"close {code} {reason}".rstrip()


async def chat(url: str, name: str | None, *, token: str | None = None, fd: int = 0,
               out: TextIO = sys.stdout, err: TextIO = sys.stderr,
               keepalive_s: float = KEEPALIVE_S) -> int:
    """Chat on ``url`` as ``name`` until end of input, Ctrl-C or the server closes. Messages
    show ``url`` as given, never the URL with the token in it."""
    try:
        ws = await connect(connect_url(url, name, token), open_timeout=OPEN_TIMEOUT_S,
                           close_timeout=CLOSE_TIMEOUT_S, max_size=2**20)
    except InvalidStatus as exc:
        status = exc.response.status_code
        raise ChatError(f"{refusal(status, name, token=bool(token))} ({url})") from None
    except InvalidURI:
        raise ChatError(f"not a WebSocket URL: {url!r} (use ws://… or wss://…)") from None
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        raise ChatError(f"cannot reach {url}: {unreachable(exc)}") from None

    loop = asyncio.get_running_loop()
    leave = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
        loop.add_signal_handler(signal.SIGINT, leave.set)
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    read_lines(loop, lines, fd)
    who = f" as {name}" if name else ""
    print(f"connected to {url}{who} (Ctrl-D or Ctrl-C to leave)", file=err, flush=True)
    try:
        await ws.send(json.dumps({"action": "join"}))
        reader = asyncio.create_task(print_frames(ws, out))
        tasks = {
            reader,
            asyncio.create_task(send_lines(ws, lines, err)),  # returns at Ctrl-D
            asyncio.create_task(leave.wait()),  # Ctrl-C
            asyncio.create_task(keep_alive(ws, keepalive_s)),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks - {reader}:
                task.cancel()
        if reader.done():
            print(f"the server closed the connection ({closed_words(ws)})", file=err, flush=True)
            return 0 if ws.close_code in (1000, 1001) else 1
        await ws.close(1000)
        await asyncio.wait_for(reader, CLOSE_TIMEOUT_S + 1)
        print(f"left the chat ({closed_words(ws)})", file=err, flush=True)
        return 0
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
        await ws.close()


def main(url: str | None, name: str | None, *, browser: bool = False,
         home: str | None = None, token: str | None = None) -> int:
    """The body of ``workshop chat``; returns the exit status."""
    try:
        found = None if url else find_api(home)
        if found:
            url = found[0].websocket_url(found[1], found[0].names.stage)
        ttl_s = BROWSER_TOKEN_TTL_S if browser else TERMINAL_TOKEN_TTL_S
        token = choose_token(token, name, found, home=home, ttl_s=ttl_s)
        if browser:
            page = browser_page_url(url, name, home, token)
            print(f"chat page: {page}")
            if not webbrowser.open(page):
                print("(no browser found here: open that address in one)", file=sys.stderr)
            return 0
        return asyncio.run(chat(url, name, token=token))
    except ChatError as exc:
        print(f"workshop chat: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the connection was open
        print("workshop chat: interrupted", file=sys.stderr)
        return 130
