"""The browser chat page, served by the local cloud at ``/_localcloud/chat/`` on its AWS port.

The page itself is three static files in ``workshop_utils/static/`` (plain HTML, CSS and
JavaScript, no build step). It takes the stage's WebSocket URL and a name as query parameters
(``?url=ws://…&name=alice``), so the same page talks to a real AWS stage (``wss://…``) too;
without them it asks for both. ``workshop chat --browser`` opens it with both filled in.

A token for a chat with the authorizer goes in the fragment (``#token=…``): browsers never
send a fragment to the server, so it is in no request line or server log; the page takes it
out of the address bar at once and adds it to the WebSocket URL only.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from .localcloud.awsapp import Forward

PAGE_PATH = "/_localcloud/chat/"
STATIC_DIR = Path(__file__).resolve().parent / "static"
INDEX = "chat.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
# Defence in depth on top of the page's own textContent-only rendering: no inline script, no
# script or style from anywhere else, WebSockets to any ws:/wss: host (the stage may be AWS).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
COMMON_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
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


def _text(status: int, message: str, **headers: str) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain",
                    headers={**COMMON_HEADERS, **headers})


class ChatPageExtension:
    """``GET /_localcloud/chat/[file]``: the chat page and its two assets."""

    def handle(self, request: Request, forward: Forward) -> Response | None:
        path = request.path
        if path == PAGE_PATH.rstrip("/"):
            # Relative asset links (chat.css) need the trailing slash; keep the query.
            query = request.query_string.decode("latin-1")
            location = PAGE_PATH + (f"?{query}" if query else "")
            return Response("", status=308, headers={**COMMON_HEADERS, "Location": location})
        if not path.startswith(PAGE_PATH):
            return None
        if request.method not in ("GET", "HEAD"):
            return _text(405, "method not allowed: the chat page only answers GET",
                         Allow="GET, HEAD")
        name = path[len(PAGE_PATH):] or INDEX
        file = static_files().get(name)  # "../x", "a/b" or "%2e%2e" never match a name
        if file is None:
            return _text(404, f"not found: {path}")
        return Response(file.read_bytes(), status=200, headers={
            **COMMON_HEADERS, "Content-Type": CONTENT_TYPES[file.suffix]})
