"""Where the workshop runs: the local cloud (default) or a real AWS account.

Every notebook starts with ``target = workshop_utils.target.current()``. The target gives
boto3 clients, the learner's resource prefix, owner and tags, and the URLs of a WebSocket
stage; the notebooks' boto3 calls are the same for both targets, only these endpoints differ.

Environment:
- ``WORKSHOP_TARGET``: ``local`` (default) or ``aws``.
- ``WORKSHOP_PROFILE`` / ``AWS_PROFILE`` and ``WORKSHOP_REGION`` / ``AWS_REGION``: for ``aws``.
- ``WORKSHOP_PREFIX``: the learner's prefix for every resource name (default ``wschat``
  locally; on AWS ``wschat-<name>`` from the caller's identity, see
  :func:`workshop_utils.identity.default_prefix`, so learners on one shared image differ).
- ``WORKSHOP_PERMISSIONS_BOUNDARY``: the ARN of a managed policy that accounts requiring one
  want on every role a learner creates (passed to ``iam.create_role``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from . import identity as identities
from . import localcloud, recording
from .localcloud import CloudSettings, default_home
from .partitions import UnsupportedRegion, dns_suffix, partition_of

PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")
WORKSHOP_TAG = "serverless-websocket-chat-workshop"
LOCAL_PREFIX = "wschat"
# The tag keys on every resource the series makes (names-and-tags for the learner policy).
TAG_WORKSHOP, TAG_PREFIX, TAG_OWNER = "workshop", "workshop-prefix", "workshop-owner"
BOUNDARY_RE = re.compile(r"^arn:aws(-cn|-us-gov)?:iam::(\d{12}|aws):policy/[\w+=,.@/-]+$")

# The chat's functions, created together in notebook 03.
CHAT_FUNCTIONS = ("connect", "disconnect", "broadcast")
# Functions that later notebooks add (each appends its kind here): clean-up, leftovers and the
# class commands cover every function of the series, not only the chat's. The authorizer
# (lambda_src/authorizer/) checks tokens on $connect, with a role of its own.
LATER_FUNCTIONS: tuple[str, ...] = ("authorizer",)


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


@dataclass(frozen=True)
class Names:
    """Every resource name of the workshop, derived from the learner's prefix.

    These are exact names: clean-up, leftovers and the class commands look each one up, and
    never match by string prefix (learner ``wschat`` must not touch ``wschat-alice-…``).
    For one resource type, two different prefixes never give the same name (every suffix
    starts with a hyphen and none ends another), which ``tests/unit/test_names.py`` checks.
    """

    prefix: str

    @property
    def table(self) -> str:
        return f"{self.prefix}-connections"

    @property
    def role(self) -> str:
        return f"{self.prefix}-chat-role"

    @property
    def policy(self) -> str:
        """The role's inline policy (owned with the role)."""
        return f"{self.prefix}-chat-policy"

    def function(self, kind: str) -> str:
        """``kind`` is connect, disconnect or broadcast (or a later notebook's function)."""
        return f"{self.prefix}-{kind}"

    @property
    def functions(self) -> dict[str, str]:
        """The chat's three functions (notebook 03)."""
        return {kind: self.function(kind) for kind in CHAT_FUNCTIONS}

    @property
    def every_function(self) -> dict[str, str]:
        """Every function of the series: the chat's and those later notebooks add."""
        return {kind: self.function(kind) for kind in CHAT_FUNCTIONS + LATER_FUNCTIONS}

    @property
    def api(self) -> str:
        return f"{self.prefix}-chat-api"

    @property
    def stage(self) -> str:
        return "dev"

    @staticmethod
    def function_log_group(function_name: str) -> str:
        """Where Lambda writes a function's logs."""
        return f"/aws/lambda/{function_name}"

    @property
    def access_log_group(self) -> str:
        return f"/aws/apigateway/{self.prefix}-chat-api/access"

    @property
    def token_parameter(self) -> str:
        """The SSM SecureString whose value signs chat tokens (``workshop_utils.tokens``); the
        authorizer reads it by this name (its ``SECRET_PARAMETER``)."""
        return f"{self.prefix}-chat-token-secret"

    @property
    def authorizer(self) -> str:
        """The API's REQUEST authorizer on ``$connect`` (notebook 06): it has no tags and no
        life of its own, it goes with the API."""
        return f"{self.prefix}-chat-authorizer"

    @property
    def authorizer_role(self) -> str:
        """The authorizer function's own execution role: it may read the token secret, which
        the chat's role may not (``lambda_src/authorizer-policy.json``)."""
        return f"{self.prefix}-authorizer-role"

    @property
    def authorizer_policy(self) -> str:
        """The authorizer role's inline policy (owned with the role)."""
        return f"{self.prefix}-authorizer-policy"

    @property
    def log_groups(self) -> list[str]:
        """Every log group of the series: each function's, then the API's access log."""
        return [self.function_log_group(name) for name in self.every_function.values()] + [
            self.access_log_group]

    def everything(self) -> dict[str, list[str]]:
        """The single list of what the series makes, by kind (the keys of ``leftovers``).

        Roles' inline policies, functions' permissions, an API's routes, integrations,
        authorizers and stages have no tags and no life of their own: they go with their parent.
        """
        return {
            "apis": [self.api],
            "functions": list(self.every_function.values()),
            "log groups": self.log_groups,
            "parameters": [self.token_parameter],
            "roles": [self.role, self.authorizer_role],
            "tables": [self.table],
        }


@dataclass
class Target:
    kind: str  # "local" or "aws"
    region: str
    prefix: str
    profile: str | None = None
    aws_endpoint: str | None = None  # local only
    management_url_template: str | None = None  # local only
    permissions_boundary: str | None = None  # WORKSHOP_PERMISSIONS_BOUNDARY
    # local only: (access key id, secret) of an IAM user made in the local cloud, so that
    # several learners with their own identities can share one local cloud (default: moto's)
    local_credentials: tuple[str, str] = ("testing", "testing")
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_local(self) -> bool:
        return self.kind == "local"

    @property
    def names(self) -> Names:
        return Names(self.prefix)

    @property
    def tag_settle_s(self) -> float:
        """How long a new resource may read as untagged: a few seconds on AWS, none locally
        (``waiting.TAG_SETTLE_S``)."""
        from .waiting import TAG_SETTLE_S

        return 0.0 if self.is_local else TAG_SETTLE_S

    @cached_property
    def identity(self) -> identities.Identity:
        """Who calls AWS with this target's credentials (one STS call per target)."""
        return identities.from_response(self.client("sts").get_caller_identity())

    @property
    def owner(self) -> str:
        """The ``workshop-owner`` tag value of everything this learner makes."""
        return self.identity.owner

    @property
    def tags(self) -> dict[str, str]:
        """Tags on every resource: what the workshop made, under which prefix, for whom
        (clean-up deletes only what carries its own owner; see ``ownership``)."""
        return {TAG_WORKSHOP: WORKSHOP_TAG, TAG_PREFIX: self.prefix, TAG_OWNER: self.owner}

    @property
    def partition(self) -> str:
        """``aws``, ``aws-cn`` or ``aws-us-gov``: the first field of every ARN."""
        return partition_of(self.region)

    @property
    def dns_suffix(self) -> str:
        return dns_suffix(self.partition)

    def arn(self, service: str, resource: str, *, region: str | None = None,
            account: str | None = None) -> str:
        """``arn:<partition>:<service>:<region>:<account>:<resource>`` for this target."""
        region = self.region if region is None else region
        account = self.account_id if account is None else account
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    def role_options(self) -> dict[str, str]:
        """Extra ``iam.create_role`` arguments: the permissions boundary, if one is set."""
        if self.permissions_boundary:
            return {"PermissionsBoundary": self.permissions_boundary}
        return {}

    @cached_property
    def session(self) -> boto3.Session:
        if self.is_local:
            key_id, secret = self.local_credentials
            return boto3.Session(aws_access_key_id=key_id, aws_secret_access_key=secret,
                                 region_name=self.region)
        return boto3.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for this target (cached per service and endpoint)."""
        if self.is_local:
            kwargs.setdefault("endpoint_url", self.aws_endpoint)
        key = client_key(service, kwargs.get("endpoint_url"))
        if key not in self._clients:
            kwargs.setdefault("config", Config(retries={"mode": "standard", "max_attempts": 5}))
            client = self.session.client(service, **kwargs)
            recording.install_from_environment(client)  # WORKSHOP_RECORD_CALLS (tests)
            self._clients[key] = client
        return self._clients[key]

    @property
    def account_id(self) -> str:
        return self.identity.account

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
        return f"https://{api_id}.execute-api.{self.region}.{self.dns_suffix}/{stage}"

    def management_client(self, api_id: str, stage: str) -> Any:
        return self.client("apigatewaymanagementapi",
                           endpoint_url=self.management_endpoint(api_id, stage))


def client_key(service: str, endpoint_url: str | None = None) -> str:
    """How :meth:`Target.client` caches a client (tests put stubbed clients there)."""
    return f"{service}|{endpoint_url}"


def valid_boundary(arn: str | None) -> str | None:
    if arn and not BOUNDARY_RE.match(arn):
        raise TargetError(
            f"WORKSHOP_PERMISSIONS_BOUNDARY={arn!r} is not a managed policy ARN: use e.g. "
            "arn:aws:iam::111122223333:policy/workshop-boundary"
        )
    return arn or None


def aws_default_prefix(target: Target) -> str:
    """The default prefix on AWS, from the caller's identity (one STS call). When the call
    fails, the error says why as every command says it (``cli_errors.explain``: expired SSO,
    missing profile, no credentials, each with its fix) and that WORKSHOP_PREFIX avoids it."""
    from .cli_errors import explain

    try:
        return identities.default_prefix(target.identity)
    except identities.IdentityError as exc:
        raise TargetError(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:
        raise TargetError(
            "cannot learn your AWS identity to name your resources: "
            f"{explain(exc, {'WORKSHOP_PROFILE': target.profile or 'default'})[0]}; or set "
            "WORKSHOP_PREFIX"
        ) from None


def from_environment(env: dict[str, str] | None = None, *, start_cloud: bool = True) -> Target:
    """The target the environment asks for; for ``local``, start the local cloud if needed."""
    env = dict(os.environ if env is None else env)
    kind = env.get("WORKSHOP_TARGET", "local").strip().lower() or "local"
    if kind not in ("local", "aws"):
        raise TargetError(f"WORKSHOP_TARGET={kind!r}: use 'local' (default) or 'aws'")
    prefix = env.get("WORKSHOP_PREFIX") or (LOCAL_PREFIX if kind == "local" else "")
    if prefix:
        valid_prefix(prefix)
    boundary = valid_boundary(env.get("WORKSHOP_PERMISSIONS_BOUNDARY"))
    if kind == "aws":
        region = env.get("WORKSHOP_REGION") or env.get("AWS_REGION") or env.get(
            "AWS_DEFAULT_REGION")
        profile = env.get("WORKSHOP_PROFILE") or env.get("AWS_PROFILE")
        if not region:
            session_region = boto3.Session(profile_name=profile).region_name
            if not session_region:
                raise TargetError("no AWS region: set WORKSHOP_REGION (e.g. eu-west-1)")
            region = session_region
        try:
            partition_of(region)
        except UnsupportedRegion as exc:
            raise TargetError(str(exc)) from None
        target = Target("aws", region=region, prefix=prefix, profile=profile,
                        permissions_boundary=boundary)
        if not prefix:
            target.prefix = valid_prefix(aws_default_prefix(target))
        return target
    home = Path(env["WORKSHOP_HOME"]) if env.get("WORKSHOP_HOME") else default_home()
    state = localcloud.status(home)
    if state is None:
        if not start_cloud:
            raise TargetError("the local cloud is not running: run `workshop cloud start`")
        state = localcloud.start(CloudSettings.from_env(home=home))
    target = local_target(state, prefix)
    target.permissions_boundary = boundary
    return target


def local_target(state: dict[str, Any], prefix: str = LOCAL_PREFIX,
                 credentials: tuple[str, str] | None = None) -> Target:
    """A ``local`` target on the cloud whose status is ``state`` (``LocalCloud.state`` or
    ``workshop cloud status --json``); ``credentials`` are an IAM user's access key made in
    that cloud (default: moto's own identity)."""
    target = Target(
        "local", region=state["region"], prefix=valid_prefix(prefix),
        aws_endpoint=state["aws_endpoint"],
        management_url_template=state["management_url_template"],
    )
    if credentials is not None:
        target.local_credentials = credentials
    return target


_current: Target | None = None


def current(refresh: bool = False) -> Target:
    """The target of this kernel (made once; ``refresh=True`` re-reads the environment)."""
    global _current
    if _current is None or refresh:
        _current = from_environment()
    return _current
