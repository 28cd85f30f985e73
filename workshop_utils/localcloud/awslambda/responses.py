"""Lambda requests answered before moto: ``Invoke`` runs the code; the control plane is as strict
as AWS's and its changes take effect at once.

``lambda.invoke`` (POST /2015-03-31/functions/{FunctionName}/invocations) is answered here, on
werkzeug's request thread; the invocation itself runs on the cloud's loop
(``parts.loop.run``, :mod:`.runtime.runtime`). Status codes, headers and errors are the Invoke
API's.

``lambda.add_permission`` as strict as AWS: a statement id may be used once per policy. moto
appends a second statement with the same ``StatementId``; AWS answers 409
``ResourceConflictException``. The difference matters to learners: the idempotent
``try: add_permission … except ResourceConflictException`` they are taught must behave locally
as it does on AWS, or re-running a cell silently piles up statements.

:class:`LambdaControlExtension`, around moto's own answers:

- CreateFunction, UpdateFunctionConfiguration and UpdateFunctionCode refuse what AWS refuses
  (:mod:`.models`: reserved environment keys, a role Lambda cannot assume, blocked or unknown
  runtimes, bad layer lists), then go to moto;
- DeleteFunction ends the function's execution environments before it answers (a function
  created again under the name starts cold, with its own code);
- RemovePermission gives the policy a new revision, so the gateway's next invocation is
  decided without the statement;
- PublishLayerVersion and GetLayerVersion answer with AWS's members (``Description`` always,
  ``LicenseInfo`` only when given); GetFunction names a reserved concurrency of 0 too.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from ..awsapi.dispatch import Forward
from ..iam.sessions import signing_region
from . import models
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
FUNCTIONS = re.compile(r"^/2015-03-31/functions/?$")
FUNCTION = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/?$")
FUNCTION_PART = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/(?P<part>configuration"
                           r"|code)/?$")
STATEMENT = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/policy/(?P<sid>[^/]+)/?$")
LAYER_VERSIONS = re.compile(r"^/2018-10-31/layers/(?P<layer>[^/]+)/versions(?:/(?P<n>\d+))?/?$")
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


class LambdaControlExtension:
    """Lambda's control plane around moto: AWS's refusals first, its immediate effects after."""

    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts

    def handle(self, request: Request, forward: Forward) -> Response | None:
        path, method = request.path, request.method
        if method == "POST" and FUNCTIONS.match(path):
            return self._create(request)
        if method == "PUT" and (match := FUNCTION_PART.match(path)):
            return self._update(request, match["function"], match["part"])
        if method in ("DELETE", "GET") and (match := FUNCTION.match(path)):
            if method == "GET":
                return self._get(request, match["function"], forward)
            return self._delete(request, match["function"], forward)
        if method == "DELETE" and (match := STATEMENT.match(path)):
            return self._remove_permission(request, match["function"], forward)
        if (match := LAYER_VERSIONS.match(path)) and (
                (method == "POST" and match["n"] is None) or (method == "GET" and match["n"])):
            return self._layer_version(request, forward)
        return None

    def _region(self, request: Request) -> str:
        return signing_region(request.headers.get("Authorization")) or self.parts.settings.region

    def _function(self, request: Request, name: str) -> Any | None:
        try:
            return self.parts.moto_backend("lambda", self._region(request)).get_function(
                name, request.args.get("Qualifier"))
        except Exception:  # not found: moto answers as AWS does
            return None

    def _create(self, request: Request) -> None:
        body = _json_body(request)
        name = str(body.get("FunctionName", "")).rsplit(":", 1)[-1]
        region = self._region(request)
        arn = f"arn:aws:lambda:{region}:{self.parts.settings.account_id}:function:{name}"
        models.check_function_config(self.parts, region, arn, body, creating=True)
        return None  # moto creates it

    def _update(self, request: Request, name: str, part: str) -> None:
        fn = self._function(request, name)
        if fn is None:
            return None
        if part == "code":
            models.check_runtime(fn.run_time, creating=False)
            return None
        models.check_function_config(self.parts, self._region(request), fn.function_arn,
                                     _json_body(request), creating=False,
                                     current_runtime=fn.run_time)
        return None

    def _get(self, request: Request, name: str, forward: Forward) -> Response | None:
        fn = self._function(request, name)
        if fn is None or getattr(fn, "reserved_concurrency", None) != 0:
            return None
        response = forward()  # moto leaves out a reserved concurrency of 0 (falsy)
        if response.status_code == 200:
            body = json.loads(response.get_data())
            body["Concurrency"] = {"ReservedConcurrentExecutions": 0}
            response.set_data(json.dumps(body))
        return response

    def _delete(self, request: Request, name: str, forward: Forward) -> Response:
        fn = self._function(request, name)
        response = forward()
        if fn is not None and response.status_code < 300:
            qualifier = request.args.get("Qualifier")
            self.parts.loop.run(self.parts.runtime.forget(fn.function_name, qualifier))
        return response

    def _remove_permission(self, request: Request, name: str, forward: Forward) -> Response:
        response = forward()
        if response.status_code < 300 and (fn := self._function(request, name)) is not None:
            models.policy_changed(fn)
        return response

    def _layer_version(self, request: Request, forward: Forward) -> Response:
        """AWS's members: ``Description`` always (empty when not given), ``LicenseInfo`` only
        when given (LocalStack's AWS snapshot of publish_layer_version, 2026-01-12); moto
        writes them the other way round."""
        response = forward()
        if response.status_code not in (200, 201):
            return response
        body = json.loads(response.get_data())
        body.setdefault("Description", "")
        if not body.get("LicenseInfo"):
            body.pop("LicenseInfo", None)
        response.set_data(json.dumps(body))
        return response


def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data(cache=True) or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
