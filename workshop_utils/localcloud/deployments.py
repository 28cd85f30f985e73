"""apigatewayv2 deployments and the WEBSOCKET fixes moto lacks (placeholder: being built).

Interface the gateway relies on:
- ``DeploymentStore(cloud).stage_view(api_id, stage) -> StageView | None``: what a stage serves.
- ``DeploymentStore(cloud).served_stages() -> list[StageView]``: every stage that serves.
- ``ApiGatewayV2Extension(cloud).handle(request, forward)``: the control-plane additions.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from .awsapp import Forward
from .views import StageView


class DeploymentStore:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def stage_view(self, api_id: str, stage: str) -> StageView | None:
        return None

    def served_stages(self) -> list[StageView]:
        return []


class ApiGatewayV2Extension:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    def handle(self, request: Request, forward: Forward) -> Response | None:
        return None
