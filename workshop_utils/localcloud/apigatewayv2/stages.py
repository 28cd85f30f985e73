"""What a deployed WebSocket stage serves, as plain immutable values (stage snapshots).

:mod:`.models` builds these (a snapshot per deployment, or the live API for AutoDeploy
stages); the gateway reads them on every connect and message, never moto's objects. Immutable,
so the gateway's loop and werkzeug's request threads may share them without a lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IntegrationView:
    integration_id: str
    integration_type: str  # AWS_PROXY, AWS, MOCK, HTTP_PROXY, ...
    integration_uri: str | None
    # For a Lambda integration, the function ARN inside
    # arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations
    function_arn: str | None
    timeout_ms: int = 29000
    # Why this integration cannot run on this stage (a stage variable its URI names is not
    # set); the gateway answers it as an integration that cannot be invoked.
    configuration_error: str | None = None


@dataclass(frozen=True)
class AuthorizerView:
    """A Lambda REQUEST authorizer as a deployment captured it (only ``$connect`` has one)."""

    authorizer_id: str
    name: str
    # The function ARN inside AuthorizerUri (as for an integration); None when the URI is not
    # a Lambda function URI (the handshake then fails as a configuration error).
    function_arn: str | None
    identity_sources: tuple[str, ...] = ()  # route.request.header.X, ...querystring.X, ...
    credentials_arn: str | None = None  # AuthorizerCredentialsArn: a role API Gateway assumes


@dataclass(frozen=True)
class RouteView:
    route_id: str
    route_key: str
    integration: IntegrationView | None  # None: no target, or a target that does not exist
    route_response_selection_expression: str | None = None
    has_default_route_response: bool = False  # a route response with RouteResponseKey $default
    authorization_type: str = "NONE"  # NONE or CUSTOM (AWS_IAM is refused at create_route)
    # CUSTOM: the route's authorizer; None when its AuthorizerId names none (a misconfiguration
    # the control plane refuses, kept so that the handshake fails closed, never open).
    authorizer: AuthorizerView | None = None

    @property
    def two_way(self) -> bool:
        """The integration's body is sent back to the client only for a two-way route."""
        return self.route_response_selection_expression == "$default" and (
            self.has_default_route_response
        )


@dataclass(frozen=True)
class StageView:
    api_id: str
    api_name: str
    stage_name: str
    route_selection_expression: str
    routes: Mapping[str, RouteView]  # by route key
    deployment_id: str | None  # None for an AutoDeploy stage serving the live API
    access_log_destination_arn: str | None = None
    access_log_format: str | None = None
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    # True: the stage serves the API as it is now (deployment_id is then None).
    auto_deploy: bool = False
    # The stage's DefaultRouteSettings and RouteSettings (by route key), in the botocore
    # member names: DataTraceEnabled, DetailedMetricsEnabled, LoggingLevel,
    # ThrottlingBurstLimit, ThrottlingRateLimit.
    default_route_settings: Mapping[str, Any] = field(default_factory=dict)
    route_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # True when the stage or one of its routes has LoggingLevel ERROR or INFO: while it is
    # False, an event's execution logging costs the gateway this one attribute read.
    execution_logging: bool = False
