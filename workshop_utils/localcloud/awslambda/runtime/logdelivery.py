"""An invocation's log into CloudWatch Logs, behind the execution role, as Lambda delivers it.

The group is ``/aws/lambda/<function>``, the stream the execution environment's. On AWS a role
without ``logs:`` permissions runs fine and its logs are silently lost; so here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ...parts import CloudParts
    from .functions import FunctionSpec

log = logging.getLogger(__name__)


class LogDelivery:
    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts

    def deliver(self, spec: FunctionSpec, stream: str, events: list[tuple[int, str]]) -> None:
        """Write the invocation's log, if the execution role may: on AWS a role without
        ``logs:`` permissions runs fine and its logs are silently lost."""
        parts = self.parts
        group = f"/aws/lambda/{spec.name}"
        denied = parts.identity_policies.log_delivery_denial(
            spec.role, spec.name, group, stream, spec.region,
            group_exists=parts.logs.has_group(group, spec.region))
        if denied is not None:
            log.warning("logs of %s not delivered: %s", spec.name, denied)
            return
        parts.logs.put(group, stream, events, region=spec.region)
