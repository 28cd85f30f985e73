"""The browser chat page: how the local cloud serves it, and the page itself in headless
Chromium (through Playwright) chatting with other pages and with asyncio clients."""

from __future__ import annotations

import asyncio
import http.client
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.timing import SECOND
from workshop_utils.chat import ChatClient, ChatRoom, parse
from workshop_utils.localcloud import GatewayLimits
from workshop_utils.localcloud.chatpage import page_url

from .chatstack import ChatStack, chat_stack_fixture, connection_ids

chat_stack = chat_stack_fixture()


def fetch(cloud, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request (the path goes out exactly as written: no client-side cleanup)."""
    parts = urlsplit(cloud.aws_endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10 * SECOND)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(("path", "content_type", "needle"), [
    ("/_localcloud/chat/", "text/html; charset=utf-8", b'<script src="chat.js"'),
    ("/_localcloud/chat/chat.html", "text/html; charset=utf-8", b"<html"),
    ("/_localcloud/chat/chat.js", "text/javascript; charset=utf-8", b"textContent"),
    ("/_localcloud/chat/chat.css", "text/css; charset=utf-8", b".messages"),
])
def test_page_files_are_served_uncached(chat_stack, path, content_type, needle) -> None:
    """Each page file is served with its content type, no-store, nosniff and a CSP that lets
    only the page's own scripts run."""
    status, headers, body = fetch(chat_stack.cloud, path)
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert needle in body


def test_page_never_uses_innerhtml() -> None:
    """The page's script never parses text as HTML (no innerHTML, insertAdjacentHTML or
    document.write), so a peer's message cannot inject markup."""
    from workshop_utils.localcloud.chatpage import static_files

    script = static_files()["chat.js"].read_text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "document.write" not in script


def test_without_slash_redirects_and_keeps_the_query(chat_stack) -> None:
    """The page's path without its final slash answers 308 to the slashed path, query kept."""
    status, headers, _ = fetch(chat_stack.cloud, "/_localcloud/chat?url=ws%3A%2F%2Fx&name=al")
    assert status == 308
    assert headers["Location"] == "/_localcloud/chat/?url=ws%3A%2F%2Fx&name=al"


@pytest.mark.parametrize("path", [
    "/_localcloud/chat/../status",
    "/_localcloud/chat/%2e%2e/status",
    "/_localcloud/chat/..%2fchatpage.py",
    "/_localcloud/chat/..%2F..%2Fpyproject.toml",
    "/_localcloud/chat/static/chat.js",
    "/_localcloud/chat/%2Fetc%2Fpasswd",
    "/_localcloud/chat/nothing.js",
])
def test_paths_outside_the_page_files_are_404(chat_stack, path) -> None:
    """Dot-dot segments (plain or percent-encoded), sub-folders and unknown names answer a
    plain-text 404, never a file from elsewhere."""
    status, headers, body = fetch(chat_stack.cloud, path)
    assert status == 404, body
    assert headers["Content-Type"].startswith("text/plain")
    assert b"root:" not in body and b"[project]" not in body


def test_only_get_and_head_are_allowed(chat_stack) -> None:
    """POST answers 405 with Allow: GET, HEAD; HEAD answers 200 with no body."""
    status, headers, _ = fetch(chat_stack.cloud, "/_localcloud/chat/", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, body = fetch(chat_stack.cloud, "/_localcloud/chat/", method="HEAD")
    assert status == 200 and body == b""


def test_page_url_fills_in_url_and_name() -> None:
    """page_url puts the stage URL and the name, encoded, in the page's query; without them
    it is the bare page."""
    assert page_url("http://127.0.0.1:4566", "wss://abc.execute-api.eu-west-1.amazonaws.com/dev",
                    "al ice") == (
        "http://127.0.0.1:4566/_localcloud/chat/"
        "?url=wss%3A%2F%2Fabc.execute-api.eu-west-1.amazonaws.com%2Fdev&name=al+ice")
    assert page_url("http://127.0.0.1:4566/") == "http://127.0.0.1:4566/_localcloud/chat/"


# --- the page in headless Chromium --------------------------------------------------------

CHROMIUM = Path(os.environ.get("WORKSHOP_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a 64 MB /dev/shm
]
WAIT_S = 15 * SECOND  # every single wait in these tests is bounded by this
# Starting Chromium is the one slow step: seconds on an idle machine, over 15 s on a loaded one
# (seen in CI-like runs on 2 shared cores). It has its own, wider bound.
LAUNCH_S = 60 * SECOND
SCENARIO_S = 120 * SECOND  # and every scenario as a whole by this
POLL_S = 0.05 * SECOND
XSS = "<img src=x onerror=alert(1)>"

# A keep-alive test needs a gateway whose idle timeout is seconds, not 10 minutes.
IDLE_TIMEOUT_S = 3 * SECOND
idle_stack = chat_stack_fixture(
    prefix="wschat-idle", limits=GatewayLimits(idle_timeout_s=IDLE_TIMEOUT_S), name="idle_stack")


def playwright_api():
    """Playwright's async API and a Chromium to drive, or a skip saying which is missing."""
    try:
        from playwright import async_api
    except ImportError:
        pytest.skip("Playwright is not installed (pip install playwright, or `make setup`)")
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or `make setup`; "
                    "WORKSHOP_CHROMIUM=<path> for another one)")
    return async_api


def run(scenario: Callable[[Any], Awaitable[None]]) -> None:
    """Run ``scenario(browser)`` in a fresh headless Chromium, bounded by SCENARIO_S."""
    api = playwright_api()

    async def main() -> None:
        async with api.async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=LAUNCH_S * 1000)
            try:
                await asyncio.wait_for(scenario(browser), SCENARIO_S)
            finally:
                await browser.close()

    asyncio.run(main())


class ChatPage:
    """One browser tab on the chat page, with what it must never do recorded."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.name = name
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        asyncio.ensure_future(dialog.dismiss())

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.errors.append(f"CSP: {message.text}")

    @classmethod
    async def open(cls, browser: Any, stack: ChatStack, name: str, **query: str) -> ChatPage:
        page = cls(await browser.new_page(), name)
        url = page_url(stack.cloud.aws_endpoint, stack.api.url, name)
        if query:
            url += "&" + urlencode(query)
        await page.page.goto(url, timeout=WAIT_S * 1000)
        await page.expect_state("connected")
        await page.expect_only_visible("#chat", "#join-form")
        return page

    async def expect_only_visible(self, shown: str, hidden: str) -> None:
        from playwright.async_api import expect

        await expect(self.page.locator(shown)).to_be_visible(timeout=WAIT_S * 1000)
        await expect(self.page.locator(hidden)).to_be_hidden(timeout=WAIT_S * 1000)

    async def expect_state(self, state: str) -> None:
        from playwright.async_api import expect

        await expect(self.page.locator("#state")).to_have_attribute(
            "data-state", state, timeout=WAIT_S * 1000)

    async def expect_entry(self, kind: str, text: str) -> None:
        """An entry of ``kind`` (message, presence, error, notice) containing ``text``."""
        from playwright.async_api import expect

        await expect(self.page.locator(f"#messages li.{kind}", has_text=text).first).to_be_visible(
            timeout=WAIT_S * 1000)

    async def say(self, text: str) -> None:
        await self.page.locator("#message-input").fill(text)
        await self.page.locator("#message-input").press("Enter")

    def assert_well_behaved(self) -> None:
        assert self.dialogs == [], f"{self.name}'s page opened dialogs: {self.dialogs}"
        assert self.errors == [], f"{self.name}'s page: {self.errors}"


async def frame_of(client: ChatClient, predicate: Callable[[dict], bool]) -> dict:
    """The first frame ``client`` received that matches, waiting at most WAIT_S."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        for frame in client.received:
            data = parse(frame)
            if isinstance(data, dict) and predicate(data):
                return data
        if loop.time() > deadline:
            raise AssertionError(f"{client.name} never got the frame; got {client.received}")
        await asyncio.sleep(POLL_S)


def message_from(name: str, text: str) -> Callable[[dict], bool]:
    """Matches the chat message ``text`` from ``name``."""
    return lambda f: f.get("type") == "message" and f.get("from") == name and f.get("text") == text


def presence(event: str, name: str) -> Callable[[dict], bool]:
    """Matches the presence frame of ``name`` joining or leaving (``event``)."""
    return lambda f: (f.get("type"), f.get("event"), f.get("name")) == ("presence", event, name)


def test_two_pages_and_an_asyncio_client_chat(chat_stack) -> None:
    """Two browser pages and an asyncio client see each other's joins, messages and leaves;
    HTML in a message is shown as text and never run."""
    async def scenario(browser: Any) -> None:
        room = ChatRoom(chat_stack.api.url)
        try:
            carol = await room.join("carol")
            alice = await ChatPage.open(browser, chat_stack, "alice")
            await frame_of(carol, presence("join", "alice"))
            bob = await ChatPage.open(browser, chat_stack, "bob")
            await alice.expect_entry("presence", "bob joined")
            await frame_of(carol, presence("join", "bob"))

            await alice.say("hi from alice")
            await bob.expect_entry("message", "alice: hi from alice")
            await alice.expect_entry("message.mine", "alice: hi from alice")
            await frame_of(carol, message_from("alice", "hi from alice"))

            await carol.send("hi pages")
            await alice.expect_entry("message", "carol: hi pages")
            await bob.expect_entry("message", "carol: hi pages")

            # A peer's HTML is text: shown as those characters, never parsed, never run.
            await bob.say(XSS)
            await carol.send(XSS)
            await frame_of(carol, message_from("bob", XSS))
            for page in (alice, bob):
                texts = page.page.locator("#messages li.message .text", has_text="<img")
                await texts.nth(1).wait_for(timeout=WAIT_S * 1000)
                assert await texts.all_text_contents() == [XSS, XSS]
                assert await page.page.locator("#messages img").count() == 0
            await asyncio.sleep(0.5 * SECOND)  # an onerror would have fired by now

            # The page rejects what the server would refuse, before connecting.
            assert await alice.page.locator("#message-input").get_attribute("maxlength") == "1000"

            await bob.page.close()
            await alice.expect_entry("presence", "bob left")
            await frame_of(carol, presence("leave", "bob"))
            alice.assert_well_behaved()
            bob.assert_well_behaved()
        finally:
            await room.close()

    run(scenario)


def test_page_reconnects_after_the_server_closes_it(chat_stack) -> None:
    """A page whose connection the server closes says so, reconnects by itself on a new
    connection id, and chats again."""
    cloud, target, api = chat_stack

    async def scenario(browser: Any) -> None:
        room = ChatRoom(api.url)
        try:
            erin = await room.join("erin")
            dave = await ChatPage.open(browser, chat_stack, "dave")
            [first_id] = connection_ids(target, "dave")

            await asyncio.to_thread(
                target.management_client(api.api_id, api.stage).delete_connection,
                ConnectionId=first_id)
            await dave.expect_entry("notice", "connection closed by the server (close 1000")
            await dave.expect_state("connected")  # by itself, after a jittered backoff
            [second_id] = connection_ids(target, "dave")
            assert second_id != first_id

            await dave.say("back again")
            await frame_of(erin, message_from("dave", "back again"))
            await erin.send("welcome back")
            await dave.expect_entry("message", "erin: welcome back")
            dave.assert_well_behaved()
        finally:
            await room.close()

    run(scenario)


def test_leaving_does_not_reconnect(chat_stack) -> None:
    """After Leave the page stays closed, past its first reconnect backoff, until Join again
    is clicked."""
    async def scenario(browser: Any) -> None:
        frank = await ChatPage.open(browser, chat_stack, "frank")
        await frank.page.get_by_role("button", name="Leave").click()
        await frank.expect_state("closed")
        await expect_text(frank.page, "#state", "closed (close 1000 left)")
        rejoin = frank.page.get_by_role("button", name="Join again")
        assert await rejoin.evaluate("el => el === document.activeElement")
        await asyncio.sleep(1.5 * SECOND)  # longer than the first backoff: nothing reconnects
        await frank.expect_state("closed")
        assert await frank.page.get_by_role("button", name="Leave").is_hidden()
        await rejoin.click()
        await frank.expect_state("connected")
        frank.assert_well_behaved()

    run(scenario)


def test_refused_handshake_is_explained_not_retried(chat_stack) -> None:
    """A refused handshake is shown as an error and not retried; a name the server would
    refuse is explained in the form before any connection."""
    cloud, _, api = chat_stack

    async def scenario(browser: Any) -> None:
        page = ChatPage(await browser.new_page(), "nobody")
        # An unknown stage: the gateway refuses the upgrade (403); a browser sees close 1006.
        bad_url = api.url.rsplit("/", 1)[0] + "/nostage"
        await page.page.goto(page_url(cloud.aws_endpoint, bad_url, "gina"), timeout=WAIT_S * 1000)
        await page.expect_entry("error", "could not connect")
        await page.expect_state("closed")
        await asyncio.sleep(1.5 * SECOND)
        await page.expect_state("closed")  # no retry loop

        # A name the $connect handler would refuse is explained before any connection.
        too_long = "x" * 33
        await page.page.goto(page_url(cloud.aws_endpoint, api.url, too_long), timeout=WAIT_S * 1000)
        await expect_text(page.page, "#join-error", "longer than 32 characters")
        await page.expect_only_visible("#join-form", "#chat")
        assert await page.page.locator("#name-input").get_attribute("aria-invalid") == "true"
        assert await page.page.locator("#name-input").evaluate(
            "el => el === document.activeElement")
        page.assert_well_behaved()

    run(scenario)


def test_form_without_query_then_enter_joins(chat_stack) -> None:
    """Without a query the page shows a labelled form the keyboard alone fills and submits;
    once joined, the page's URL keeps the room."""
    cloud, _, api = chat_stack

    async def scenario(browser: Any) -> None:
        page = ChatPage(await browser.new_page(), "hana")
        await page.page.goto(page_url(cloud.aws_endpoint), timeout=WAIT_S * 1000)
        await page.expect_only_visible("#join-form", "#chat")
        # Labels name the inputs; the keyboard alone fills and submits the form.
        await page.page.get_by_label("WebSocket URL").fill(api.url)
        await page.page.get_by_label("Your name").fill("hana")
        await page.page.get_by_label("Your name").press("Enter")
        await page.expect_state("connected")
        await page.expect_only_visible("#chat", "#join-form")
        assert "name=hana" in page.page.url  # a reload keeps the room
        assert await page.page.locator("#message-input").evaluate(
            "el => el === document.activeElement")
        assert await page.page.locator("#messages").get_attribute("aria-live") == "polite"
        page.assert_well_behaved()

    run(scenario)


def test_keepalive_beats_the_idle_timeout(idle_stack) -> None:
    """Pages sending a keep-alive stay connected past the gateway's idle timeout and are
    announced once; a page without one is closed 1001 and reconnects."""

    async def scenario(browser: Any) -> None:
        # keepalive=1: a harmless {"action": "join"} each second, inside the idle timeout.
        watcher = await ChatPage.open(browser, idle_stack, "watcher", keepalive="1")
        kept = await ChatPage.open(browser, idle_stack, "kept", keepalive="1")
        idle = await ChatPage.open(browser, idle_stack, "idle", keepalive="60")
        await idle.expect_entry("notice", "(close 1001 Going away)")
        await idle.expect_state("connected")  # and it came back by itself
        await asyncio.sleep(1 * SECOND)
        for page in (watcher, kept):
            closes = page.page.locator("#messages li.notice", has_text="closed by the server")
            assert await closes.count() == 0
            await page.expect_state("connected")
        # Several seconds of keep-alive joins from kept, and it was announced exactly once.
        joined = watcher.page.locator("#messages li.presence", has_text="kept joined")
        assert await joined.count() == 1
        for page in (watcher, kept, idle):
            page.assert_well_behaved()

    run(scenario)


async def expect_text(page: Any, selector: str, text: str) -> None:
    """Wait (at most WAIT_S) until the element at ``selector`` contains ``text``."""
    from playwright.async_api import expect

    await expect(page.locator(selector)).to_contain_text(text, timeout=WAIT_S * 1000)


# --- a token on the open chat: the page carries it (the secured chat is further down) ------

TOKEN = "v1.cmhlYQ.1795622460.bm90LWEtcmVhbC1zaWduYXR1cmUtYnV0LWxvbmctZW5vdWdo"


class Watched:
    """What a page opened as WebSockets and wrote to its console."""

    def __init__(self, page: Any) -> None:
        self.sockets: list[str] = []
        self.console: list[str] = []
        page.on("websocket", lambda ws: self.sockets.append(ws.url))
        page.on("console", lambda message: self.console.append(message.text))

    def queries(self) -> list[dict[str, list[str]]]:
        return [parse_qs(urlsplit(url).query) for url in self.sockets]


async def watched_page(browser: Any, name: str) -> tuple[ChatPage, Watched]:
    page = ChatPage(await browser.new_page(), name)
    return page, Watched(page.page)


async def assert_token_went_to_the_socket_only(page: ChatPage, watched: Watched) -> None:
    """Connected with the token in the WebSocket URL; and the token is not in the address
    bar, the DOM, any input's value or the console."""
    await page.expect_state("connected")
    assert watched.queries()[-1] == {"name": [page.name], "token": [TOKEN]}
    assert "token" not in page.page.url
    html = await page.page.evaluate("document.documentElement.outerHTML")
    values = await page.page.evaluate(
        "[...document.querySelectorAll('input')].map(i => i.value)")
    assert TOKEN not in html and not any(TOKEN in value for value in values)
    assert not any(TOKEN in line for line in watched.console)
    page.assert_well_behaved()


def test_a_token_in_the_fragment_goes_to_the_websocket_only(chat_stack) -> None:
    """A token in the page's fragment goes into the WebSocket URL only, and again when the page
    reconnects after the server closed it."""
    cloud, target, api = chat_stack

    async def scenario(browser: Any) -> None:
        page, watched = await watched_page(browser, "rhea")
        await page.page.goto(page_url(cloud.aws_endpoint, api.url, "rhea", TOKEN),
                             timeout=WAIT_S * 1000)
        await assert_token_went_to_the_socket_only(page, watched)
        assert len(watched.sockets) == 1
        assert page.page.url == page_url(cloud.aws_endpoint, api.url, "rhea")

        # A reconnect after the server closed the connection sends the token again.
        [first_id] = connection_ids(target, "rhea")
        await asyncio.to_thread(
            target.management_client(api.api_id, api.stage).delete_connection,
            ConnectionId=first_id)
        await page.expect_entry("notice", "connection closed by the server")
        await assert_token_went_to_the_socket_only(page, watched)
        assert len(watched.sockets) == 2

    run(scenario)


def test_a_token_in_the_query_is_taken_out_of_the_address_bar(chat_stack) -> None:
    """A token given in the page's query is sent on the WebSocket and taken out of the address
    bar."""
    cloud, _, api = chat_stack

    async def scenario(browser: Any) -> None:
        page, watched = await watched_page(browser, "sam")
        url = page_url(cloud.aws_endpoint, api.url, "sam") + "&" + urlencode({"token": TOKEN})
        await page.page.goto(url, timeout=WAIT_S * 1000)
        await assert_token_went_to_the_socket_only(page, watched)

    run(scenario)


def test_the_form_takes_a_token_and_forgets_the_field(chat_stack) -> None:
    """A token typed in the form's password field is sent on the WebSocket and kept nowhere on the
    page."""
    cloud, _, api = chat_stack

    async def scenario(browser: Any) -> None:
        page, watched = await watched_page(browser, "tia")
        await page.page.goto(page_url(cloud.aws_endpoint), timeout=WAIT_S * 1000)
        token_input = page.page.get_by_label("Token (only for a chat with an authorizer)")
        assert await token_input.get_attribute("type") == "password"  # never shown as typed
        await page.page.get_by_label("WebSocket URL").fill(api.url)
        await page.page.get_by_label("Your name").fill("tia")
        await token_input.fill(TOKEN)
        await token_input.press("Enter")
        await assert_token_went_to_the_socket_only(page, watched)

    run(scenario)


def test_without_a_token_the_websocket_url_has_none(chat_stack) -> None:
    """Without a token the page's WebSocket URL carries only the name."""
    cloud, _, api = chat_stack

    async def scenario(browser: Any) -> None:
        page, watched = await watched_page(browser, "uma")
        await page.page.goto(page_url(cloud.aws_endpoint, api.url, "uma"), timeout=WAIT_S * 1000)
        await page.expect_state("connected")
        assert watched.queries() == [{"name": ["uma"]}]

    run(scenario)


# --- the page on a chat secured by notebook 06 (the real authorizer on $connect) ------------

secure_stack = chat_stack_fixture(prefix="wschat-secpage", name="secure_stack", secure=True)


def browser_page_from_workshop_chat(stack: ChatStack, name: str) -> str:
    """The page address ``workshop chat --browser --name <name>`` prints for the workshop's
    own API (no ``--token``: it mints one because the API's $connect has the authorizer)."""
    env = {**os.environ, "WORKSHOP_HOME": str(stack.cloud.settings.home),
           "WORKSHOP_TARGET": "local", "WORKSHOP_PREFIX": stack.target.prefix,
           "BROWSER": "/bin/true"}
    done = subprocess.run([sys.executable, "-m", "workshop_utils.cli", "chat", "--name", name,
                           "--browser"], env=env, capture_output=True, text=True,
                          timeout=WAIT_S, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().removeprefix("chat page: ")


def test_a_page_without_a_token_is_refused_and_says_so(secure_stack) -> None:
    """On the secured chat a page without a token is refused (the gateway's 401; a browser sees
    close 1006), says the token may be missing, and does not retry."""
    cloud, _, api = secure_stack

    async def scenario(browser: Any) -> None:
        page, watched = await watched_page(browser, "mallory")
        await page.page.goto(page_url(cloud.aws_endpoint, api.url, "mallory"),
                             timeout=WAIT_S * 1000)
        await page.expect_entry("error", "missing or expired token")
        await page.expect_state("closed")
        await asyncio.sleep(1.5 * SECOND)
        await page.expect_state("closed")  # no retry loop
        assert watched.queries() == [{"name": ["mallory"]}]
        page.assert_well_behaved()

    run(scenario)


def test_a_page_from_workshop_chat_joins_under_the_tokens_name(secure_stack) -> None:
    """``workshop chat --browser`` on the secured chat puts a minted token in the fragment; the
    page joins with it, under the token's name even when the page's name says otherwise, and
    an asyncio client (whose token ChatRoom mints) sees it."""
    cloud, target, api = secure_stack
    address = browser_page_from_workshop_chat(secure_stack, "alice")
    assert "#" in address and "token" not in address.split("#", 1)[0]
    # The address as a learner might edit it: another name in the query, the token kept.
    claimed = address.replace("name=alice", "name=mallory", 1)

    async def scenario(browser: Any) -> None:
        room = ChatRoom(api.url, target)
        try:
            carol = await room.join("carol")
            page, watched = await watched_page(browser, "alice")
            await page.page.goto(claimed, timeout=WAIT_S * 1000)
            await page.expect_state("connected")
            assert watched.queries()[-1]["name"] == ["mallory"]
            await page.expect_entry("presence", "welcome, alice")
            await frame_of(carol, presence("join", "alice"))
            await page.say("hi from the page")
            await frame_of(carol, message_from("alice", "hi from the page"))
            await carol.send("hi alice")
            await page.expect_entry("message", "carol: hi alice")
            page.assert_well_behaved()
        finally:
            await room.close()

    run(scenario)
