"""HTTP/1.1 on the wire: request heads in, responses out (just what the gateway needs).

websockets' own HTTP parser refuses requests with a body, and @connections POSTs have one, so
the gateway reads request heads itself: keep-alive, Content-Length bodies, bounded head size.
"""

from __future__ import annotations

import email.utils
import json
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus

MAX_HEAD_BYTES = 16 * 1024
MAX_HEADERS = 100
_TOKEN_BAD = frozenset(b" \t\r\n:")


class HttpError(Exception):
    """A request the gateway cannot read; answered with ``status`` and the TCP connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class HttpRequest:
    method: str
    target: str  # path and query, as sent
    path: str  # before "?", still percent-encoded
    query: str | None
    version: str
    headers: list[tuple[str, str]]  # in order, client casing
    lower: dict[str, str]  # lower-cased name -> last value

    def header(self, name: str) -> str | None:
        return self.lower.get(name)

    @property
    def keep_alive(self) -> bool:
        connection = (self.lower.get("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


def parse_head(head: bytes) -> HttpRequest:
    """Parse a request line and headers (``head`` excludes the blank line)."""
    lines = head.split(b"\r\n")
    request_line = lines[0].split(b" ")
    if len(request_line) != 3:
        raise HttpError(400, "malformed request line")
    method_b, target_b, version_b = request_line
    if version_b not in (b"HTTP/1.1", b"HTTP/1.0") or not method_b.isalpha():
        raise HttpError(400, "unsupported request line")
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431, "too many headers")
    headers: list[tuple[str, str]] = []
    lower: dict[str, str] = {}
    for line in lines[1:]:
        name_b, sep, value_b = line.partition(b":")
        if not sep or not name_b or any(c in _TOKEN_BAD for c in name_b):
            raise HttpError(400, "malformed header line")
        name = name_b.decode("latin-1")
        value = value_b.strip(b" \t").decode("latin-1")
        headers.append((name, value))
        lower[name.lower()] = value
    try:
        target = target_b.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(400, "non-ASCII request target") from None
    path, question, query = target.partition("?")
    return HttpRequest(method_b.decode("ascii"), target, path, query if question else None,
                       version_b.decode("ascii"), headers, lower)


def content_length(request: HttpRequest) -> int:
    if "transfer-encoding" in request.lower:
        raise HttpError(411, "chunked request bodies are not supported; send Content-Length")
    value = request.lower.get("content-length")
    if value is None:
        return 0
    if not value.isdigit():
        raise HttpError(400, "invalid Content-Length")
    return int(value)


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header, formatted once per second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


def response(status: int, body: bytes = b"", *, headers: tuple[tuple[str, str], ...] = (),
             content_type: str | None = "application/json", keep_alive: bool = True) -> bytes:
    """A complete HTTP/1.1 response with AWS's usual headers."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    lines = [f"HTTP/1.1 {status} {phrase}", f"Date: {http_date()}"]
    if content_type and (body or status not in (204, 304)):
        lines.append(f"Content-Type: {content_type}")
    if status != 204:
        lines.append(f"Content-Length: {len(body)}")
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    lines.append(f"x-amzn-RequestId: {uuid.uuid4()}")
    lines.extend(f"{name}: {value}" for name, value in headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def error_response(status: int, error_type: str | None, message: str | None,
                   keep_alive: bool = True) -> bytes:
    """An error botocore maps to ``client.exceptions.<error_type>`` (the header decides)."""
    # compact, as AWS writes it: {"message":"Missing Authentication Token"}
    body = (json.dumps({"message": message}, separators=(",", ":")).encode()
            if message is not None else b"{}")
    headers = (("x-amzn-ErrorType", error_type),) if error_type else ()
    return response(status, body, headers=headers, keep_alive=keep_alive)


FORBIDDEN = b'{"message":"Forbidden"}'
