"""DynamoDB's errors that moto 5.2 does not raise, as moto's exception classes."""

from __future__ import annotations

import json

from moto.dynamodb.exceptions import DynamodbException


class AccessDeniedException(DynamodbException):
    """A call the execution role does not allow.

    Written in DynamoDB's own wire form (``awsJson1_0``: ``__type`` with the
    ``com.amazon.coral.service#`` namespace, ``Message`` capitalised, content type
    ``application/x-amz-json-1.0``, status 400, as DynamoDB answers an IAM denial), not in
    moto's generic JSON error form (``message``, ``application/json``, an
    ``X-Amzn-ErrorType`` header): botocore reads both, a learner printing the raw response
    sees AWS's."""

    code = 400
    error_type = "com.amazon.coral.service#AccessDeniedException"

    def __init__(self, message: str) -> None:
        super().__init__(self.error_type, message)
        self.description = json.dumps({"__type": self.error_type, "Message": message})
        self.content_type = "application/x-amz-json-1.0"

    def get_headers(self, *args: object, **kwargs: object) -> list[tuple[str, str]]:
        return [("Content-Type", self.content_type)]
