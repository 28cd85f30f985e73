"""apigatewayv2 requests answered before moto: deployments and the WEBSOCKET fixes moto lacks.

``ApiGatewayV2Extension(parts).handle(request, forward)``, an AWS API extension
(:mod:`..awsapi.dispatch`). moto 5.2 has no ``/deployments`` URL, no ``update_stage``, no
``get_route_responses`` and no ``get_authorizers``, defaults a WEBSOCKET API's
RouteSelectionExpression, gives it an https:// endpoint nothing can open and validates no
authorizer or route authorization (NOTES-moto.md 1a; :mod:`.authorizers`). This module takes
each such request apart, as moto's ``urls.py`` and ``responses.py`` would, lets :mod:`.models`
and :mod:`.authorizers` do the work and lets the rest through to moto. Errors are raised
(:mod:`.exceptions`); the dispatcher writes them.

Every request here runs under the store's lock, and every write drops the store's cache of
what stages serve (see :mod:`.models`).

A stage write that turns access or execution logging on needs API Gateway's account-level
CloudWatch role (:mod:`..apigateway.models`), as on AWS; once execution logging is on, the
stage's execution log group exists (:mod:`..logs.stage_delivery`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from ..apigateway.models import require_role
from ..awsapi.dispatch import Forward
from ..logs.stage_delivery import create_execution_log
from ..moto_internals import deployments_of
from ..settings import websocket_api_endpoint
from . import authorizers, models
from .exceptions import (
    ApiNotFound,
    BadRequestException,
    DeploymentNotFound,
    MethodNotAllowed,
    RouteNotFound,
    StageNotFound,
)

if TYPE_CHECKING:
    from ..parts import CloudParts

# /v2/apis[/{apiId}[/{collection}[/{id}[/{sub}[/{subId}]]]]]
API_PATH = re.compile(
    r"^/v2/apis(?:/(?P<api>[^/]+)(?:/(?P<coll>[^/]+)(?:/(?P<item>[^/]+)"
    r"(?:/(?P<sub>[^/]+)(?:/(?P<subitem>[^/]+))?)?)?)?)?/?$"
)
CREDENTIAL_REGION = re.compile(r"Credential=[^/]+/\d{8}/(?P<region>[^/]+)/")
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Collections whose change is a change of what the API serves (AutoDeploy redeploys).
API_CONTENT = frozenset({None, "routes", "integrations", "models", "authorizers", "cors"})


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


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
    """The apigatewayv2 calls moto lacks or gets wrong for WEBSOCKET APIs."""

    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts
        self.store = parts.deployments
        self.settings = parts.settings

    def _endpoint(self, body: dict[str, Any]) -> dict[str, Any]:
        """An API's JSON with the ApiEndpoint of a WEBSOCKET API a client here can open."""
        api_id = body.get("apiId")
        if body.get("protocolType") == "WEBSOCKET" and isinstance(api_id, str):
            body["apiEndpoint"] = websocket_api_endpoint(self.settings, api_id)
        return body

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
        segments = {k: (unquote(v) if v is not None else None)
                    for k, v in match.groupdict().items()}
        auth = request.headers.get("Authorization", "")
        region_match = CREDENTIAL_REGION.search(auth)
        call = _Call(
            request=request,
            forward=forward,
            method=request.method,
            api_id=segments["api"],
            coll=segments["coll"],
            item=segments["item"],
            sub=segments["sub"],
            subitem=segments["subitem"],
            region=region_match.group("region") if region_match else None,
        )
        if call.method in ("POST", "PUT", "PATCH"):
            try:
                raw = request.get_data(cache=True)
                call.body = json.loads(raw) if raw else {}
            except ValueError:
                raise BadRequestException("Invalid request body") from None
            if not isinstance(call.body, dict):
                raise BadRequestException("Invalid request body")
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
            if call.item is None:
                items = sorted(deployments_of(api).values(), key=lambda d: d.created)
                return _json(200, {"items": [d.to_json() for d in items]})
            if call.sub is not None:
                raise DeploymentNotFound(call.item)
            return _json(200, models.get_deployment(api, call.item).to_json())
        if call.coll == "stages" and call.sub is None:
            api = self._api(call)
            if call.item is None:
                return _json(200, {"items": [models.stage_json(s) for s in api.stages.values()]})
            stage = api.stages.get(call.item)
            if stage is None:
                raise StageNotFound()
            return _json(200, models.stage_json(stage))
        if call.coll == "authorizers" and call.sub is None:
            api = self._api(call)
            if call.item is None:  # get_authorizers: moto 5.2 has none
                items = [authorizers.authorizer_json(a) for a in list(api.authorizers.values())]
                return _json(200, {"items": items})
            return _json(200, authorizers.authorizer_json(
                authorizers.get_authorizer(api, call.item)))
        if call.coll == "routes" and call.item and call.sub == "routeresponses" and (
            call.subitem is None
        ):
            api = self._api(call)
            route = api.routes.get(call.item)
            if route is None:
                raise RouteNotFound(call.item)
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
        if call.coll == "authorizers" and call.sub is None:
            return self._authorizers_write(call)
        if call.coll == "routes" and call.sub is None and call.method in ("POST", "PATCH"):
            return self._routes_write(call)
        if call.coll == "integrations" and call.item is None and call.method == "POST":
            return self._create_integration(call)
        response = call.forward()
        if call.coll is None and call.method in ("PATCH", "PUT"):
            response = self._fix_api_response(response)
        if response.status_code < 300 and call.coll in API_CONTENT | {None}:
            api = self._api_or_none(call)
            if api is not None:
                models.auto_deploy(api)
        return response

    def _create_api(self, call: _Call) -> Response:
        body = call.body
        if body.get("protocolType") == "WEBSOCKET" and not body.get("routeSelectionExpression"):
            raise BadRequestException(
                "RouteSelectionExpression is required for WEBSOCKET protocol")
        response = call.forward()
        if response.status_code < 300:
            created = self._endpoint(json.loads(response.get_data()))
            api = self.store.backend(call.region).apis.get(created.get("apiId"))
            if api is not None:
                models.use_local_endpoint(api, created["apiEndpoint"])
            response = _json(201, created)
        return response

    def _routes_write(self, call: _Call) -> Response:
        """create_route / update_route: AWS's checks first (moto makes none), then moto."""
        api = self._api_or_none(call)
        route = api.routes.get(call.item) if api is not None and call.item else None
        if api is None or (call.item and route is None):
            return call.forward()  # moto answers NotFoundException
        models.check_route(api, call.item, call.body)
        authorizers.check_route_authorization(api, route, call.body)
        response = call.forward()
        if response.status_code >= 300:
            return response
        written = json.loads(response.get_data())
        route = api.routes.get(written.get("routeId"))
        if route is not None and api.protocol_type == "WEBSOCKET":
            authorizers.settle_route_authorization(route)
            written = route.to_json()
        models.auto_deploy(api)
        return _json(response.status_code, written)

    def _authorizers_write(self, call: _Call) -> Response:
        """create / update / delete_authorizer with AWS's checks (:mod:`.authorizers`)."""
        api = self._api(call)
        if call.item is None:
            if call.method != "POST":
                raise MethodNotAllowed()
            authorizers.check_authorizer(api, call.body)
        elif call.method == "PATCH":
            authorizers.check_authorizer(api, call.body, call.item)
        elif call.method == "DELETE":
            authorizers.check_authorizer_unused(api, call.item)
        else:
            authorizers.get_authorizer(api, call.item)
            raise MethodNotAllowed()
        response = call.forward()
        if response.status_code >= 300:
            return response
        models.auto_deploy(api)
        if call.method == "DELETE":
            return Response(status=204)
        written = json.loads(response.get_data())
        authorizer = api.authorizers.get(written.get("authorizerId"))
        if authorizer is not None:
            written = authorizers.authorizer_json(authorizer)
        return _json(201 if call.item is None else 200, written)

    def _create_integration(self, call: _Call) -> Response:
        response = call.forward()
        api = self._api_or_none(call)
        if response.status_code >= 300 or api is None or api.protocol_type != "WEBSOCKET":
            return response
        created = json.loads(response.get_data())
        integration = api.integrations.get(created.get("integrationId"))
        if integration is not None and call.body.get("timeoutInMillis") is None:
            models.default_integration_timeout(integration)
            created = integration.to_json()
        models.auto_deploy(api)
        return _json(201, created)

    def _deployments_write(self, call: _Call) -> Response:
        api = self._api(call)
        if call.item is None:
            if call.method != "POST":
                raise MethodNotAllowed()
            deployment = models.create_deployment(api, call.body.get("stageName"),
                                                  call.body.get("description"))
            return _json(201, deployment.to_json())
        if call.sub is not None:
            raise DeploymentNotFound(call.item)
        if call.method == "PATCH":
            return _json(200, models.update_deployment(api, call.item, call.body).to_json())
        if call.method == "DELETE":
            models.delete_deployment(api, call.item)
            return Response(status=204)
        models.get_deployment(api, call.item)
        raise MethodNotAllowed()

    def _stages_write(self, call: _Call) -> Response | None:
        api = self._api_or_none(call)
        if api is None:
            if call.method == "DELETE":
                return None
            raise ApiNotFound(call.api_id or "")
        body = call.body
        deployment_id = body.get("deploymentId")
        models.check_deployment_exists(api, deployment_id)
        if call.item is None and call.method == "POST":
            stage_name = body.get("stageName")
            models.check_new_stage(api, stage_name)
            if models.turns_logging_on(body):
                require_role(self.parts, call.region)
            response = call.forward()
            stage = api.stages.get(stage_name)
            if response.status_code >= 300 or stage is None:
                return response
            models.created_stage(api, stage, deployment_id)
            self._execution_log_group(call, api, stage)
            return _json(201, models.stage_json(stage))
        if call.item is not None and call.sub is None and call.method == "PATCH":
            stage = api.stages.get(call.item)
            if stage is None:
                raise StageNotFound()
            if models.turns_logging_on(body):
                require_role(self.parts, call.region)
            models.update_stage(api, stage, body)
            self._execution_log_group(call, api, stage)
            return _json(200, models.stage_json(stage))
        return call.forward()  # delete_stage: moto forgets the stage and what it served

    # helpers ----------------------------------------------------------------------------

    def _execution_log_group(self, call: _Call, api: Any, stage: Any) -> None:
        """API Gateway makes the stage's execution log group when logging is turned on."""
        if api.protocol_type == "WEBSOCKET" and models.execution_logging_on(stage):
            create_execution_log(self.parts, api.api_id, stage.name,
                                 call.region or self.parts.settings.region)

    def _api_or_none(self, call: _Call) -> Any:
        return self.store.backend(call.region).apis.get(call.api_id or "")

    def _api(self, call: _Call) -> Any:
        api = self._api_or_none(call)
        if api is None:
            raise ApiNotFound(call.api_id or "")
        return api

    def _fix_api_response(self, response: Response) -> Response:
        if response.status_code >= 300 or not response.get_data():
            return response
        try:
            body = json.loads(response.get_data())
        except ValueError:
            return response
        if not isinstance(body, dict):
            return response
        if isinstance(body.get("items"), list):
            body["items"] = [self._endpoint(item) for item in body["items"]
                             if isinstance(item, dict)]
        else:
            body = self._endpoint(body)
        return _json(response.status_code, body)
