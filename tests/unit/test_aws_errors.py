"""The local cloud's errors on the wire: what botocore parses, with AWS's status and members.

Every error an extension raises is written in one place, ``awsapi.dispatch.error_response``.
Each case here is parsed by botocore's own parser for the service's protocol, and checked
against botocore's service model (``botocore/data/<service>/*/service-2.json``): the error
code is a shape of the model, the status is the shape's ``httpStatusCode``, and the body uses
the shape's member names (plus ``__type``, which moto's JSON errors add).
"""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.parsers import create_parser
from urllib3 import HTTPHeaderDict
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from workshop_utils.localcloud.apigateway import exceptions as apigateway_errors
from workshop_utils.localcloud.apigateway.models import ROLE_MISSING, ROLE_NOT_USABLE
from workshop_utils.localcloud.apigatewayv2.exceptions import (
    ApiNotFound,
    BadRequestException,
    ConflictException,
    DeploymentNotFound,
    StageNotFound,
)
from workshop_utils.localcloud.awsapi.dispatch import AwsApiApp, error_response
from workshop_utils.localcloud.awslambda.exceptions import (
    FunctionNotFound,
    InvalidParameterValue,
    InvalidRequestContentException,
    LayersValidation,
    RequestTooLargeException,
    StatementIdAlreadyExists,
    TooManyRequestsException,
)
from workshop_utils.localcloud.dynamodb.exceptions import AccessDeniedException

ARN = "arn:aws:lambda:us-east-1:123456789012:function:chat-broadcast"
SESSION = botocore.session.get_session()

CASES = [
    ("apigatewayv2", ApiNotFound("a1b2c3"), 404, "NotFoundException",
     "Invalid API identifier specified a1b2c3"),
    ("apigatewayv2", DeploymentNotFound("of9zuj"), 404, "NotFoundException",
     "Invalid Deployment identifier specified of9zuj"),
    ("apigatewayv2", StageNotFound(), 404, "NotFoundException",
     "Invalid stage identifier specified"),
    ("apigatewayv2", BadRequestException("Invalid request body"), 400, "BadRequestException",
     "Invalid request body"),
    ("apigatewayv2", ConflictException("Stage already exists"), 409, "ConflictException",
     "Stage already exists"),
    ("apigateway", apigateway_errors.BadRequestException(ROLE_NOT_USABLE), 400,
     "BadRequestException", ROLE_NOT_USABLE),
    ("apigatewayv2", apigateway_errors.BadRequestException(ROLE_MISSING), 400,
     "BadRequestException", ROLE_MISSING),
    ("lambda", FunctionNotFound(ARN), 404, "ResourceNotFoundException",
     f"Function not found: {ARN}"),
    ("lambda", InvalidParameterValue("bad invocationType"), 400,
     "InvalidParameterValueException", "bad invocationType"),
    ("lambda", RequestTooLargeException(6291456), 413, "RequestTooLargeException",
     "Request must be smaller than 6291456 bytes for the InvokeFunction operation"),
    ("lambda", InvalidRequestContentException("Could not parse request body into json"), 400,
     "InvalidRequestContentException", "Could not parse request body into json"),
    ("lambda", StatementIdAlreadyExists("apigw"), 409, "ResourceConflictException",
     "The statement id (apigw) provided already exists. Please provide a new statement id, "
     "or remove the existing statement."),
    ("lambda", TooManyRequestsException(), 429, "TooManyRequestsException", "Rate Exceeded."),
]


def _wire(error: Exception) -> dict:
    response = error_response(error)  # type: ignore[arg-type]
    # botocore's response dict: urllib3's case-insensitive headers, as botocore's endpoint
    return {"status_code": response.status_code, "headers": HTTPHeaderDict(response.headers),
            "body": response.get_data()}


@pytest.mark.parametrize(("service", "error", "status", "code", "message"), CASES,
                         ids=[f"{c[0]}-{type(c[1]).__name__}" for c in CASES])
def test_botocore_reads_the_error_as_aws_sends_it(service: str, error: Exception, status: int,
                                                  code: str, message: str) -> None:
    """botocore parses each local-cloud error into the code, status and message of its service
    model, with only the members the model names in the body."""
    model = SESSION.get_service_model(service)
    shape = model.shape_for(code)
    assert shape.metadata.get("exception"), f"{code} is an error of {service}'s model"
    assert shape.metadata.get("error", {}).get("httpStatusCode", status) == status
    wire = _wire(error)
    assert wire["status_code"] == status
    parsed = create_parser(model.protocol).parse(wire, None)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == message
    members = {m.serialization.get("name", name) for name, m in shape.members.items()}
    assert set(json.loads(wire["body"])) <= members | {"__type"}


def test_a_denied_dynamodb_call_reads_as_dynamodb_writes_it() -> None:
    """DynamoDB (awsJson1_0) names the error in ``__type`` with its namespace, ``Message``
    capitalised, content type application/x-amz-json-1.0, status 400."""
    message = ("User: arn:aws:sts::123456789012:assumed-role/chat-role/chat-broadcast is not "
               "authorized to perform: dynamodb:Scan on resource: "
               "arn:aws:dynamodb:us-east-1:123456789012:table/chat-connections because no "
               "identity-based policy allows the dynamodb:Scan action")
    wire = _wire(AccessDeniedException(message))
    assert wire["status_code"] == 400
    assert wire["headers"]["Content-Type"] == "application/x-amz-json-1.0"
    assert json.loads(wire["body"]) == {
        "__type": "com.amazon.coral.service#AccessDeniedException", "Message": message}
    parsed = create_parser(SESSION.get_service_model("dynamodb").protocol).parse(wire, None)
    assert parsed["Error"] == {"Code": "AccessDeniedException", "Message": message}


def test_a_layers_validation_error_reads_as_lambda_writes_it() -> None:
    """A ``Layers`` ARN without its version: 400 ValidationException (a code outside Lambda's
    model, as AWS sends it), whose body holds only ``message`` (LocalStack's AWS snapshot
    TestLambdaLayer::test_layer_exceptions)."""
    arn = "arn:aws:lambda:us-east-1:123456789012:layer:x"
    wire = _wire(LayersValidation([arn]))
    assert wire["status_code"] == 400
    assert set(json.loads(wire["body"])) == {"message"}
    parsed = create_parser(SESSION.get_service_model("lambda").protocol).parse(wire, None)
    assert parsed["Error"]["Code"] == "ValidationException"
    assert parsed["Error"]["Message"].startswith(
        f"1 validation error detected: Value '[{arn}]' at 'layers' failed to satisfy "
        "constraint: Member must satisfy constraint: [Member must have length less than or "
        "equal to 2048")


class _Refuses:
    def handle(self, request: Request, forward: object) -> Response | None:
        if request.path == "/refused":
            raise StageNotFound()
        if request.path == "/bug":
            raise KeyError("a bug in an extension")
        return None


def _moto(environ: dict, start_response: object) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])  # type: ignore[operator]
    return [b'{"from": "moto"}']


def test_the_dispatcher_writes_a_raised_error_and_hides_a_bug() -> None:
    """An extension's AwsError becomes its AWS answer; any other exception a 500
    ServiceException (never a traceback); a request no extension takes goes to moto."""
    client = Client(AwsApiApp(_moto, [_Refuses()]))
    refused = client.get("/refused")
    assert (refused.status_code, refused.headers["X-Amzn-ErrorType"]) == (404, "NotFoundException")
    assert refused.get_json()["message"] == "Invalid stage identifier specified"
    bug = client.get("/bug")
    assert (bug.status_code, bug.headers["X-Amzn-ErrorType"]) == (500, "ServiceException")
    assert bug.get_json()["message"] == "local cloud internal error"
    assert "KeyError" not in bug.get_data(as_text=True)
    assert client.get("/other").get_json() == {"from": "moto"}
