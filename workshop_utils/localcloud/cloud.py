"""What every part of the local cloud can reach: settings, the loop, logs, moto's backends.

One :class:`Cloud` is made per local cloud process and handed to its parts (deployments,
Lambda runtime, gateway), so each part finds the others without globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import moto_internals
from .iam import RoleSessions
from .logs import CloudWatchLogs
from .loop import CloudLoop
from .settings import CloudSettings

if TYPE_CHECKING:
    from .deployments import DeploymentStore
    from .gateway import Gateway
    from .lambda_runtime import LambdaRuntime


@dataclass
class Cloud:
    settings: CloudSettings
    loop: CloudLoop = field(default_factory=CloudLoop)
    logs: CloudWatchLogs = field(init=False)
    iam_sessions: RoleSessions = field(init=False)
    deployments: DeploymentStore = field(init=False)
    runtime: LambdaRuntime = field(init=False)
    gateway: Gateway = field(init=False)

    def __post_init__(self) -> None:
        self.logs = CloudWatchLogs(self.settings.account_id, self.settings.region)
        self.iam_sessions = RoleSessions(self)

    def moto_backend(self, service: str, region: str | None = None) -> Any:
        """moto's in-process backend of ``service`` (the server shares it with this process)."""
        return moto_internals.backend(service, self.settings.account_id,
                                      region or self.settings.region)

    @property
    def aws_endpoint(self) -> str:
        return f"http://{self.settings.host}:{self.settings.aws_port}"

    @property
    def ws_endpoint(self) -> str:
        return f"ws://{self.settings.host}:{self.settings.ws_port}"

    @property
    def http_gateway_endpoint(self) -> str:
        return f"http://{self.settings.host}:{self.settings.ws_port}"
