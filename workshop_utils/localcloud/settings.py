"""Settings of one local cloud: where it keeps its state, which ports, which limits.

Everything binds to 127.0.0.1. Ports 0 mean "pick a free one" (tests); the chosen ports are
written to the state file in ``home`` so ``workshop cloud status`` and clients can find them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_AWS_PORT = 4566
DEFAULT_WS_PORT = 4510
DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account; every ARN of the local cloud uses it
STATUS_PATH = "/_localcloud/status"  # on the AWS port: endpoints and what the gateway serves


def repo_root() -> Path:
    """The checkout this package runs from (where ``.workshop/`` lives by default)."""
    return Path(__file__).resolve().parents[2]


def default_home() -> Path:
    return Path(os.environ.get("WORKSHOP_HOME") or repo_root() / ".workshop")


@dataclass(frozen=True)
class GatewayLimits:
    """API Gateway WebSocket quotas; configurable so tests can shrink the times."""

    frame_bytes: int = 32 * 1024
    message_bytes: int = 128 * 1024
    idle_timeout_s: float = 600.0
    max_duration_s: float = 7200.0
    integration_timeout_s: float = 29.0


@dataclass(frozen=True)
class CloudSettings:
    home: Path = field(default_factory=default_home)
    host: str = "127.0.0.1"
    aws_port: int = DEFAULT_AWS_PORT
    ws_port: int = DEFAULT_WS_PORT
    region: str = DEFAULT_REGION
    account_id: str = ACCOUNT_ID
    seed: int = 42
    limits: GatewayLimits = field(default_factory=GatewayLimits)
    # Execution environments one function may have at once (AWS scales out on concurrency).
    max_workers_per_function: int = 4
    # An execution environment idle this long is reclaimed (AWS does so after some minutes;
    # the next invocation is a cold start). Keeps a long classroom session's memory bounded.
    lambda_idle_timeout_s: float = 900.0

    @classmethod
    def from_env(cls, **overrides: object) -> CloudSettings:
        """Defaults, then WORKSHOP_* environment variables, then explicit overrides."""
        values: dict[str, object] = {"home": default_home()}
        if port := os.environ.get("WORKSHOP_AWS_PORT"):
            values["aws_port"] = int(port)
        if port := os.environ.get("WORKSHOP_WS_PORT"):
            values["ws_port"] = int(port)
        if region := os.environ.get("WORKSHOP_REGION"):
            values["region"] = region
        values.update({k: v for k, v in overrides.items() if v is not None})
        values["home"] = Path(values["home"]).resolve()  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["home"] = str(self.home)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> CloudSettings:
        data = json.loads(text)
        data["home"] = Path(data["home"])
        data["limits"] = GatewayLimits(**data["limits"])
        return cls(**data)


def websocket_api_endpoint(settings: CloudSettings, api_id: str) -> str:
    """``ApiEndpoint`` of a WEBSOCKET API here: ``ws://127.0.0.1:<gateway port>/<api-id>``.

    AWS's is ``wss://<api-id>.execute-api.<region>.amazonaws.com``, which nothing here can
    open; with this one ``f"{ApiEndpoint}/{stage}"`` is the stage URL on both targets, as
    AWS's docs and samples write it (SPEC-gateway.md "What is served").
    """
    return f"ws://{settings.host}:{settings.ws_port}/{api_id}"


def endpoints(settings: CloudSettings) -> dict[str, Any]:
    """The URLs a client of this local cloud needs (also printed by ``workshop cloud status``)."""
    host = settings.host
    return {
        "aws_endpoint": f"http://{host}:{settings.aws_port}",
        "websocket_url_template": websocket_api_endpoint(settings, "{api_id}") + "/{stage}",
        "management_url_template": f"http://{host}:{settings.ws_port}/{{api_id}}/{{stage}}",
        "region": settings.region,
        "account_id": settings.account_id,
        "home": str(settings.home),
    }
