"""``workshop chat``: the workshop's chat in a terminal, in the spirit of ``wscat``.

It speaks the chat's protocol (see ``workshop_utils.chat``): connects with ``?name=``, sends
``{"action": "join"}``, prints what arrives as a transcript (``alice: hi``, ``* bob joined``,
``! error: …``) and sends each line typed as a message. Ctrl-D or Ctrl-C leaves (close 1000).

Without a URL it finds the workshop's API on the current target (``WORKSHOP_TARGET``, the
prefix, the local cloud's state); ``--browser`` opens the browser chat page instead.
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
from typing import TextIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from .chat import describe

OPEN_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 5.0
MAX_MESSAGE_LENGTH = 1000  # what the broadcast handler accepts
# API Gateway closes a connection with no data for 10 minutes; a repeated join is the chat's
# harmless "I'm here" (announced once per connection, then silent).
KEEPALIVE_S = 300.0
STATIC_PAGE = Path(__file__).resolve().parent / "static" / "chat.html"


class ChatError(RuntimeError):
    """Why the chat could not start, in one line."""


def with_name(url: str, name: str | None) -> str:
    """The stage URL with ``?name=`` set (other query parameters kept)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "name"]
    if name:
        query.append(("name", name))
    return urlunsplit(parts._replace(query=urlencode(query)))


def refusal(status: int, name: str | None) -> str:
    """What a refused handshake means for this chat."""
    if status == 400:
        return (f"the chat refused the name {name!r} (HTTP 400): use at most 32 printable "
                "characters")
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


def find_url(home: str | None = None) -> str:
    """The stage URL of the workshop's chat API on the current target."""
    from .cli_errors import explain
    from .stack import find_api_id
    from .target import TargetError, from_environment

    env = dict(os.environ)
    if home:
        env["WORKSHOP_HOME"] = home
    try:
        # start_cloud=False: a cloud started now would have no chat API in it anyway.
        target = from_environment(env, start_cloud=False)
        api_id = find_api_id(target)
    except TargetError as exc:
        raise ChatError(str(exc)) from None
    except Exception as exc:  # botocore's errors: credentials, endpoint, permissions
        raise ChatError(explain(exc, env)[0]) from None
    if api_id is None:
        raise ChatError(
            f"no API named {target.names.api!r} on the {target.kind} target (prefix "
            f"{target.prefix!r}): run notebooks 01-04 first, or give the URL: "
            "workshop chat wss://…/dev --name alice")
    return target.websocket_url(api_id, target.names.stage)


def browser_page_url(websocket_url: str, name: str | None, home: str | None = None) -> str:
    """The chat page for ``websocket_url``: served by the local cloud when one runs, else the
    page's file itself (a browser opens both the same way; the page works against AWS too)."""
    from .chatpage import page_url
    from .localcloud import process
    from .localcloud.settings import default_home

    state = process.status(Path(home) if home else default_home())
    if state is not None:
        return page_url(state["aws_endpoint"], websocket_url, name)
    query = {k: v for k, v in (("url", websocket_url), ("name", name)) if v}
    return STATIC_PAGE.as_uri() + "?" + urlencode(query)


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


async def chat(url: str, name: str | None, *, fd: int = 0, out: TextIO = sys.stdout,
               err: TextIO = sys.stderr, keepalive_s: float = KEEPALIVE_S) -> int:
    """Chat on ``url`` as ``name`` until end of input, Ctrl-C or the server closes."""
    target = with_name(url, name)
    try:
        ws = await connect(target, open_timeout=OPEN_TIMEOUT_S, close_timeout=CLOSE_TIMEOUT_S,
                           max_size=2**20)
    except InvalidStatus as exc:
        raise ChatError(f"{refusal(exc.response.status_code, name)} ({url})") from None
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
         home: str | None = None) -> int:
    """The body of ``workshop chat``; returns the exit status."""
    try:
        url = url or find_url(home)
        if browser:
            page = browser_page_url(url, name, home)
            print(f"chat page: {page}")
            if not webbrowser.open(page):
                print("(no browser found here: open that address in one)", file=sys.stderr)
            return 0
        return asyncio.run(chat(url, name))
    except ChatError as exc:
        print(f"workshop chat: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the connection was open
        print("workshop chat: interrupted", file=sys.stderr)
        return 130
