"""Lambda's errors: moto's own classes where moto has them, subclasses of its base else.

Raised by :mod:`.responses` and the runtime; :func:`~..awsapi.dispatch.error_response`
writes them: moto's status and ``X-Amzn-ErrorType`` header, and Lambda's own body where moto's
classes write ``{"__type": ..., "message": ...}``: ``{"Type": "User", "Message": ...}`` for
ResourceNotFoundException, ``{"Type": "User", "message": ...}`` for the others, the members
botocore's Lambda model (``botocore/data/lambda/2015-03-31/service-2.json``) gives each error
shape. botocore reads the code from the header and the message from either, so a learner's
``except`` clauses match on both targets.
"""

from __future__ import annotations

import json
from typing import Any

from moto.awslambda.exceptions import (
    InvalidParameterValueException,
    LambdaClientError,
    UnknownFunctionException,
    ValidationException,
)

__all__ = [
    "FunctionNotFound",
    "InvalidParameterValue",
    "InvalidRequestContentException",
    "LayersValidation",
    "RequestTooLargeException",
    "StatementIdAlreadyExists",
    "TooManyRequestsException",
]


class _LambdaBody:
    """Lambda's error body in place of moto's generic one (a mixin before moto's class)."""

    message: str
    message_member = "message"  # the member's name in the error shape of botocore's model

    def get_body(self, *args: Any, **kwargs: Any) -> str:
        return json.dumps({"Type": "User", self.message_member: self.message})


class FunctionNotFound(_LambdaBody, UnknownFunctionException):
    """No such function (or qualifier): 404 ResourceNotFoundException, "Function not found:
    <arn>". The gateway catches it too (an integration whose function is gone)."""

    message_member = "Message"

    def __init__(self, arn: str) -> None:
        super().__init__(arn)
        self.arn = arn


class InvalidParameterValue(_LambdaBody, InvalidParameterValueException):
    """moto's InvalidParameterValueException (400), in Lambda's wire form."""


class RequestTooLargeException(_LambdaBody, LambdaClientError):
    code = 413

    def __init__(self, limit: int) -> None:
        super().__init__(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation")


class InvalidRequestContentException(_LambdaBody, LambdaClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestContentException", message)


class StatementIdAlreadyExists(_LambdaBody, LambdaClientError):
    """``add_permission`` with a statement id the policy has (moto appends a duplicate)."""

    code = 409

    def __init__(self, statement_id: str) -> None:
        super().__init__(
            "ResourceConflictException",
            f"The statement id ({statement_id}) provided already exists. Please provide a new "
            "statement id, or remove the existing statement.")


class TooManyRequestsException(_LambdaBody, LambdaClientError):
    """An invocation over the function's reserved concurrency: 429, as AWS answers it
    (LocalStack's AWS snapshot ``TestLambdaConcurrency::test_reserved_concurrency``,
    2025-11-25: ``{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type":
    "User", "message": "Rate Exceeded."}``). No ``Retry-After`` header (chosen: whether AWS
    sends one here is not known)."""

    code = 429
    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")

    def get_body(self, *args: Any, **kwargs: Any) -> str:
        return json.dumps({"Reason": self.reason, "Type": "User", "message": self.message})


class LayersValidation(ValidationException):
    """A ``Layers`` entry that is not a layer version ARN (one without its version): AWS's
    ValidationException, whose body has only ``message`` (LocalStack's AWS snapshot
    ``TestLambdaLayer::test_layer_exceptions``)."""

    def __init__(self, layers: list[str]) -> None:
        super().__init__(
            f"[{', '.join(layers)}]", "layers",
            "Member must satisfy constraint: [Member must have length less than or equal to "
            "2048, Member must have length greater than or equal to 1, Member must satisfy "
            "regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|"
            "(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|"
            "(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+), Member must not be null]")

    def get_body(self, *args: Any, **kwargs: Any) -> str:
        return json.dumps({"message": self.message})
