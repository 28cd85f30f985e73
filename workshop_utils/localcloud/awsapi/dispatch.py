"""The AWS API endpoint of the local cloud: moto, plus the extensions moto lacks.

Every request first meets the extensions (apigatewayv2 deployments, ``lambda.invoke`` that runs
real code, the local cloud's own status page); the first one that answers wins, the rest go to
moto unchanged. An extension may also call moto itself (``forward``) and adjust its answer, e.g.
to give a WEBSOCKET API the ``wss://`` endpoint that AWS gives it.

An extension refuses a request by raising an error of its service's ``exceptions.py`` (moto's
exception classes, or subclasses of them): :func:`error_response` turns it into the response
botocore parses into ``client.exceptions.<Code>``, here and nowhere else.
"""

from __future__ import annotations

import io
import logging
import re
import traceback
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from .exceptions import AwsError, InternalError

log = logging.getLogger(__name__)

Forward = Callable[[], Response]
# The SigV4 credential scope: Credential=<key>/<yyyymmdd>/<region>/<service>/aws4_request
_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/(?P<region>[^/,]+)/(?P<service>[^/,]+)/")
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AwsExtension(Protocol):
    def handle(self, request: Request, forward: Forward) -> Response | None:
        """Answer ``request`` (return a Response, or raise an AwsError) or let it pass
        (return None)."""


def credential_scope(request: Request) -> tuple[str | None, str | None]:
    """(region, service) a request is signed for, from its SigV4 credential scope; (None,
    None) when it is not signed that way. Services that share a path (``/account``) are told
    apart by it, and a regional setting goes to the region the caller signed for."""
    match = _SCOPE.search(request.headers.get("Authorization", ""))
    if match is None:
        return None, None
    return match["region"], match["service"]


def error_response(error: AwsError) -> Response:
    """The wire form of an AWS error: its status, its headers (``X-Amzn-ErrorType``, content
    type) and its body (``{"__type": ..., "message": ...}`` for moto's JSON errors)."""
    return Response(error.get_body(), status=error.code, headers=error.get_headers())


class AwsApiApp:
    """WSGI application: extensions first, then moto."""

    def __init__(self, moto_app: WSGIApp, extensions: list[AwsExtension]) -> None:
        self.moto_app = moto_app
        self.extensions = extensions

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        request = Request(environ)
        request.get_data(cache=True)

        def forward() -> Response:
            return self._call_moto(environ, body)

        for extension in self.extensions:
            try:
                response = extension.handle(request, forward)
            except AwsError as error:
                response = error_response(error)
            except Exception:  # a bug in the local cloud must not look like an AWS answer
                log.error("local cloud extension failed:\n%s", traceback.format_exc())
                response = error_response(InternalError())
            if response is not None:
                return response(environ, start_response)
        environ["wsgi.input"] = io.BytesIO(body)
        return self.moto_app(environ, start_response)

    def _call_moto(self, environ: dict[str, Any], body: bytes) -> Response:
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = headers
            return lambda data: None

        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        chunks = self.moto_app(env, start_response)
        try:
            data = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return Response(data, status=captured["status"], headers=captured["headers"])
