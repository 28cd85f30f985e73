"""The browser chat page, served by the local cloud at ``/_localcloud/chat/`` on its AWS port.

The page itself is three static files in ``static/`` (plain HTML, CSS and JavaScript, no build
step). It takes the stage's WebSocket URL and a name as query parameters
(``?url=ws://…&name=alice``), so the same page talks to a real AWS stage (``wss://…``) too;
without them it asks for both. ``workshop chat --browser`` opens it with both filled in.

A token for a chat with the authorizer goes in the fragment (``#token=…``): browsers never
send a fragment to the server, so it is in no request line or server log; the page takes it
out of the address bar at once and adds it to the WebSocket URL only.

This module is what the learner's side needs (the page's address and its file); serving it is
:mod:`.responses`.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

PAGE_PATH = "/_localcloud/chat/"
STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = "chat.html"
PAGE_FILE = STATIC_DIR / INDEX  # the page opened as a file (no local cloud running)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}


def page_query(websocket_url: str | None = None, name: str | None = None,
               token: str | None = None) -> str:
    """``?url=…&name=…#token=…``, each part only when given."""
    query = {k: v for k, v in (("url", websocket_url), ("name", name)) if v}
    return (f"?{urlencode(query)}" if query else "") + (
        f"#{urlencode({'token': token})}" if token else "")


def page_url(aws_endpoint: str, websocket_url: str | None = None, name: str | None = None,
             token: str | None = None) -> str:
    """The page's address on a local cloud, with the stage URL, the name and the token."""
    return aws_endpoint.rstrip("/") + PAGE_PATH + page_query(websocket_url, name, token)


def static_files() -> dict[str, Path]:
    """The files the page may serve: exactly those shipped, by name (no paths, no traversal)."""
    return {p.name: p for p in STATIC_DIR.iterdir()
            if p.is_file() and p.suffix in CONTENT_TYPES}
