"""What the gateway knows about one client connection, fixed at the upgrade request.

Immutable, so the status page (a werkzeug thread) may read it while the loop runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    connection_id: str
    api_id: str
    stage: str
    region: str
    account_id: str
    connected_at_ms: int  # epoch ms; the same in every event of the connection
    source_ip: str
    user_agent: str | None
    headers: tuple[tuple[str, str], ...]  # the upgrade request's headers, client casing
    query: str | None  # raw query string, None when the URL had none
    # What the $connect route's Lambda authorizer allowed: ``requestContext.authorizer`` of
    # every event of the connection (principalId, the context's keys, integrationLatency),
    # as key/value pairs. None on a route without an authorizer.
    authorizer: tuple[tuple[str, Any], ...] | None = None

    @property
    def domain_name(self) -> str:
        """The AWS form of the host (what Lambda code builds its @connections endpoint from)."""
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"

    def source_arn(self, route_key: str) -> str:
        """The ARN API Gateway presents to Lambda when it invokes an integration of a route."""
        return (f"arn:aws:execute-api:{self.region}:{self.account_id}:"
                f"{self.api_id}/{self.stage}/{route_key}")

    def authorizer_source_arn(self, authorizer_id: str) -> str:
        """The ARN API Gateway presents to Lambda when it invokes an authorizer (the SourceArn
        its ``add_permission`` must match)."""
        return (f"arn:aws:execute-api:{self.region}:{self.account_id}:"
                f"{self.api_id}/authorizers/{authorizer_id}")
