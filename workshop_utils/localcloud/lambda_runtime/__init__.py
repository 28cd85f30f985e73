"""Lambda code that really runs: the deployed zip in warm worker processes, no Docker.

Interface the gateway relies on: ``await cloud.runtime.invoke(function, payload)`` returning an
:class:`InvokeResult`, raising :class:`FunctionNotFound` for a function that does not exist.
The AWS ``Invoke`` API reaches the same path through :meth:`LambdaRuntime.aws_extension`.
How it works is told in ``runtime.py`` (environments, logs) and ``bootstrap.py`` (the worker).
"""

from __future__ import annotations

from .runtime import FunctionNotFound, InvokeResult, LambdaRuntime

__all__ = ["FunctionNotFound", "InvokeResult", "LambdaRuntime"]
