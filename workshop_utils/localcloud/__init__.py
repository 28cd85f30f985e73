"""The embedded local cloud: moto + apigatewayv2 deployments + a Lambda runtime that runs
real code + the API Gateway WebSocket data plane, in one background process on 127.0.0.1."""

from .process import LocalCloud, LocalCloudError, start, status, stop
from .settings import CloudSettings, GatewayLimits

__all__ = [
    "CloudSettings",
    "GatewayLimits",
    "LocalCloud",
    "LocalCloudError",
    "start",
    "status",
    "stop",
]
