"""The browser chat page: how the local cloud serves it, and the page itself in headless
Chromium (through Playwright) chatting with other pages and with asyncio clients."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

from workshop_utils.chatpage import page_url

from .chatstack import chat_stack_fixture

chat_stack = chat_stack_fixture()


def fetch(cloud, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request (the path goes out exactly as written: no client-side cleanup)."""
    parts = urlsplit(cloud.aws_endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
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
    status, headers, body = fetch(chat_stack.cloud, path)
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert needle in body


def test_page_never_uses_innerhtml() -> None:
    from workshop_utils.chatpage import static_files

    script = static_files()["chat.js"].read_text()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "document.write" not in script


def test_without_slash_redirects_and_keeps_the_query(chat_stack) -> None:
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
def test_no_directory_traversal(chat_stack, path) -> None:
    status, headers, body = fetch(chat_stack.cloud, path)
    assert status == 404, body
    assert headers["Content-Type"].startswith("text/plain")
    assert b"root:" not in body and b"[project]" not in body


def test_only_get_and_head(chat_stack) -> None:
    status, headers, _ = fetch(chat_stack.cloud, "/_localcloud/chat/", method="POST")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, headers, body = fetch(chat_stack.cloud, "/_localcloud/chat/", method="HEAD")
    assert status == 200 and body == b""


def test_page_url_fills_in_url_and_name() -> None:
    assert page_url("http://127.0.0.1:4566", "wss://abc.execute-api.eu-west-1.amazonaws.com/dev",
                    "al ice") == (
        "http://127.0.0.1:4566/_localcloud/chat/"
        "?url=wss%3A%2F%2Fabc.execute-api.eu-west-1.amazonaws.com%2Fdev&name=al+ice")
    assert page_url("http://127.0.0.1:4566/") == "http://127.0.0.1:4566/_localcloud/chat/"
