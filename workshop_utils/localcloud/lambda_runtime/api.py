"""``lambda.invoke`` over HTTP (POST /2015-03-31/functions/{FunctionName}/invocations).

Answered here, before moto, on werkzeug's request thread; the invocation itself runs on the
cloud's loop (``cloud.loop.run``). Status codes, headers and errors are the Invoke API's.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..awsapp import Forward, aws_error
from .runtime import MAX_PAYLOAD, FunctionNotFound

if TYPE_CHECKING:
    from .runtime import LambdaRuntime

_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


class LambdaInvokeExtension:
    def __init__(self, runtime: LambdaRuntime) -> None:
        self.runtime = runtime

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
            return aws_error(
                400, "InvalidParameterValueException",
                f"1 validation error detected: Value '{invocation_type}' at 'invocationType' "
                "failed to satisfy constraint: Member must satisfy enum value set: "
                "[Event, RequestResponse, DryRun]",
            )
        payload = request.get_data(cache=True)
        limit = MAX_PAYLOAD if invocation_type != "Event" else 1024 * 1024
        if len(payload) > limit:
            return aws_error(
                413, "RequestTooLargeException",
                f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            )
        if not payload.strip():
            payload = b"{}"
        else:
            try:
                json.loads(payload)
            except (ValueError, UnicodeDecodeError) as exc:
                return aws_error(
                    400, "InvalidRequestContentException",
                    "Could not parse request body into json: Could not parse payload into "
                    f"json: {exc}",
                )
        client_context = _client_context(request.headers.get("X-Amz-Client-Context"))
        try:
            result = self.runtime.cloud.loop.run(self.runtime.invoke(
                name, payload, invocation_type=invocation_type, log_type=log_type,
                qualifier=qualifier, client_context=client_context,
            ))
        except FunctionNotFound as exc:
            return aws_error(404, "ResourceNotFoundException", str(exc))
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
