"""``GET /_localcloud/chat/[file]``: the chat page and its assets, as an AWS API extension."""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from ..awsapi.dispatch import Forward
from . import CONTENT_TYPES, INDEX, PAGE_PATH, static_files

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
