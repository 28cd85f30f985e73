"""Lambda requests answered before moto: ``Invoke`` runs the code, ``add_permission`` is strict.

``lambda.invoke`` (POST /2015-03-31/functions/{FunctionName}/invocations) is answered here, on
werkzeug's request thread; the invocation itself runs on the cloud's loop
(``parts.loop.run``, :mod:`.runtime.runtime`). Status codes, headers and errors are the Invoke
API's.

``lambda.add_permission`` as strict as AWS: a statement id may be used once per policy. moto
appends a second statement with the same ``StatementId``; AWS answers 409
``ResourceConflictException``. The difference matters to learners: the idempotent
``try: add_permission … except ResourceConflictException`` they are taught must behave locally
as it does on AWS, or re-running a cell silently piles up statements.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..awsapi.dispatch import Forward
from .exceptions import (
    InvalidParameterValue,
    InvalidRequestContentException,
    RequestTooLargeException,
    StatementIdAlreadyExists,
)

if TYPE_CHECKING:
    from ..parts import CloudParts

_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
ADD_PERMISSION = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/policy/?$")
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
MAX_PAYLOAD = 6 * 1024 * 1024  # 6291456: synchronous request and response payload quota
MAX_EVENT_PAYLOAD = 1024 * 1024  # asynchronous (Event) invocations


class LambdaInvokeExtension:
    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts

    def handle(self, request: Request, forward: Forward) -> Response | None:
        if request.method != "POST":
            return None
        match = _PATH.match(request.path)
        if match is None:
            return None
        name = match["name"]
        qualifier = request.args.get("Qualifier") or None
        invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        log_type = request.headers.get("X-Amz-Log-Type") or None
        if invocation_type not in INVOCATION_TYPES:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
                "failed to satisfy constraint: Member must satisfy enum value set: "
                "[Event, RequestResponse, DryRun]"
            )
        payload = request.get_data(cache=True)
        limit = MAX_PAYLOAD if invocation_type != "Event" else MAX_EVENT_PAYLOAD
        if len(payload) > limit:
            raise RequestTooLargeException(limit)
        if not payload.strip():
            payload = b"{}"
        else:
            try:
                json.loads(payload)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InvalidRequestContentException(
                    "Could not parse request body into json: Could not parse payload into "
                    f"json: {exc}"
                ) from None
        client_context = _client_context(request.headers.get("X-Amz-Client-Context"))
        runtime = self.parts.runtime
        # raises FunctionNotFound (404 ResourceNotFoundException) for an unknown function
        result = self.parts.loop.run(runtime.invoke(
            name, payload, invocation_type=invocation_type, log_type=log_type,
            qualifier=qualifier, client_context=client_context,
        ))
        headers: dict[str, Any] = {
            "x-amzn-RequestId": result.request_id,
            "X-Amz-Executed-Version": result.executed_version,
        }
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if result.log_result is not None:
            headers["X-Amz-Log-Result"] = result.log_result
        return Response(result.payload, status=result.status_code, headers=headers,
                        content_type="application/json")


def _client_context(value: str | None) -> dict[str, Any] | None:
    if not value:
        return None
    try:
        decoded = json.loads(base64.b64decode(value))
    except (binascii.Error, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


class AddPermissionExtension:
    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts

    def handle(self, request: Request, forward: Forward) -> Response | None:
        match = ADD_PERMISSION.match(request.path)
        if request.method != "POST" or match is None:
            return None
        try:
            statement_id = json.loads(request.get_data() or b"{}").get("StatementId")
            fn = self.parts.moto_backend("lambda").get_function(
                match["function"], request.args.get("Qualifier"))
        except Exception:  # malformed body or unknown function: moto answers as AWS does
            return None
        statements = getattr(getattr(fn, "policy", None), "statements", None) or []
        if statement_id and any(st.get("Sid") == statement_id for st in statements):
            raise StatementIdAlreadyExists(statement_id)
        return None
