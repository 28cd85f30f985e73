"""apigatewayv2 deployments and the WEBSOCKET fixes moto lacks.

Interface the gateway relies on:
- ``DeploymentStore(cloud).stage_view(api_id, stage) -> StageView | None``: what a stage serves.
- ``DeploymentStore(cloud).served_stages() -> list[StageView]``: every stage that serves.
- ``ApiGatewayV2Extension(cloud).handle(request, forward)``: the control-plane additions.

moto 5.2 keeps APIs, routes, integrations and stages but has no deployments (no
``/deployments`` URL), no ``update_stage`` and no ``get_route_responses``, drops a stage's
DeploymentId, defaults a WEBSOCKET API's RouteSelectionExpression and gives it an https://
endpoint (NOTES-moto.md 1a). This extension answers those calls itself and lets the rest
through to moto.

Where the state lives: a deployment is an immutable snapshot of what the API served when it
was made. Deployments hang off moto's own ``Api`` object and a stage's DeploymentId off moto's
``Stage`` object, so ``delete_api``, ``delete_stage`` and ``/moto-api/reset`` forget them with
the objects they belong to, and a seeded moto that reuses an api id never sees stale ones.

Threads: ``handle`` runs on werkzeug request threads, ``stage_view`` on the asyncio loop (on
every connect and message). Every apigatewayv2 write runs under one lock and then drops the
cache of views; ``stage_view`` reads the cache without the lock (the dict is replaced, never
mutated) and only takes the lock to build a view it does not have.
"""

from __future__ import annotations

import json
import re
import string
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from . import moto_internals
from .awsapp import Forward, aws_error
from .views import IntegrationView, RouteView, StageView

# arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations
LAMBDA_URI = re.compile(
    r"^arn:aws[\w-]*:apigateway:[^:]+:lambda:path/[^/]+/functions/(?P<arn>.+)/invocations$"
)
# /v2/apis[/{apiId}[/{collection}[/{id}[/{sub}[/{subId}]]]]]
API_PATH = re.compile(
    r"^/v2/apis(?:/(?P<api>[^/]+)(?:/(?P<coll>[^/]+)(?:/(?P<item>[^/]+)"
    r"(?:/(?P<sub>[^/]+)(?:/(?P<subitem>[^/]+))?)?)?)?)?/?$"
)
CREDENTIAL_REGION = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Collections whose change is a change of what the API serves (AutoDeploy redeploys).
API_CONTENT = frozenset({None, "routes", "integrations", "models", "authorizers", "cors"})

DEPLOYMENT_ID_CHARS = string.ascii_lowercase + string.digits
DEPLOYMENT_ID_LENGTH = 6  # AWS: e.g. "of9zuj" (hashicorp/terraform-provider-aws#36078)
DEFAULT_TIMEOUT_MS = 29000  # WebSocket integration timeout: 50 ms to 29 s, default 29 s
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


deployments_of = moto_internals.deployments_of
stage_deployment_id = moto_internals.stage_deployment_id
_set_stage_deployment = moto_internals.set_stage_deployment_id


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


def snapshot_of(api: Any) -> Snapshot:
    """What ``api`` (moto's object) serves right now, as immutable values."""
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
        )
    return Snapshot(api.route_selection_expression, MappingProxyType(routes))


def _pascal(settings: dict[str, Any] | None) -> dict[str, Any]:
    return {k[:1].upper() + k[1:]: v for k, v in (settings or {}).items()}


# --- the store the gateway reads ----------------------------------------------------------

_MISSING = object()
MAX_CACHED_VIEWS = 4096  # unknown api/stage pairs are cached too; bound what clients can add


class DeploymentStore:
    """What each WEBSOCKET stage serves, cached for the gateway's hot path."""

    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud
        self.lock = threading.RLock()
        self.generation = 0  # bumped by every apigatewayv2 write
        self._views: dict[tuple[str, str], StageView | None] = {}

    def backend(self, region: str | None = None) -> Any:
        return self.cloud.moto_backend("apigatewayv2", region)

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
        return StageView(
            api_id=api.api_id,
            api_name=api.name,
            stage_name=stage.name,
            route_selection_expression=snapshot.route_selection_expression,
            routes=snapshot.routes,
            deployment_id=deployment_id,
            access_log_destination_arn=access_log.get("destinationArn"),
            access_log_format=access_log.get("format"),
            stage_variables=MappingProxyType(dict(stage.stage_variables or {})),
            auto_deploy=bool(stage.auto_deploy),
            default_route_settings=MappingProxyType(_pascal(stage.default_route_settings)),
            route_settings=MappingProxyType({
                key: MappingProxyType(_pascal(value))
                for key, value in (stage.route_settings or {}).items()
            }),
        )


# --- the control-plane extension ----------------------------------------------------------


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _not_found(message: str) -> Response:
    return aws_error(404, "NotFoundException", message)


def _bad_request(message: str) -> Response:
    return aws_error(400, "BadRequestException", message)


def _conflict(message: str) -> Response:
    return aws_error(409, "ConflictException", message)


def _api_not_found(api_id: str) -> Response:
    return _not_found(f"Invalid API identifier specified {api_id}")  # moto's ApiNotFound


def _deployment_not_found(deployment_id: str) -> Response:
    return _not_found(f"Invalid Deployment identifier specified {deployment_id}")


def _stage_not_found() -> Response:
    return _not_found("Invalid stage identifier specified")  # moto's StageNotFound


def _wss(body: dict[str, Any]) -> dict[str, Any]:
    endpoint = body.get("apiEndpoint")
    if body.get("protocolType") == "WEBSOCKET" and isinstance(endpoint, str):
        body["apiEndpoint"] = re.sub(r"^https://", "wss://", endpoint)
    return body


@dataclass
class _Call:
    """One apigatewayv2 request, taken apart."""

    request: Request
    forward: Forward
    method: str
    api_id: str | None
    coll: str | None
    item: str | None
    sub: str | None
    subitem: str | None
    region: str | None
    body: dict[str, Any] = field(default_factory=dict)


class ApiGatewayV2Extension:
    def __init__(self, cloud: Any) -> None:
        self.cloud = cloud

    @property
    def store(self) -> DeploymentStore:
        store = getattr(self.cloud, "deployments", None)
        if store is None:  # a Cloud assembled without one (tests of this extension alone)
            store = self.cloud.deployments = DeploymentStore(self.cloud)
        return store

    def handle(self, request: Request, forward: Forward) -> Response | None:
        path = request.path
        if path == "/moto-api/reset":
            with self.store.lock:
                response = forward()
                self.store.invalidate()
            return response
        match = API_PATH.match(path)
        if match is None:
            return None
        parts = {k: (unquote(v) if v is not None else None) for k, v in match.groupdict().items()}
        auth = request.headers.get("Authorization", "")
        region_match = CREDENTIAL_REGION.search(auth)
        call = _Call(
            request=request,
            forward=forward,
            method=request.method,
            api_id=parts["api"],
            coll=parts["coll"],
            item=parts["item"],
            sub=parts["sub"],
            subitem=parts["subitem"],
            region=region_match.group("region") if region_match else None,
        )
        if call.method in ("POST", "PUT", "PATCH"):
            try:
                raw = request.get_data(cache=True)
                call.body = json.loads(raw) if raw else {}
            except ValueError:
                return _bad_request("Invalid request body")
            if not isinstance(call.body, dict):
                return _bad_request("Invalid request body")
        if call.method not in WRITE_METHODS:
            with self.store.lock:  # moto's dicts are read while no write changes them
                return self._read(call)
        with self.store.lock:
            try:
                return self._write(call)
            finally:
                self.store.invalidate()

    # reads ------------------------------------------------------------------------------

    def _read(self, call: _Call) -> Response | None:
        if call.api_id is None or (call.coll is None and call.method == "GET"):
            return self._fix_api_response(call.forward())
        if call.coll == "deployments":
            api = self._api(call)
            if api is None:
                return _api_not_found(call.api_id)
            deployments = deployments_of(api)
            if call.item is None:
                items = sorted(deployments.values(), key=lambda d: d.created)
                return _json(200, {"items": [d.to_json() for d in items]})
            deployment = deployments.get(call.item)
            if deployment is None or call.sub is not None:
                return _deployment_not_found(call.item)
            return _json(200, deployment.to_json())
        if call.coll == "stages" and call.sub is None:
            api = self._api(call)
            if api is None:
                return _api_not_found(call.api_id)
            if call.item is None:
                return _json(200, {"items": [self._stage_json(s) for s in api.stages.values()]})
            stage = api.stages.get(call.item)
            if stage is None:
                return _stage_not_found()
            return _json(200, self._stage_json(stage))
        if call.coll == "routes" and call.item and call.sub == "routeresponses" and (
            call.subitem is None
        ):
            api = self._api(call)
            if api is None:
                return _api_not_found(call.api_id)
            route = api.routes.get(call.item)
            if route is None:
                return _not_found(f"Invalid Route identifier specified {call.item}")
            items = [rr.to_json() for rr in list(route.route_responses.values())]
            return _json(200, {"items": items})
        return None

    # writes (under the store's lock) ----------------------------------------------------

    def _write(self, call: _Call) -> Response | None:
        if call.api_id is None:
            if call.method == "POST":
                return self._create_api(call)
            return None
        if call.coll == "deployments":
            return self._deployments_write(call)
        if call.coll == "stages":
            return self._stages_write(call)
        if call.coll == "routes" and call.sub is None and call.method in ("POST", "PATCH"):
            refused = self._check_route(call)
            if refused is not None:
                return refused
        if call.coll == "integrations" and call.item is None and call.method == "POST":
            return self._create_integration(call)
        response = call.forward()
        if call.coll is None and call.method in ("PATCH", "PUT"):
            response = self._fix_api_response(response)
        if response.status_code < 300 and call.coll in API_CONTENT | {None}:
            api = self._api(call)
            if api is not None:
                self._auto_deploy(api)
        return response

    def _create_api(self, call: _Call) -> Response:
        body = call.body
        if body.get("protocolType") == "WEBSOCKET" and not body.get("routeSelectionExpression"):
            return _bad_request("RouteSelectionExpression is required for WEBSOCKET protocol")
        response = call.forward()
        if response.status_code < 300:
            created = json.loads(response.get_data())
            api = self.store.backend(call.region).apis.get(created.get("apiId"))
            if api is not None and api.protocol_type == "WEBSOCKET":
                api.api_endpoint = re.sub(r"^https://", "wss://", api.api_endpoint)
            response = _json(201, _wss(created))
        return response

    def _create_integration(self, call: _Call) -> Response:
        response = call.forward()
        api = self._api(call)
        if response.status_code >= 300 or api is None or api.protocol_type != "WEBSOCKET":
            return response
        created = json.loads(response.get_data())
        integration = api.integrations.get(created.get("integrationId"))
        if integration is not None and call.body.get("timeoutInMillis") is None:
            # moto defaults proxy integrations to 30000; a WebSocket API's maximum is 29000
            integration.timeout_in_millis = DEFAULT_TIMEOUT_MS
            created = integration.to_json()
        self._auto_deploy(api)
        return _json(201, created)

    def _check_route(self, call: _Call) -> Response | None:
        api = self._api(call)
        if api is None:
            return None  # moto answers NotFoundException
        route_key = call.body.get("routeKey")
        if route_key:
            for route in api.routes.values():
                if route.route_key == route_key and route.route_id != call.item:
                    return _conflict(f"Route with key {route_key} already exists for this API")
        integration_id = integration_id_of(call.body.get("target"))
        if integration_id is not None and integration_id not in api.integrations:
            return _not_found(f"Invalid Integration identifier specified {integration_id}")
        return None

    def _deployments_write(self, call: _Call) -> Response:
        api = self._api(call)
        if api is None:
            return _api_not_found(call.api_id or "")
        deployments = deployments_of(api)
        if call.item is None:
            if call.method != "POST":
                return aws_error(405, "BadRequestException", "Method not allowed")
            stage = None
            stage_name = call.body.get("stageName")
            if stage_name:
                stage = api.stages.get(stage_name)
                if stage is None:
                    return _stage_not_found()
            deployment = self._deploy(api, call.body.get("description"))
            if deployment is None:
                return _bad_request("Unable to deploy API because no routes exist in this API")
            if stage is not None:
                _set_stage_deployment(stage, deployment.deployment_id)
                stage.updated = datetime.now()
            return _json(201, deployment.to_json())
        deployment = deployments.get(call.item)
        if deployment is None or call.sub is not None:
            return _deployment_not_found(call.item)
        if call.method == "PATCH":
            if "description" in call.body:
                deployment.description = call.body["description"]
            return _json(200, deployment.to_json())
        if call.method == "DELETE":
            if any(stage_deployment_id(s) == call.item for s in api.stages.values()):
                return _bad_request(
                    "Active stages pointing to this deployment must be moved or deleted"
                )
            del deployments[call.item]
            return Response(status=204)
        return aws_error(405, "BadRequestException", "Method not allowed")

    def _stages_write(self, call: _Call) -> Response | None:
        api = self._api(call)
        if api is None:
            return None if call.method == "DELETE" else _api_not_found(call.api_id or "")
        body = call.body
        deployment_id = body.get("deploymentId")
        if deployment_id and deployment_id not in deployments_of(api):
            return _deployment_not_found(deployment_id)
        if call.item is None and call.method == "POST":
            stage_name = body.get("stageName")
            if stage_name in api.stages:
                return _conflict("Stage already exists")
            response = call.forward()
            stage = api.stages.get(stage_name)
            if response.status_code >= 300 or stage is None:
                return response
            _set_stage_deployment(stage, deployment_id)
            if stage.auto_deploy:
                self._auto_deploy(api, only=stage)
            return _json(201, self._stage_json(stage))
        if call.item is not None and call.sub is None and call.method == "PATCH":
            stage = api.stages.get(call.item)
            if stage is None:
                return _stage_not_found()
            return self._update_stage(api, stage, body)
        return call.forward()  # delete_stage: moto forgets the stage and what it served

    def _update_stage(self, api: Any, stage: Any, body: dict[str, Any]) -> Response:
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
            _set_stage_deployment(stage, body["deploymentId"])
        turned_on = body.get("autoDeploy") is True and not stage.auto_deploy
        if "autoDeploy" in body:
            stage.auto_deploy = body["autoDeploy"]
        stage.updated = datetime.now()
        if turned_on:
            self._auto_deploy(api, only=stage)
        return _json(200, self._stage_json(stage))

    # helpers ----------------------------------------------------------------------------

    def _api(self, call: _Call) -> Any:
        return self.store.backend(call.region).apis.get(call.api_id or "")

    def _deploy(
        self, api: Any, description: str | None, *, auto: bool = False
    ) -> Deployment | None:
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

    def _auto_deploy(self, api: Any, only: Any = None) -> None:
        """AutoDeploy stages get a new deployment of the API as it is now (as on AWS)."""
        stages = [only] if only is not None else list(api.stages.values())
        for stage in stages:
            if not stage.auto_deploy:
                continue
            deployment = self._deploy(api, AUTO_DEPLOY_DESCRIPTION, auto=True)
            if deployment is None:
                return
            _set_stage_deployment(stage, deployment.deployment_id)

    @staticmethod
    def _stage_json(stage: Any) -> dict[str, Any]:
        body = stage.to_json()
        deployment_id = stage_deployment_id(stage)
        if deployment_id:
            body["deploymentId"] = deployment_id
        return body

    @staticmethod
    def _fix_api_response(response: Response) -> Response:
        if response.status_code >= 300 or not response.get_data():
            return response
        try:
            body = json.loads(response.get_data())
        except ValueError:
            return response
        if not isinstance(body, dict):
            return response
        if isinstance(body.get("items"), list):
            body["items"] = [_wss(item) for item in body["items"] if isinstance(item, dict)]
        else:
            body = _wss(body)
        return _json(response.status_code, body)
