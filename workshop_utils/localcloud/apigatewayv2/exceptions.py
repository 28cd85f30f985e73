"""apigatewayv2's errors: moto's own classes where moto has them, subclasses of its base else.

Raised by :mod:`.models` and :mod:`.responses`; :func:`~..awsapi.dispatch.error_response`
writes them (status, ``X-Amzn-ErrorType``, ``{"__type", "message"}``) as moto writes its own
errors for the calls it answers, so one API's errors read alike. AWS's body is
``{"message": ...}`` (botocore's apigatewayv2 model); the extra ``__type`` is moto's, and
botocore, which reads the code from the header, ignores it.
"""

from __future__ import annotations

from moto.apigatewayv2.exceptions import (
    APIGatewayV2Error,
    ApiNotFound,
    AuthorizerNotFound,
    BadRequestException,
    IntegrationNotFound,
    RouteNotFound,
    StageNotFound,
)

__all__ = [
    "ApiNotFound",
    "AuthorizerNotFound",
    "BadRequestException",
    "ConflictException",
    "DeploymentNotFound",
    "IntegrationNotFound",
    "MethodNotAllowed",
    "RouteNotFound",
    "StageNotFound",
]


class DeploymentNotFound(APIGatewayV2Error):
    code = 404

    def __init__(self, deployment_id: str) -> None:
        super().__init__("NotFoundException",
                         f"Invalid Deployment identifier specified {deployment_id}")


class ConflictException(APIGatewayV2Error):
    """A route key or stage name already taken (moto accepts duplicates)."""

    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ConflictException", message)


class MethodNotAllowed(APIGatewayV2Error):
    code = 405

    def __init__(self) -> None:
        super().__init__("BadRequestException", "Method not allowed")
