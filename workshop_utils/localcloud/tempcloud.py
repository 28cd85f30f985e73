"""A local cloud on free ports in a temporary home: the handle tests and benchmarks use.

Not the cloud itself (that is :mod:`.cloudserver`, in its own process) nor what its parts share
(:mod:`.parts`): a client-side object that starts one cloud process with
:func:`~.lifecycle.start`, hands out boto3 clients pointed at it, and stops it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from .lifecycle import start, status, stop
from .settings import CloudSettings, GatewayLimits


class LocalCloud:
    """A local cloud on free ports in a temporary home, for tests and benchmarks.

    >>> with LocalCloud() as cloud:
    ...     cloud.client("dynamodb").list_tables()
    """

    def __init__(self, home: Path | None = None, limits: GatewayLimits | None = None,
                 **settings: Any) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if home is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="localcloud-")
            home = Path(self._tmp.name)
        self.settings = CloudSettings(
            home=Path(home), aws_port=0, ws_port=0, limits=limits or GatewayLimits(), **settings
        )
        self.state: dict[str, Any] = {}

    def __enter__(self) -> LocalCloud:
        self.state = start(self.settings)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        stop(self.settings.home)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    @property
    def aws_endpoint(self) -> str:
        return self.state["aws_endpoint"]

    @property
    def region(self) -> str:
        return self.state["region"]

    def websocket_url(self, api_id: str, stage: str) -> str:
        return self.state["websocket_url_template"].format(api_id=api_id, stage=stage)

    def management_url(self, api_id: str, stage: str) -> str:
        return self.state["management_url_template"].format(api_id=api_id, stage=stage)

    def status(self) -> dict[str, Any]:
        return status(self.settings.home) or {}

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client pointed at this cloud, with fake credentials."""
        import boto3

        kwargs.setdefault("endpoint_url", self.aws_endpoint)
        return boto3.client(
            service,
            region_name=self.region,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            **kwargs,
        )

    def management_client(self, api_id: str, stage: str) -> Any:
        return self.client("apigatewaymanagementapi",
                           endpoint_url=self.management_url(api_id, stage))
