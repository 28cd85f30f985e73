"""apigateway's account requests answered around moto: ``update_account`` checks its role.

``ApiGatewayAccountExtension(parts).handle(request, forward)``, an AWS API extension
(:mod:`..awsapi.dispatch`). ``PATCH /account`` (``update_account``) has its
``cloudwatchRoleArn`` checked as AWS checks it (:mod:`.models`) before moto stores it;
``GET /account`` and the PATCH's answer drop the ``null`` members moto writes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from ..awsapi.dispatch import Forward, credential_scope
from . import models
from .exceptions import BadRequestException

if TYPE_CHECKING:
    from ..parts import CloudParts

ACCOUNT_PATH = "/account"


class ApiGatewayAccountExtension:
    """``get_account`` and ``update_account`` of the v1 apigateway API."""

    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts

    def handle(self, request: Request, forward: Forward) -> Response | None:
        if request.path.rstrip("/") != ACCOUNT_PATH or request.method not in ("GET", "PATCH"):
            return None
        region, service = credential_scope(request)
        if service != "apigateway":
            return None
        if request.method == "PATCH":
            try:
                body = json.loads(request.get_data(cache=True) or b"{}")
            except ValueError:
                raise BadRequestException("Invalid request body") from None
            if not isinstance(body, dict):
                raise BadRequestException("Invalid request body")
            models.check_patch(self.parts, region or self.parts.settings.region,
                               body.get("patchOperations", []))
        response = forward()
        if response.status_code >= 300:
            return response
        try:
            answer = json.loads(response.get_data())
        except ValueError:
            return response
        return Response(json.dumps(models.account_json(answer)), status=response.status_code,
                        mimetype="application/json")
