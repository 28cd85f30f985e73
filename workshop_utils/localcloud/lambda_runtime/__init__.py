"""Lambda code that really runs (placeholder: being built)."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from ..awsapp import Forward


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
