"""Lambda code that really runs (placeholder: being built).

Interface the gateway relies on: ``await cloud.runtime.invoke(function, payload)`` returning an
:class:`InvokeResult`, raising :class:`FunctionNotFound` for a function that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from ..awsapp import Forward


class FunctionNotFound(Exception):
    """No such function (or qualifier): what AWS answers with ResourceNotFoundException."""


@dataclass(frozen=True)
class InvokeResult:
    status_code: int  # 200 RequestResponse, 202 Event, 204 DryRun
    payload: bytes
    function_error: str | None  # "Unhandled" when the function failed (error, timeout, crash)
    log_result: str | None  # base64 of the last 4 KB of log, when LogType=Tail
    request_id: str
    executed_version: str = "$LATEST"


class _PassThrough:
    def handle(self, request: Request, forward: Forward) -> Response | None:
        return None


class LambdaRuntime:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def aws_extension(self) -> _PassThrough:
        return _PassThrough()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def invoke(
        self,
        function: str,
        payload: bytes,
        *,
        invocation_type: str = "RequestResponse",
        log_type: str | None = None,
        qualifier: str | None = None,
    ) -> InvokeResult:
        raise FunctionNotFound(function)
