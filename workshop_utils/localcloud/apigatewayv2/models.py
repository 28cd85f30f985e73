"""apigatewayv2's model additions: deployments, the writes moto lacks, what each stage serves.

Interface the gateway relies on:
- ``DeploymentStore(parts).stage_view(api_id, stage) -> StageView | None``: what a stage serves.
- ``DeploymentStore(parts).served_stages() -> list[StageView]``: every stage that serves.

moto 5.2 keeps APIs, routes, integrations and stages but has no deployments, no
``update_stage``, drops a stage's DeploymentId and gives a WEBSOCKET API an https:// endpoint
nothing can open (NOTES-moto.md 1a). The functions below do those writes on moto's own
objects; they run under the store's lock (:mod:`.responses` takes it) and raise
:mod:`.exceptions`.

Where the state lives: a deployment is an immutable snapshot of what the API served when it
was made. Deployments hang off moto's own ``Api`` object and a stage's DeploymentId off moto's
``Stage`` object (:mod:`..moto_internals`), so ``delete_api``, ``delete_stage`` and
``/moto-api/reset`` forget them with the objects they belong to.

Threads: writes run on werkzeug request threads, ``stage_view`` on the asyncio loop (on every
connect and message). Every apigatewayv2 write runs under one lock and then drops the cache of
views; ``stage_view`` reads the cache without the lock (the dict is replaced, never mutated)
and only takes the lock to build a view it does not have.
"""

from __future__ import annotations

import re
import string
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import moto_internals
from ..moto_internals import deployments_of, set_stage_deployment_id, stage_deployment_id
from .exceptions import (
    BadRequestException,
    ConflictException,
    DeploymentNotFound,
    IntegrationNotFound,
    StageNotFound,
)
from .stages import AuthorizerView, IntegrationView, RouteView, StageView

if TYPE_CHECKING:
    from ..parts import CloudParts

# arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations
LAMBDA_URI = re.compile(
    r"^arn:aws[\w-]*:apigateway:[^:]+:lambda:path/[^/]+/functions/(?P<arn>.+)/invocations$"
)

DEPLOYMENT_ID_CHARS = string.ascii_lowercase + string.digits
DEPLOYMENT_ID_LENGTH = 6  # AWS: e.g. "of9zuj" (hashicorp/terraform-provider-aws#36078)
DEFAULT_TIMEOUT_MS = 29000  # WebSocket integration timeout: 50 ms to 29 s, default 29 s
LOGGING_LEVELS_ON = ("ERROR", "INFO")  # botocore's LoggingLevel enum: ERROR | INFO | OFF
AUTO_DEPLOY_DESCRIPTION = "Automatic deployment triggered by changes to the Api configuration"


# --- what a deployment keeps --------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """What an API serves: its route selection expression and routes by key."""

    route_selection_expression: str
    routes: MappingProxyType[str, RouteView]


@dataclass
class Deployment:
    deployment_id: str
    created: datetime
    snapshot: Snapshot
    description: str | None = None
    auto_deployed: bool = False

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "autoDeployed": self.auto_deployed,
            "createdDate": _iso(self.created),
            "deploymentId": self.deployment_id,
            "deploymentStatus": "DEPLOYED",
        }
        if self.description is not None:
            body["description"] = self.description
        return body


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new_deployment_id(taken: dict[str, Deployment]) -> str:
    while True:  # from moto's seeded generator: ids repeat from run to run
        candidate = moto_internals.random_id(DEPLOYMENT_ID_CHARS, DEPLOYMENT_ID_LENGTH)
        if candidate not in taken:
            return candidate


def function_arn_of(uri: str | None) -> str | None:
    if not uri:
        return None
    match = LAMBDA_URI.match(uri)
    return match.group("arn") if match else None


def integration_id_of(target: str | None) -> str | None:
    if target and target.startswith("integrations/"):
        return target.split("/", 1)[1]
    return None


def _integration_view(api: Any, target: str | None) -> IntegrationView | None:
    integration = api.integrations.get(integration_id_of(target) or "")
    if integration is None:
        return None
    return IntegrationView(
        integration_id=integration.id,
        integration_type=integration.integration_type,
        integration_uri=integration.integration_uri,
        function_arn=function_arn_of(integration.integration_uri),
        timeout_ms=int(integration.timeout_in_millis or DEFAULT_TIMEOUT_MS),
    )


STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")


def _on_stage(integration: IntegrationView, stage_name: str,
              variables: Mapping[str, str]) -> IntegrationView:
    """``integration`` with the ``${stageVariables.<name>}`` of its URI resolved from the
    stage that serves it (the API Gateway Developer Guide, "Setting up stage variables for a
    WebSocket API": e.g. ``...:function:${stageVariables.fn}/invocations``).

    A variable the stage does not set leaves the integration unable to run (chosen for
    WebSocket; the message is the one observed on REST APIs, with what is missing).
    """
    uri = integration.integration_uri or ""
    names = STAGE_VARIABLE.findall(uri)
    if not names:
        return integration
    missing = [name for name in names if not variables.get(name)]
    if missing:
        return replace(integration, configuration_error=(
            "Execution failed due to configuration error: Invalid stage variable value: "
            f"null. Stage {stage_name!r} has no variable {missing[0]!r}, which the "
            f"integration URI {uri} uses"))
    resolved = STAGE_VARIABLE.sub(lambda m: variables[m.group(1)], uri)
    return replace(integration, integration_uri=resolved,
                   function_arn=function_arn_of(resolved))


def routes_on_stage(routes: Mapping[str, RouteView], stage_name: str,
                    variables: Mapping[str, str]) -> Mapping[str, RouteView]:
    """What ``routes`` (of a deployment, or the live API) invoke on one stage."""
    resolved: dict[str, RouteView] = {}
    for key, route in routes.items():
        integration = route.integration
        if integration is not None and "${stageVariables." in (integration.integration_uri or ""):
            route = replace(route, integration=_on_stage(integration, stage_name, variables))
        resolved[key] = route
    return MappingProxyType(resolved)


def _authorizer_view(api: Any, route: Any) -> AuthorizerView | None:
    """What a deployment keeps of a CUSTOM route's authorizer (None when it names none)."""
    if (route.authorization_type or "NONE") != "CUSTOM":
        return None
    authorizer = api.authorizers.get(route.authorizer_id or "")
    if authorizer is None:
        return None
    return AuthorizerView(
        authorizer_id=authorizer.id,
        name=authorizer.name,
        function_arn=function_arn_of(authorizer.authorizer_uri),
        identity_sources=tuple(authorizer.identity_source or ()),
        credentials_arn=authorizer.auth_creds_arn or None,
    )


def snapshot_of(api: Any) -> Snapshot:
    """What ``api`` (moto's object) serves right now, as immutable values: its routes with
    their integrations and authorizers, so that a change to either is live only once deployed
    (chosen for authorizers: AWS documents it for routes and integrations)."""
    routes: dict[str, RouteView] = {}
    for route in list(api.routes.values()):
        routes[route.route_key] = RouteView(
            route_id=route.route_id,
            route_key=route.route_key,
            integration=_integration_view(api, route.target),
            route_response_selection_expression=route.route_response_selection_expression,
            has_default_route_response=any(
                rr.route_response_key == "$default"
                for rr in list(route.route_responses.values())
            ),
            authorization_type=route.authorization_type or "NONE",
            authorizer=_authorizer_view(api, route),
        )
    return Snapshot(api.route_selection_expression, MappingProxyType(routes))


def _pascal(settings: dict[str, Any] | None) -> dict[str, Any]:
    return {k[:1].upper() + k[1:]: v for k, v in (settings or {}).items()}


# --- the store the gateway reads ----------------------------------------------------------

_MISSING = object()
MAX_CACHED_VIEWS = 4096  # unknown api/stage pairs are cached too; bound what clients can add


class DeploymentStore:
    """What each WEBSOCKET stage serves, cached for the gateway's hot path."""

    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts
        self.lock = threading.RLock()
        self.generation = 0  # bumped by every apigatewayv2 write
        self._views: dict[tuple[str, str], StageView | None] = {}

    def backend(self, region: str | None = None) -> Any:
        return self.parts.moto_backend("apigatewayv2", region)

    def invalidate(self) -> None:
        """Forget every cached view (call with ``lock`` held, after a write)."""
        with self.lock:
            self.generation += 1
            self._views = {}

    def stage_view(self, api_id: str, stage: str) -> StageView | None:
        key = (api_id, stage)
        view = self._views.get(key, _MISSING)  # lock-free: the dict is replaced, not mutated
        if view is not _MISSING:
            return view  # type: ignore[return-value]
        with self.lock:
            view = self._build(api_id, stage)
            views = self._views if len(self._views) < MAX_CACHED_VIEWS else {}
            self._views = {**views, key: view}
        return view

    def served_stages(self) -> list[StageView]:
        with self.lock:
            keys = [
                (api.api_id, name)
                for api in list(self.backend().apis.values())
                if api.protocol_type == "WEBSOCKET"
                for name in list(api.stages)
            ]
        views = [self.stage_view(api_id, name) for api_id, name in sorted(keys)]
        return [view for view in views if view is not None]

    def _build(self, api_id: str, stage_name: str) -> StageView | None:
        api = self.backend().apis.get(api_id)
        if api is None or api.protocol_type != "WEBSOCKET":
            return None
        stage = api.stages.get(stage_name)
        if stage is None:
            return None
        deployment_id: str | None = None
        if stage.auto_deploy:
            snapshot = snapshot_of(api)
            if not snapshot.routes:
                return None
        else:
            deployment_id = stage_deployment_id(stage)
            deployment = deployments_of(api).get(deployment_id or "")
            if deployment is None:
                return None
            snapshot = deployment.snapshot
        access_log = stage.access_log_settings or {}
        variables = MappingProxyType(dict(stage.stage_variables or {}))
        return StageView(
            api_id=api.api_id,
            api_name=api.name,
            stage_name=stage.name,
            route_selection_expression=snapshot.route_selection_expression,
            routes=routes_on_stage(snapshot.routes, stage.name, variables),
            deployment_id=deployment_id,
            access_log_destination_arn=access_log.get("destinationArn"),
            access_log_format=access_log.get("format"),
            stage_variables=variables,
            auto_deploy=bool(stage.auto_deploy),
            default_route_settings=MappingProxyType(_pascal(stage.default_route_settings)),
            route_settings=MappingProxyType({
                key: MappingProxyType(_pascal(value))
                for key, value in (stage.route_settings or {}).items()
            }),
            execution_logging=execution_logging_on(stage),
        )


# --- writes on moto's objects (under the store's lock) -------------------------------------


def deploy(api: Any, description: str | None, *, auto: bool = False) -> Deployment | None:
    """A new deployment of ``api`` as it is now; None when it has no routes."""
    if not api.routes:
        return None
    deployments = deployments_of(api)
    deployment = Deployment(
        deployment_id=_new_deployment_id(deployments),
        created=datetime.now(UTC),
        snapshot=snapshot_of(api),
        description=description,
        auto_deployed=auto,
    )
    deployments[deployment.deployment_id] = deployment
    return deployment


def auto_deploy(api: Any, only: Any = None) -> None:
    """AutoDeploy stages get a new deployment of the API as it is now (as on AWS)."""
    stages = [only] if only is not None else list(api.stages.values())
    for stage in stages:
        if not stage.auto_deploy:
            continue
        deployment = deploy(api, AUTO_DEPLOY_DESCRIPTION, auto=True)
        if deployment is None:
            return
        set_stage_deployment_id(stage, deployment.deployment_id)


def create_deployment(api: Any, stage_name: str | None, description: str | None) -> Deployment:
    """``create_deployment``, pointing ``stage_name`` at it when given."""
    stage = None
    if stage_name:
        stage = api.stages.get(stage_name)
        if stage is None:
            raise StageNotFound()
    deployment = deploy(api, description)
    if deployment is None:
        raise BadRequestException("Unable to deploy API because no routes exist in this API")
    if stage is not None:
        set_stage_deployment_id(stage, deployment.deployment_id)
        stage.updated = datetime.now()
    return deployment


def get_deployment(api: Any, deployment_id: str) -> Deployment:
    deployment = deployments_of(api).get(deployment_id)
    if deployment is None:
        raise DeploymentNotFound(deployment_id)
    return deployment


def update_deployment(api: Any, deployment_id: str, body: dict[str, Any]) -> Deployment:
    deployment = get_deployment(api, deployment_id)
    if "description" in body:
        deployment.description = body["description"]
    return deployment


def delete_deployment(api: Any, deployment_id: str) -> None:
    get_deployment(api, deployment_id)
    if any(stage_deployment_id(s) == deployment_id for s in api.stages.values()):
        raise BadRequestException(
            "Active stages pointing to this deployment must be moved or deleted")
    del deployments_of(api)[deployment_id]


def check_deployment_exists(api: Any, deployment_id: str | None) -> None:
    """A stage may only point at a deployment of its API (moto accepts any id)."""
    if deployment_id and deployment_id not in deployments_of(api):
        raise DeploymentNotFound(deployment_id)


def check_new_stage(api: Any, stage_name: str | None) -> None:
    if stage_name in api.stages:
        raise ConflictException("Stage already exists")


def check_route(api: Any, route_id: str | None, body: dict[str, Any]) -> None:
    """AWS refuses a second route with the same key and a target that does not exist (moto
    accepts both)."""
    route_key = body.get("routeKey")
    if route_key:
        for route in api.routes.values():
            if route.route_key == route_key and route.route_id != route_id:
                raise ConflictException(f"Route with key {route_key} already exists for this API")
    integration_id = integration_id_of(body.get("target"))
    if integration_id is not None and integration_id not in api.integrations:
        raise IntegrationNotFound(integration_id)


def created_stage(api: Any, stage: Any, deployment_id: str | None) -> None:
    """What moto's ``create_stage`` forgets: the DeploymentId, and AutoDeploy's deployment."""
    set_stage_deployment_id(stage, deployment_id)
    if stage.auto_deploy:
        auto_deploy(api, only=stage)


def _levels(default: Any, per_route: Any) -> list[Any]:
    settings = [default] + (list(per_route.values()) if isinstance(per_route, dict) else [])
    return [s.get("loggingLevel") for s in settings if isinstance(s, dict)]


def turns_logging_on(body: dict[str, Any]) -> bool:
    """Whether a create_stage/update_stage body turns access or execution logging on: what
    needs the account's CloudWatch role (:func:`..apigateway.models.require_role`).

    ``DataTraceEnabled`` with ``LoggingLevel`` OFF writes nothing and does not count (chosen:
    AWS's answer to it is unknown); turning logging off never needs the role."""
    access = body.get("accessLogSettings")
    if isinstance(access, dict) and access.get("destinationArn"):
        return True
    levels = _levels(body.get("defaultRouteSettings"), body.get("routeSettings"))
    return any(level in LOGGING_LEVELS_ON for level in levels)


def execution_logging_on(stage: Any) -> bool:
    """Whether the stage, as it is now, writes an execution log for any of its routes."""
    levels = _levels(stage.default_route_settings, stage.route_settings)
    return any(level in LOGGING_LEVELS_ON for level in levels)


def update_stage(api: Any, stage: Any, body: dict[str, Any]) -> None:
    """``update_stage`` (moto 5.2 has none): maps are merged key by key, as on AWS."""
    if "accessLogSettings" in body:
        stage.access_log_settings = body["accessLogSettings"] or None
    if "defaultRouteSettings" in body:
        stage.default_route_settings = {
            **(stage.default_route_settings or {}), **(body["defaultRouteSettings"] or {})
        }
    if "routeSettings" in body:
        route_settings = dict(stage.route_settings or {})
        for key, value in (body["routeSettings"] or {}).items():
            route_settings[key] = {**route_settings.get(key, {}), **(value or {})}
        stage.route_settings = route_settings
    if "stageVariables" in body:
        stage.stage_variables = {
            **(stage.stage_variables or {}), **(body["stageVariables"] or {})
        }
    if "description" in body:
        stage.description = body["description"]
    if "clientCertificateId" in body:
        stage.client_certificate_id = body["clientCertificateId"]
    if body.get("deploymentId"):
        set_stage_deployment_id(stage, body["deploymentId"])
    turned_on = body.get("autoDeploy") is True and not stage.auto_deploy
    if "autoDeploy" in body:
        stage.auto_deploy = body["autoDeploy"]
    stage.updated = datetime.now()
    if turned_on:
        auto_deploy(api, only=stage)


def stage_json(stage: Any) -> dict[str, Any]:
    """moto's stage JSON with the DeploymentId it drops."""
    body = stage.to_json()
    deployment_id = stage_deployment_id(stage)
    if deployment_id:
        body["deploymentId"] = deployment_id
    return body


def use_local_endpoint(api: Any, endpoint: str) -> None:
    """A WEBSOCKET API's ApiEndpoint is one a client here can open (moto gives AWS's host
    with ``https://``; see :func:`..settings.websocket_api_endpoint`)."""
    if api.protocol_type == "WEBSOCKET":
        api.api_endpoint = endpoint


def default_integration_timeout(integration: Any) -> None:
    """moto defaults proxy integrations to 30000 ms; a WebSocket API's maximum is 29000."""
    integration.timeout_in_millis = DEFAULT_TIMEOUT_MS
