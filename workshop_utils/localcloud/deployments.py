"""apigatewayv2 deployments and the WEBSOCKET fixes moto lacks (placeholder: being built).

Interface the gateway relies on:
- ``DeploymentStore(cloud).stage_view(api_id, stage) -> StageView | None``: what a stage serves.
- ``ApiGatewayV2Extension(cloud).handle(request, forward)``: the control-plane additions.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from .awsapp import Forward


class DeploymentStore:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def stage_view(self, api_id: str, stage: str) -> Any:
        return None


class ApiGatewayV2Extension:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def handle(self, request: Request, forward: Forward) -> Response | None:
        return None
