"""moto's CloudWatch Logs errors that the local cloud meets when it writes into moto's backend."""

from __future__ import annotations

from moto.logs.exceptions import ResourceAlreadyExistsException

__all__ = ["ResourceAlreadyExistsException"]
