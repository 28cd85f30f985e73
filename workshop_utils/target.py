"""Where the workshop runs: the local cloud (default) or a real AWS account.

Every notebook starts with ``target = workshop_utils.target.current()``. The target gives
boto3 clients, the learner's resource prefix and tags, and the URLs of a WebSocket stage; the
notebooks' boto3 calls are the same for both targets, only these endpoints differ.

Environment:
- ``WORKSHOP_TARGET``: ``local`` (default) or ``aws``.
- ``WORKSHOP_PROFILE`` / ``AWS_PROFILE`` and ``WORKSHOP_REGION`` / ``AWS_REGION``: for ``aws``.
- ``WORKSHOP_PREFIX``: the learner's prefix for every resource name (default ``wschat`` locally,
  ``wschat-<user>`` on AWS so a classroom can share one account).
"""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from . import localcloud
from .localcloud import CloudSettings, default_home

PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
WORKSHOP_TAG = "serverless-websocket-chat-workshop"


class TargetError(RuntimeError):
    """The target is misconfigured; the message says how to fix it."""


def valid_prefix(prefix: str) -> str:
    if not PREFIX_RE.match(prefix):
        raise TargetError(
            f"prefix {prefix!r} is not usable in every resource name: use 3-24 characters, "
            "lowercase letters, digits and hyphens, starting with a letter "
            "(set WORKSHOP_PREFIX, e.g. WORKSHOP_PREFIX=wschat-alice)"
        )
    return prefix


def default_prefix(kind: str) -> str:
    if kind == "local":
        return "wschat"
    user = re.sub(r"[^a-z0-9]+", "-", getpass.getuser().lower()).strip("-")[:15] or "learner"
    return f"wschat-{user}"


@dataclass
class Names:
    """Every resource name of the workshop, derived from the learner's prefix."""

    prefix: str

    @property
    def table(self) -> str:
        return f"{self.prefix}-connections"

    @property
    def role(self) -> str:
        return f"{self.prefix}-chat-role"

    @property
    def policy(self) -> str:
        return f"{self.prefix}-chat-policy"

    def function(self, kind: str) -> str:
        """``kind`` is connect, disconnect or broadcast."""
        return f"{self.prefix}-{kind}"

    @property
    def functions(self) -> dict[str, str]:
        return {kind: self.function(kind) for kind in ("connect", "disconnect", "broadcast")}

    @property
    def api(self) -> str:
        return f"{self.prefix}-chat-api"

    @property
    def stage(self) -> str:
        return "dev"

    @property
    def access_log_group(self) -> str:
        return f"/aws/apigateway/{self.prefix}-chat-api/access"


@dataclass
class Target:
    kind: str  # "local" or "aws"
    region: str
    prefix: str
    profile: str | None = None
    aws_endpoint: str | None = None  # local only
    management_url_template: str | None = None  # local only
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    @property
    def names(self) -> Names:
        return Names(self.prefix)

    @property
    def tags(self) -> dict[str, str]:
        """Tags on every resource: what the workshop made, for whom (clean-up finds them)."""
        return {"workshop": WORKSHOP_TAG, "workshop-prefix": self.prefix}

    @cached_property
    def session(self) -> boto3.Session:
        if self.is_local:
            return boto3.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing",
                region_name=self.region,
            )
        return boto3.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for this target (cached per service and endpoint)."""
        if self.is_local:
            kwargs.setdefault("endpoint_url", self.aws_endpoint)
        key = f"{service}|{kwargs.get('endpoint_url')}"
        if key not in self._clients:
            kwargs.setdefault("config", Config(retries={"mode": "standard", "max_attempts": 5}))
            self._clients[key] = self.session.client(service, **kwargs)
        return self._clients[key]

    @property
    def account_id(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    def websocket_url(self, api_id: str, stage: str) -> str:
        """The URL chat clients connect to: ``f"{ApiEndpoint}/{stage}"`` on both targets.

        AWS's ApiEndpoint is ``wss://<api-id>.execute-api.<region>.amazonaws.com``; the local
        cloud's is ``ws://127.0.0.1:<port>/<api-id>``, which a client here can open.
        """
        endpoint = self.client("apigatewayv2").get_api(ApiId=api_id)["ApiEndpoint"]
        return f"{endpoint}/{stage}"

    def management_endpoint(self, api_id: str, stage: str) -> str:
        """The endpoint_url of the @connections API of a stage."""
        if self.is_local:
            assert self.management_url_template
            return self.management_url_template.format(api_id=api_id, stage=stage)
        return f"https://{api_id}.execute-api.{self.region}.amazonaws.com/{stage}"

    def management_client(self, api_id: str, stage: str) -> Any:
        return self.client("apigatewaymanagementapi",
                           endpoint_url=self.management_endpoint(api_id, stage))


def from_environment(env: dict[str, str] | None = None, *, start_cloud: bool = True) -> Target:
    """The target the environment asks for; for ``local``, start the local cloud if needed."""
    env = dict(os.environ if env is None else env)
    kind = env.get("WORKSHOP_TARGET", "local").strip().lower() or "local"
    if kind not in ("local", "aws"):
        raise TargetError(f"WORKSHOP_TARGET={kind!r}: use 'local' (default) or 'aws'")
    prefix = valid_prefix(env.get("WORKSHOP_PREFIX") or default_prefix(kind))
    if kind == "aws":
        region = env.get("WORKSHOP_REGION") or env.get("AWS_REGION") or env.get(
            "AWS_DEFAULT_REGION")
        profile = env.get("WORKSHOP_PROFILE") or env.get("AWS_PROFILE")
        if not region:
            session_region = boto3.Session(profile_name=profile).region_name
            if not session_region:
                raise TargetError("no AWS region: set WORKSHOP_REGION (e.g. eu-west-1)")
            region = session_region
        return Target("aws", region=region, prefix=prefix, profile=profile)
    home = Path(env["WORKSHOP_HOME"]) if env.get("WORKSHOP_HOME") else default_home()
    state = localcloud.status(home)
    if state is None:
        if not start_cloud:
            raise TargetError("the local cloud is not running: run `workshop cloud start`")
        state = localcloud.start(CloudSettings.from_env(home=home))
    return local_target(state, prefix)


def local_target(state: dict[str, Any], prefix: str = "wschat") -> Target:
    """A ``local`` target on the cloud whose status is ``state`` (``LocalCloud.state`` or
    ``workshop cloud status --json``)."""
    return Target(
        "local", region=state["region"], prefix=valid_prefix(prefix),
        aws_endpoint=state["aws_endpoint"],
        management_url_template=state["management_url_template"],
    )


_current: Target | None = None


def current(refresh: bool = False) -> Target:
    """The target of this kernel (made once; ``refresh=True`` re-reads the environment)."""
    global _current
    if _current is None or refresh:
        _current = from_environment()
    return _current
