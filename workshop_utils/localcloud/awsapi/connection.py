"""One HTTP/1.1 connection of the AWS API port, kept alive request after request.

werkzeug's development server answers every request with ``Connection: close`` (its
``run_wsgi`` hard-codes it, then lingers 10 ms draining the socket). So every boto3 call to the
local cloud paid a new TCP connection and a new server thread: from a notebook, and from every
Lambda function's DynamoDB calls on the broadcast's critical path. boto3 (urllib3) keeps its
connections alive, as it does against AWS; this request handler lets it.

One connection is served by one thread, request after request. Keep-alive is safe only if each
request's body is consumed exactly, so the application reads from a stream bounded by
``Content-Length`` (or de-chunked), and whatever it left unread is drained before the next
request line is read. The response body is buffered and always carries a length; moto's
responses are built in memory anyway.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import DechunkedInput, WSGIRequestHandler

log = logging.getLogger(__name__)

# An idle keep-alive connection is closed after this long; urllib3 notices and reconnects.
IDLE_TIMEOUT_S = 75.0
# Bodies left unread by the application are drained up to this size; beyond it the connection
# is closed instead (reading a huge unwanted upload to keep a connection is not worth it).
MAX_DRAIN_BYTES = 8 * 1024 * 1024

NO_BODY_STATUSES = frozenset({204, 304})


class BoundedInput(io.RawIOBase):
    """``wsgi.input`` that ends where the request body ends (``Content-Length`` bytes)."""

    def __init__(self, rfile: io.BufferedIOBase, length: int) -> None:
        self._rfile = rfile
        self.remaining = length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.remaining <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self.remaining)]
        count = self._rfile.readinto(view)
        if not count:  # the client went away mid-body
            raise ConnectionResetError("request body ended early")
        self.remaining -= count
        return count


def request_body(rfile: Any, headers: Any) -> tuple[io.BufferedReader, Callable[[], bool]]:
    """The body stream for the application, and a function that drains what it left unread
    (False when the connection cannot be reused)."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        dechunked = DechunkedInput(rfile)

        def drain_chunked() -> bool:
            total = 0
            while chunk := dechunked.read(65536):
                total += len(chunk)
                if total > MAX_DRAIN_BYTES:
                    return False
            return True

        return io.BufferedReader(dechunked), drain_chunked
    try:
        length = max(0, int(headers.get("Content-Length") or 0))
    except ValueError:
        length = 0
    bounded = BoundedInput(rfile, length)

    def drain() -> bool:
        if bounded.remaining > MAX_DRAIN_BYTES:
            return False
        while bounded.remaining > 0:
            if not bounded.read(min(bounded.remaining, 65536)):
                return False
        return True

    return io.BufferedReader(bounded), drain


class KeepAliveRequestHandler(WSGIRequestHandler):
    """werkzeug's request handling (its ``environ``), minus the forced ``Connection: close``.

    Subclass it together with the handler whose ``make_environ`` you want (moto's).
    """

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S
    # A response is one write (head and body together) and goes out at once: with Nagle on,
    # a kept-alive connection waits for the client's delayed ACK, 40 ms a call.
    disable_nagle_algorithm = True

    def log_request(self, *args: Any, **kwargs: Any) -> None:  # no access log
        pass

    def log_error(self, format: str, *args: Any) -> None:
        if "timed out" not in format:  # an idle keep-alive connection closing is no error
            log.warning("aws api: " + format, *args)

    def run_wsgi(self) -> None:
        # "Expect: 100-continue" was answered by http.server's parse_request already (werkzeug
        # answered it a second time).
        environ = self.make_environ()
        body, drain = request_body(self.rfile, self.headers)
        environ["wsgi.input"] = body
        environ["wsgi.input_terminated"] = True
        self.environ = environ
        try:
            status, headers, payload = self._call(environ)
        except (TimeoutError, ConnectionError):
            self.close_connection = True
            return
        except Exception:  # the application failed: answer 500 and start afresh
            log.exception("aws api: error on request %s %s", self.command, self.path)
            status, headers, payload = "500 INTERNAL SERVER ERROR", [
                ("Content-Type", "text/plain; charset=utf-8")], b"Internal Server Error"
            self.close_connection = True
        if not drain():
            self.close_connection = True
        self._respond(status, headers, payload)

    def _call(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            if exc_info and started:
                raise exc_info[1].with_traceback(exc_info[2])
            started[:] = [status, headers]
            return written.append

        written: list[bytes] = []
        result: Iterable[bytes] = self.server.app(environ, start_response)
        try:
            written.extend(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not started:
            raise RuntimeError("the application did not call start_response")
        return started[0], started[1], b"".join(written)

    def _respond(self, status: str, headers: list[tuple[str, str]], payload: bytes) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        names = set()
        for name, value in headers:
            lower = name.lower()
            if lower in ("connection", "transfer-encoding", "keep-alive"):
                if lower == "connection" and value.strip().lower() == "close":
                    self.close_connection = True
                continue  # hop-by-hop: this server decides them
            names.add(lower)
            self.send_header(name, value)
        has_body = self.command != "HEAD" and code >= 200 and code not in NO_BODY_STATUSES
        if "content-length" not in names and has_body:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # end_headers() then a write would be two sends: the body joins http.server's header
        # buffer so that flush_headers() writes head and body at once.
        self._headers_buffer.append(b"\r\n")
        if has_body and payload:
            self._headers_buffer.append(payload)
        self.flush_headers()
