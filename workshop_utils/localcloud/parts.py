"""What every part of a running local cloud can reach: settings, the loop, the other parts.

One :class:`CloudParts` is made per cloud process (by :mod:`.cloudserver`) and handed to each
part (deployments, Lambda runtime, gateway, IAM, logs), so a part finds the others without
globals. Not to be confused with :class:`~.tempcloud.LocalCloud`, the client-side handle of a
whole cloud process for tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import moto_internals
from .eventloop import CloudLoop
from .iam.identity_policies import IdentityPolicies
from .iam.sessions import RoleSessions
from .logs.writer import CloudWatchLogs
from .settings import CloudSettings

if TYPE_CHECKING:
    from .apigatewayv2.models import DeploymentStore
    from .awslambda.runtime.runtime import LambdaRuntime
    from .gateway.gateway import Gateway


@dataclass
class CloudParts:
    settings: CloudSettings
    loop: CloudLoop = field(default_factory=CloudLoop)
    logs: CloudWatchLogs = field(init=False)
    iam_sessions: RoleSessions = field(init=False)
    identity_policies: IdentityPolicies = field(init=False)
    deployments: DeploymentStore = field(init=False)
    runtime: LambdaRuntime = field(init=False)
    gateway: Gateway = field(init=False)

    def __post_init__(self) -> None:
        self.logs = CloudWatchLogs(self.settings.account_id, self.settings.region)
        self.iam_sessions = RoleSessions()
        self.identity_policies = IdentityPolicies(self)

    def moto_backend(self, service: str, region: str | None = None) -> Any:
        """moto's in-process backend of ``service`` in this cloud's account."""
        return moto_internals.backend(service, self.settings.account_id,
                                      region or self.settings.region)
