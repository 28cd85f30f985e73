"""The one door to moto's internals: everything the local cloud does to moto beyond its models.

The local cloud extends moto (pinned ``>=5.2,<5.3`` in pyproject.toml); everything here was
checked on moto 5.2.5. When moto is upgraded, this package is what to re-read: nothing else
reaches into moto, except that a service module reads and writes the attributes of moto's
model objects it extends (an ``Api``'s routes, a ``Stage``'s settings), as moto's own
``responses.py`` do, and each service's ``exceptions.py`` raises moto's exception classes.
``tests/unit/test_architecture.py`` checks that nothing else imports moto.

What is here:
- moto's in-process backends (the server and this process share them): :func:`backend`,
  :func:`logs_backend`;
- moto's seeded id generator (the private ``moto.moto_api._internal.mock_random``):
  :func:`seed_ids`, :func:`random_id`, :func:`random_uuid`;
- state the local cloud keeps on moto's objects, so that moto's own deletes and resets forget
  it with them: :func:`deployments_of` (on an ``Api``), :func:`stage_deployment_id` and
  :func:`set_stage_deployment_id` (on a ``Stage``), :func:`incarnation_of` (on a Lambda
  function);
- moto's server as a WSGI app and its request handler: :func:`server_app`,
  :func:`request_handler_class`;
- moto's IAM policy evaluator: :func:`identity_policy_decision`;
- the patches of moto, each with why and the version it was checked on: :mod:`.speedups`
  (speed), :mod:`.memory` (memory) and :mod:`.corrections` (where moto is not AWS: AWS
  managed policies, CloudFormation's ManagedPolicyArns, the concurrency quota, filter patterns
  of terms), installed by
  :func:`apply_patches`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Any

from moto.backends import get_backend
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.logs.models import logs_backends
from moto.moto_api._internal import mock_random

from . import corrections, memory, speedups

__all__ = [
    "apply_patches",
    "backend",
    "deployments_of",
    "identity_policy_decision",
    "incarnation_of",
    "logs_backend",
    "random_id",
    "random_uuid",
    "request_handler_class",
    "seed_ids",
    "server_app",
    "set_stage_deployment_id",
    "stage_deployment_id",
]

_DEPLOYMENTS_ATTR = "_localcloud_deployments"  # on moto's Api: {deployment_id: Deployment}
_STAGE_DEPLOYMENT_ATTR = "_localcloud_deployment_id"  # on moto's Stage
_INCARNATION_ATTR = "_localcloud_incarnation"  # on moto's LambdaFunction
_incarnations = itertools.count(1)


def apply_patches(region: str = "us-east-1") -> None:
    """Install every patch of moto (the cloud process calls this once, at start, with the
    region it serves)."""
    speedups.apply()
    memory.apply()
    corrections.apply(region)


# --- backends ---------------------------------------------------------------------------


def backend(service: str, account_id: str, region: str) -> Any:
    """moto's in-process backend of ``service`` (``"global"`` is IAM's region)."""
    return get_backend(service)[account_id][region]  # type: ignore[call-overload]


def logs_backend(account_id: str, region: str) -> Any:
    """moto's CloudWatch Logs backend, without :func:`backend`'s import lookup: Lambda's log
    delivery reaches it a few times per invocation."""
    return logs_backends[account_id][region]


# --- seeded ids -------------------------------------------------------------------------


def seed_ids(seed: int) -> None:
    """Seed moto's id generator: the ids of APIs, routes, integrations and deployments repeat
    from run to run, so committed notebook outputs stay stable. ``mock_random`` is moto's
    private module (``moto.moto_api._internal``); ``POST /moto-api/seed`` does the same."""
    mock_random.seed(seed)


def random_id(alphabet: str, length: int) -> str:
    """An id drawn from moto's seeded generator (so it repeats when moto's ids do)."""
    return "".join(mock_random.choice(alphabet) for _ in range(length))


def random_uuid() -> str:
    """A uuid4 from moto's seeded generator (as moto makes a policy's RevisionId)."""
    return str(mock_random.uuid4())


# --- state kept on moto's objects -------------------------------------------------------


def deployments_of(api: Any) -> dict[str, Any]:
    """The deployments kept on moto's ``Api`` object (made on first use).

    moto 5.2 has no deployments. Kept on the ``Api``, they go when moto forgets it
    (``delete_api``, ``/moto-api/reset``), and a seeded moto that reuses an api id never
    sees stale ones."""
    found = api.__dict__.get(_DEPLOYMENTS_ATTR)
    if found is None:
        found = api.__dict__[_DEPLOYMENTS_ATTR] = {}
    return found


def stage_deployment_id(stage: Any) -> str | None:
    """The DeploymentId of moto's ``Stage`` (moto 5.2 drops the one it is given)."""
    return getattr(stage, _STAGE_DEPLOYMENT_ATTR, None)


def set_stage_deployment_id(stage: Any, deployment_id: str | None) -> None:
    setattr(stage, _STAGE_DEPLOYMENT_ATTR, deployment_id)
    stage.config["deploymentId"] = deployment_id


def incarnation_of(function: Any) -> int:
    """A number of its own for each function object moto makes (kept on it).

    A function deleted and created again under its name has the same ARN and, with the same
    zip, the same CodeSha256; only this tells the new one from the old, so that the runtime
    never serves it from the old one's warm environments. moto mutates a function on update
    (the number stays) and deep-copies it into a published version (the version keeps it)."""
    found = function.__dict__.get(_INCARNATION_ATTR)
    if found is None:
        found = function.__dict__.setdefault(_INCARNATION_ATTR, next(_incarnations))
    return found


# --- moto's server ----------------------------------------------------------------------


def server_app() -> Callable[..., Iterable[bytes]]:
    """moto's server as a WSGI app: every service on one port, dispatched by host and path."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def request_handler_class() -> type:
    """moto's werkzeug request handler (its ``make_environ`` keeps S3's underscored headers)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler


# --- moto's IAM policy evaluator --------------------------------------------------------


def identity_policy_decision(documents: Iterable[Any], action: str, resource: str) -> str:
    """``"deny"``, ``"allow"`` or ``"neutral"``: what identity-based policies (inline JSON
    documents or moto's managed ``Policy`` objects) say about ``action`` on ``resource``,
    evaluated by moto's own evaluator. moto evaluates conditions with no request context, so a
    statement with a Condition never allows."""
    results = [IAMPolicy(document).is_action_permitted(action, resource)
               for document in documents]
    if PermissionResult.DENIED in results:
        return "deny"
    if PermissionResult.PERMITTED in results:
        return "allow"
    return "neutral"
