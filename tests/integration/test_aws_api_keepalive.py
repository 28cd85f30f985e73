"""The AWS API port keeps connections alive, and consuming request bodies exactly keeps it safe.

werkzeug's development server closed every connection, so each boto3 call paid a new TCP
connection and a server thread (``workshop_utils/localcloud/keepalive.py``).
"""

from __future__ import annotations

import io
import json
import logging
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud
from workshop_utils.localcloud.awsapi.connection import KeepAliveRequestHandler

TIMEOUT_S = 5 * SECOND


def echo_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Answers with what it read; ``/ignore`` reads nothing, ``/close`` asks to close,
    ``/crash`` raises."""
    path = environ["PATH_INFO"]
    if path == "/crash":
        raise RuntimeError("boom")
    body = b"" if path == "/ignore" else environ["wsgi.input"].read()
    headers = [("Content-Type", "application/json")]
    if path == "/close":
        headers.append(("Connection", "close"))
    start_response("200 OK", headers)
    return [json.dumps({"path": path, "body": body.decode()}).encode()]


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    """echo_app behind the keep-alive request handler, on a free port of 127.0.0.1."""
    httpd = make_server("127.0.0.1", 0, echo_app, threaded=True,
                        request_handler=KeepAliveRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", httpd.server_port
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(TIMEOUT_S)


class RawConnection:
    """One TCP connection; requests written by hand, responses read by Content-Length."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=TIMEOUT_S)
        self.reader = self.sock.makefile("rb")

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        status = self.reader.readline()
        if not status:
            raise ConnectionError("closed by the server")
        headers: dict[str, str] = {}
        while (line := self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = self.reader.read(int(headers.get("content-length", "0")))
        return int(status.split()[1]), headers, body

    def closed_by_server(self) -> bool:
        """True once the server has closed its side (the next read is end of file)."""
        return self.reader.read(1) == b""

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


def post(path: str, body: bytes, extra: str = "") -> bytes:
    """A POST of ``body`` with its Content-Length, and ``extra`` header lines."""
    return (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            ).encode() + body


def test_requests_share_one_connection_and_bodies_stay_apart(server) -> None:
    """Five requests on one connection each get their own body back, and the server never
    asks to close."""
    conn = RawConnection(server)
    try:
        for i in range(5):
            conn.send(post("/echo", f"body {i}".encode()))
            status, headers, body = conn.response()
            assert status == 200 and json.loads(body) == {"path": "/echo", "body": f"body {i}"}
            assert headers.get("connection") != "close"
    finally:
        conn.close()


def test_a_body_the_application_did_not_read_is_drained(server) -> None:
    """An app that answers without reading (an early refusal) must not leave the body to be
    read as the next request line."""
    conn = RawConnection(server)
    try:
        conn.send(post("/ignore", b'{"unread": "x"}' * 100))
        assert conn.response()[0] == 200
        conn.send(post("/echo", b"next"))
        assert json.loads(conn.response()[2])["body"] == "next"
    finally:
        conn.close()


def test_pipelined_requests_are_answered_in_order(server) -> None:
    """Two requests sent at once (the first one's body unread by the app) get their two
    answers, in order."""
    conn = RawConnection(server)
    try:
        conn.send(post("/ignore", b"a" * 50) + post("/echo", b"second"))
        assert json.loads(conn.response()[2])["path"] == "/ignore"
        assert json.loads(conn.response()[2]) == {"path": "/echo", "body": "second"}
    finally:
        conn.close()


def test_a_chunked_body_is_read_whole_and_the_connection_reused(server) -> None:
    """A chunked body reaches the app whole, and the next request on that connection is read
    from after its last chunk."""
    conn = RawConnection(server)
    try:
        conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        assert json.loads(conn.response()[2])["body"] == "hello world"
        conn.send(post("/echo", b"again"))
        assert json.loads(conn.response()[2])["body"] == "again"
    finally:
        conn.close()


@pytest.mark.parametrize("request_bytes", [
    post("/echo", b"x", "Connection: close\r\n"),           # the client asks
    post("/close", b"x"),                                    # the application asks
    b"GET /echo HTTP/1.0\r\nHost: x\r\n\r\n",                 # HTTP/1.0 has no keep-alive
])
def test_the_connection_closes_when_asked(server, request_bytes: bytes) -> None:
    """The server closes the connection after answering when the client or the application
    asks for it, or the request is HTTP/1.0."""
    conn = RawConnection(server)
    try:
        conn.send(request_bytes)
        status, headers, _ = conn.response()
        assert status == 200
        assert conn.closed_by_server()
    finally:
        conn.close()


def test_a_crashing_application_gets_a_500_and_a_fresh_connection(server) -> None:
    """An application that raises answers 500 with Connection: close, and a new connection
    is served normally."""
    conn = RawConnection(server)
    try:
        conn.send(post("/crash", b"x"))
        status, headers, body = conn.response()
        assert (status, headers["connection"]) == (500, "close")
        assert conn.closed_by_server()
    finally:
        conn.close()
    conn = RawConnection(server)
    try:
        conn.send(post("/echo", b"fine"))
        assert json.loads(conn.response()[2])["body"] == "fine"
    finally:
        conn.close()


def test_boto3_reuses_one_connection_for_many_calls(cloud: LocalCloud) -> None:
    """What the change is for: a notebook's or a Lambda function's boto3 client keeps its
    connection, as it does against AWS (urllib3 logs each new one)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    saved = urllib3_log.level
    urllib3_log.addHandler(handler)
    urllib3_log.setLevel(logging.DEBUG)
    try:
        ddb = cloud.client("dynamodb")
        for _ in range(20):
            ddb.list_tables()
    finally:
        urllib3_log.removeHandler(handler)
        urllib3_log.setLevel(saved)
    log = stream.getvalue()
    assert log.count("Starting new HTTP connection") == 1, log
    assert "Resetting dropped connection" not in log, log


def test_expect_100_continue_is_answered_once(server) -> None:
    """What botocore does for large uploads: wait for "100 Continue", then send the body."""
    conn = RawConnection(server)
    try:
        conn.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert conn.reader.readline().startswith(b"HTTP/1.1 100")
        assert conn.reader.readline() == b"\r\n"
        conn.send(b"body")
        status, _, body = conn.response()
        assert (status, json.loads(body)["body"]) == (200, "body")
        conn.send(post("/echo", b"next"))  # nothing left over on the connection
        assert json.loads(conn.response()[2])["body"] == "next"
    finally:
        conn.close()
