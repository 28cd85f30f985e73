"""Errors of the AWS API port itself, and the base class every extension's errors share."""

from __future__ import annotations

from moto.core.exceptions import JsonRESTError

# The base of moto's JSON service errors: an extension raises a subclass (moto's own, or one
# in its service's exceptions.py) and the dispatcher answers with its status, headers and body.
AwsError = JsonRESTError


class InternalError(JsonRESTError):
    """An extension failed (a bug in the local cloud): it must not look like an AWS answer."""

    code = 500

    def __init__(self) -> None:
        super().__init__("ServiceException", "local cloud internal error")
