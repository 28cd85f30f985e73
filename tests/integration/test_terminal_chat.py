"""``workshop chat`` in a pseudo-terminal against the real chat stack on a local cloud."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import select
import subprocess
import sys
import termios
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from websockets.asyncio.server import serve

from tests.timing import SECOND
from workshop_utils import tokens
from workshop_utils.chat import ChatClient, ChatRoom, parse

from .chatstack import chat_stack_fixture

chat_stack = chat_stack_fixture(prefix="wschat-term")

WAIT_S = 15 * SECOND  # every wait below is bounded by this
POLL_S = 0.05 * SECOND
WORKSHOP = [sys.executable, "-m", "workshop_utils.cli"]


def _controlling_tty() -> None:  # runs in the child: the pty becomes its terminal, as in a shell
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyProcess:
    """``workshop …`` with a pseudo-terminal as stdin, stdout and stderr."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [*WORKSHOP, *args], stdin=slave, stdout=slave, stderr=slave, close_fds=True,
            preexec_fn=_controlling_tty, env={**os.environ, **(env or {})},
        )
        os.close(slave)
        self.output = ""

    def _read(self, wait_s: float) -> None:
        """Append what the terminal shows within ``wait_s`` to ``output``."""
        ready, _, _ = select.select([self.master], [], [], wait_s)
        if ready:
            try:
                self.output += os.read(self.master, 65536).decode("utf-8", "replace")
            except OSError:  # EIO: the child closed its side
                time.sleep(wait_s)

    async def expect(self, pattern: str) -> re.Match[str]:
        """Wait (at most WAIT_S) for ``pattern`` in what the terminal showed."""
        deadline = time.monotonic() + WAIT_S
        while not (match := re.search(pattern, self.output)):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} in the terminal:\n{self.output}")
            await asyncio.to_thread(self._read, 2 * POLL_S)
        return match

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    async def wait(self) -> int:
        """The exit status, reading the terminal meanwhile (a full pty would block the child)."""
        deadline = time.monotonic() + WAIT_S
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"workshop chat did not exit:\n{self.output}")
            await asyncio.to_thread(self._read, 2 * POLL_S)
        await asyncio.to_thread(self._read, 2 * POLL_S)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT_S)

    def close(self) -> None:
        self.kill()
        os.close(self.master)


async def frame_of(client: ChatClient, kind: str, **fields: Any) -> dict:
    """The first frame of type ``kind`` with ``fields`` that ``client`` received (WAIT_S)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for frame in client.received:
            data = parse(frame)
            if (isinstance(data, dict) and data.get("type") == kind
                    and all(data.get(k) == v for k, v in fields.items())):
                return data
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"{client.name} never got {kind} {fields}; got {client.received}")


def run(scenario: Any) -> None:
    """Run the ``scenario`` coroutine function on a fresh loop, bounded as a whole."""
    asyncio.run(asyncio.wait_for(scenario(), 6 * WAIT_S))


def test_terminal_chat_talks_and_leaves_on_ctrl_d(chat_stack) -> None:
    """In a terminal the chat joins, shows others' messages and joins, sends each typed line as
    a message (never as a raw frame), and Ctrl-D leaves with close 1000 and a leave notice."""
    async def scenario() -> None:
        room = ChatRoom(chat_stack.api.url)
        term = PtyProcess(["chat", chat_stack.api.url, "--name", "ivy"])
        try:
            jack = await room.join("jack")
            await term.expect(r"connected to ws://\S+ as ivy \(Ctrl-D or Ctrl-C to leave\)")
            await frame_of(jack, "presence", event="join", name="ivy")

            await jack.send("hello ivy")
            await term.expect(r"jack: hello ivy")
            await room.join("kim")
            await term.expect(r"\* kim joined")

            term.type("hi jack, <b>bold</b> stays text\n")
            await frame_of(jack, "message", **{"from": "ivy", "text": "hi jack, <b>bold</b> "
                                               "stays text"})
            await term.expect(r"ivy: hi jack, <b>bold</b> stays text")

            term.type('{"action": "nope"}\n')  # typed text is a message, never a raw frame
            await frame_of(jack, "message", **{"from": "ivy", "text": '{"action": "nope"}'})

            term.type("\x04")  # Ctrl-D at the start of a line: end of input
            assert await term.wait() == 0, term.output
            await term.expect(r"left the chat \(close 1000\)")
            await frame_of(jack, "presence", event="leave", name="ivy")
            assert "Traceback" not in term.output
        finally:
            term.close()
            await room.close()

    run(scenario)


def test_ctrl_c_leaves_cleanly(chat_stack) -> None:
    """Ctrl-C leaves like Ctrl-D: exit status 0, close 1000, a leave notice, no traceback."""
    async def scenario() -> None:
        room = ChatRoom(chat_stack.api.url)
        term = PtyProcess(["chat", chat_stack.api.url, "--name", "lee"])
        try:
            mo = await room.join("mo")
            await term.expect(r"connected to .* as lee")
            await frame_of(mo, "presence", event="join", name="lee")
            term.type("\x03")  # the terminal turns it into SIGINT for the foreground process
            assert await term.wait() == 0, term.output
            await term.expect(r"left the chat \(close 1000\)")
            await frame_of(mo, "presence", event="leave", name="lee")
            assert "Traceback" not in term.output and "KeyboardInterrupt" not in term.output
        finally:
            term.close()
            await room.close()

    run(scenario)


def test_refused_name_is_one_line_and_fails(chat_stack) -> None:
    """A name the $connect handler refuses ends the command with a failure status and one line
    saying what names are allowed."""
    async def scenario() -> None:
        term = PtyProcess(["chat", chat_stack.api.url, "--name", "n" * 33])
        try:
            assert await term.wait() != 0
            lines = [line for line in term.output.splitlines() if line.strip()]
            assert len(lines) == 1, term.output
            assert re.fullmatch(
                r"workshop chat: the chat refused the name 'n{33}' \(HTTP 400\): use at most 32 "
                r"printable characters \(ws://\S+\)", lines[0].strip()), lines
        finally:
            term.close()

    run(scenario)


@pytest.mark.parametrize(("url", "message"), [
    ("ws://127.0.0.1:9/nope/dev",
     r"cannot reach ws://127.0.0.1:9/nope/dev: connection refused \(nothing listens .*\)"),
    ("ws://no-such-host.invalid/x/dev",
     r"cannot reach ws://no-such-host.invalid/x/dev: unknown host \(.*\)"),
    ("http://127.0.0.1:9/", r"not a WebSocket URL: 'http://127.0.0.1:9/' \(use ws://… or wss://…\)"),
])
def test_unreachable_or_bad_url_is_one_line(url: str, message: str) -> None:
    """Nothing listening, an unknown host or a URL that is not ws:// fails with status 1 and
    one line on stderr naming the cause."""
    done = subprocess.run([*WORKSHOP, "chat", url, "--name", "x"], capture_output=True,
                          text=True, timeout=WAIT_S, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert re.fullmatch(f"workshop chat: {message}", done.stderr.strip()), done.stderr


def test_unknown_stage_is_explained(chat_stack) -> None:
    """A URL naming a stage that does not exist fails with status 1 and one line saying to
    check the URL."""
    url = chat_stack.api.url.rsplit("/", 1)[0] + "/nostage"
    done = subprocess.run([*WORKSHOP, "chat", url, "--name", "x"], capture_output=True,
                          text=True, timeout=WAIT_S, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"workshop chat: no such API or stage (HTTP 403 Forbidden): check the URL ({url})")


def test_without_url_finds_the_workshop_api(chat_stack) -> None:
    """Without a URL the command finds the learner's own API by their prefix, and with no API
    of that prefix says so in one line."""
    cloud, target, api = chat_stack
    env = {"WORKSHOP_HOME": str(cloud.settings.home), "WORKSHOP_PREFIX": target.prefix,
           "WORKSHOP_TARGET": "local"}

    async def scenario() -> None:
        room = ChatRoom(api.url)
        term = PtyProcess(["chat", "--name", "nia"], env=env)
        try:
            await term.expect(re.escape(f"connected to {api.url} as nia"))
            term.type("found it\n")
            await term.expect(r"nia: found it")
            term.type("\x04")
            assert await term.wait() == 0
        finally:
            term.close()
            await room.close()

    run(scenario)

    other = subprocess.run([*WORKSHOP, "chat", "--name", "x"], capture_output=True, text=True,
                           timeout=WAIT_S, env={**os.environ, **env, "WORKSHOP_PREFIX": "nobody"})
    assert other.returncode == 1
    assert other.stderr.startswith(
        "workshop chat: no API named 'nobody-chat-api' on the local target"), other.stderr


def test_browser_flag_prints_and_opens_the_page(chat_stack, tmp_path) -> None:
    """--browser prints the chat page's URL (stage URL and name filled in), opens it with
    $BROWSER, and the local cloud serves that page."""
    cloud, target, api = chat_stack
    opened = tmp_path / "opened"
    fake_browser = tmp_path / "browser"
    fake_browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    fake_browser.chmod(0o755)
    env = {**os.environ, "WORKSHOP_HOME": str(cloud.settings.home),
           "WORKSHOP_PREFIX": target.prefix, "BROWSER": str(fake_browser)}
    done = subprocess.run([*WORKSHOP, "chat", "--name", "olga", "--browser"], env=env,
                          capture_output=True, text=True, timeout=WAIT_S)
    assert done.returncode == 0, done.stderr
    page = done.stdout.strip().removeprefix("chat page: ")
    assert page.startswith(f"{cloud.aws_endpoint}/_localcloud/chat/?url=ws")
    assert page.endswith("&name=olga")
    deadline = time.monotonic() + WAIT_S
    while not opened.exists() and time.monotonic() < deadline:
        time.sleep(POLL_S)
    assert opened.read_text().strip() == page
    with urllib.request.urlopen(page, timeout=WAIT_S) as response:
        assert response.status == 200 and b"chat.js" in response.read()


# --- tokens (the gateway's authorizer comes later: these need none) -----------------------

SECRET = "the-terminal-tests-signing-secret-43-chars!"


@contextlib.asynccontextmanager
async def refusing_server(status: int):
    """A WebSocket server on 127.0.0.1 that records each handshake's path and query, then
    refuses it with ``status``: what a client sends, seen from the other side."""
    paths: list[str] = []

    def refuse(connection, request):
        paths.append(request.path)
        return connection.respond(status, "refused\n")

    async with serve(lambda ws: None, "127.0.0.1", 0, process_request=refuse) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/abc/dev", paths


async def workshop_chat(*args: str, env: dict[str, str] | None = None):
    return await asyncio.to_thread(
        subprocess.run, [*WORKSHOP, "chat", *args], capture_output=True, text=True,
        timeout=WAIT_S, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def cloud_env(chat_stack, prefix: str | None = None) -> dict[str, str]:
    cloud, target, _ = chat_stack
    return {"WORKSHOP_HOME": str(cloud.settings.home), "WORKSHOP_TARGET": "local",
            "WORKSHOP_PREFIX": prefix or target.prefix}


@pytest.fixture
def token_secret(chat_stack) -> str:
    """The workshop's signing secret, put in the local cloud's SSM as the authorizer step
    will put it."""
    target = chat_stack.target
    target.client("ssm").put_parameter(Name=target.names.token_parameter, Value=SECRET,
                                       Type="SecureString", Overwrite=True)
    return SECRET


def test_a_given_token_is_sent_and_never_printed() -> None:
    """workshop chat --token sends the token in the URL, and its refusal is one line with the fix
    that never prints the token."""
    token = "v1.c2VjcmV0aXNo.1795622460.c2lnbmF0dXJl"

    async def scenario() -> None:
        async with refusing_server(403) as (url, paths):
            done = await workshop_chat(url, "--name", "ivy", "--token", token)
        assert paths == [f"/abc/dev?name=ivy&token={token}"]
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.strip() == (
            "workshop chat: the chat refused the token (HTTP 403 Forbidden): it is expired, or "
            f"not signed with this chat's secret; mint a new one with --token auto ({url})")
        assert "c2VjcmV0aXNo" not in done.stderr

    run(scenario)


def test_a_chat_that_wants_a_token_says_how_to_get_one() -> None:
    """A 401 from a chat with an authorizer is one line saying to pass --token or --token auto."""
    async def scenario() -> None:
        async with refusing_server(401) as (url, paths):
            done = await workshop_chat(url, "--name", "ivy")
        assert paths == ["/abc/dev?name=ivy"]
        assert done.returncode == 1
        assert done.stderr.strip() == (
            "workshop chat: the chat needs a token (HTTP 401 Unauthorized): its $connect has an "
            "authorizer; pass --token <token>, or --token auto to mint one from the workshop's "
            f"secret ({url})")

    run(scenario)


def test_token_auto_mints_from_the_targets_secret(chat_stack, token_secret) -> None:
    """--token auto mints a token for --name from the target's SSM secret, valid for an hour, and
    never prints it."""
    async def scenario() -> None:
        async with refusing_server(403) as (url, paths):
            before = time.time()
            done = await workshop_chat(url, "--name", "jo", "--token", "auto",
                                       env=cloud_env(chat_stack))
        assert done.returncode == 1, done.stderr
        ((path, query),) = [p.split("?", 1) for p in paths]
        params = dict(urllib.parse.parse_qsl(query))
        claims = tokens.token_format().verify(token_secret, params["token"], time.time())
        assert (params["name"], claims.name) == ("jo", "jo")
        assert before + 3600 <= claims.expires_at + 1 and claims.expires_at <= time.time() + 3600
        assert params["token"] not in done.stderr

    run(scenario)


@pytest.mark.parametrize(("args", "message"), [
    (["--token", "auto"], r"a token carries your chat name: give --name too \(or --token "
                          r"<token>\)"),
    (["--name", "jo", "--token", "auto"],
     r"the token secret 'wschat-nosecret-chat-token-secret' on the local target does not "
     r"exist yet: create it first \(the authorizer step puts it\), or pass a token"),
])
def test_token_auto_that_cannot_mint_is_one_line(chat_stack, args, message) -> None:
    """--token auto without --name, or without the secret, is one line saying why and sends
    nothing."""
    async def scenario() -> None:
        async with refusing_server(403) as (url, paths):
            done = await workshop_chat(url, *args,
                                       env=cloud_env(chat_stack, prefix="wschat-nosecret"))
        assert paths == []  # nothing was sent
        assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
        assert re.fullmatch(f"workshop chat: {message}", done.stderr.strip()), done.stderr

    run(scenario)


def test_a_token_does_not_disturb_a_chat_without_the_authorizer(chat_stack) -> None:
    """A token sent to a chat without the authorizer changes nothing: the chat works and the token
    is not printed."""
    async def scenario() -> None:
        room = ChatRoom(chat_stack.api.url)
        term = PtyProcess(["chat", chat_stack.api.url, "--name", "pia", "--token", "v1.x.1.y"])
        try:
            quinn = await room.join("quinn", token="v1.x.1.y")
            await term.expect(r"connected to ws://\S+ as pia ")
            await frame_of(quinn, "presence", event="join", name="pia")
            term.type("tokens are ignored here\n")
            await frame_of(quinn, "message", **{"from": "pia", "text": "tokens are ignored here"})
            term.type("\x04")
            assert await term.wait() == 0, term.output
            assert "v1.x.1.y" not in term.output
        finally:
            term.close()
            await room.close()

    run(scenario)


def test_browser_page_gets_a_minted_token_in_its_fragment(chat_stack, token_secret) -> None:
    """workshop chat --browser --token auto writes a minted token, valid for the day, in the page's
    fragment only."""
    env = {**cloud_env(chat_stack), "BROWSER": "/bin/true"}
    done = subprocess.run([*WORKSHOP, "chat", "--name", "olga", "--browser", "--token", "auto"],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=WAIT_S)
    assert done.returncode == 0, done.stderr
    page = done.stdout.strip().removeprefix("chat page: ")
    address, fragment = page.split("#", 1)
    assert address.endswith("&name=olga") and "token" not in address
    claims = tokens.token_format().verify(
        token_secret, dict(urllib.parse.parse_qsl(fragment))["token"], time.time())
    assert claims.name == "olga"
    assert claims.expires_at > time.time() + 7 * 3600  # the page reconnects all day with it
