"""apigateway's errors: moto's own classes (``{"__type", "message"}`` with ``X-Amzn-ErrorType``,
which botocore reads the code from)."""

from __future__ import annotations

from moto.apigateway.exceptions import BadRequestException

__all__ = ["BadRequestException"]
