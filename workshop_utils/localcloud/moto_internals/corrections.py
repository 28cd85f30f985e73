"""Where moto behaves otherwise than AWS and the local cloud corrects it (checked on moto 5.2.5).

- **AWS managed policies.** moto knows AWS's managed policies (``moto/iam/
  aws_managed_policies.py``: 1,582 documents, AWS's own) but builds them into an account's IAM
  backend only with ``MOTO_IAM_LOAD_MANAGED_POLICIES`` or the ``iam.load_aws_managed_policies``
  config, read when the backend is made (``IAMBackend._init_aws_policies``). Without them,
  ``attach_role_policy(PolicyArn="arn:aws:iam::aws:policy/service-role/
  AWSLambdaBasicExecutionRole")``, what every Lambda tutorial does, fails with NoSuchEntity.
  The config is turned on here, in the cloud process, before any backend exists, for the
  partition of the cloud's region only: moto makes an IAM backend for each of its six
  partitions as soon as it looks up any access key (``get_account_id_from``), and parsing the
  1,582 documents into each of them cost 1 s and 43 MB on the first IAM call; for one
  partition it is 0.15 to 0.2 s and 16 MB of the cloud process, once per account (measured
  on 2 shared cores: the first IAM call 46-61 ms before, 191-283 ms after).
- **CloudFormation's ManagedPolicyArns.** moto's ``AWS::IAM::Role`` takes ``Policies`` and
  ignores ``ManagedPolicyArns``: a stack's role was made without them, and its functions' logs
  were silently dropped. Here they are attached on create, re-attached on update, detached on
  delete (otherwise moto's delete_role refuses with DeleteConflict, as AWS would).
- **The account's concurrency quota.** moto checks ``put_function_concurrency`` against the
  account's quota only when ``MOTO_LAMBDA_CONCURRENCY_QUOTA`` is set; AWS's default quota is
  1,000 concurrent executions with 100 left unreserved (Lambda Developer Guide,
  gettingstarted-limits; LocalStack's AWS snapshot ``TestLambdaReservedConcurrency``). It is
  set to 1,000 in the cloud process unless the environment says otherwise.
- **Filter patterns of terms.** moto's ``filter_log_events`` reads ``"a" "b"`` as one phrase
  (nothing matches) and lets ``?a ?b`` and ``-a`` match every event; AWS ANDs terms, ORs
  ``?`` terms and drops ``-`` terms (:mod:`.filter_patterns`).
"""

from __future__ import annotations

import functools
import os
import random
from typing import Any

from moto.core.config import default_user_config
from moto.iam import utils as iam_utils
from moto.iam.models import IAMBackend, Role, iam_backends
from moto.logs import models as logs_models
from moto.utilities.utils import get_partition

from .filter_patterns import parse_terms

DEFAULT_CONCURRENCY_QUOTA = "1000"
AWS_POLICY_ID_SEED = 2015  # any constant: the AWS managed policies' ids, fixed


def apply(region: str) -> None:
    """What the local cloud calls once at start, before any backend is made."""
    load_aws_managed_policies(region)
    account_concurrency_quota()
    attach_managed_policy_arns()
    match_filter_terms()


def load_aws_managed_policies(region: str) -> None:
    """Turn on moto's AWS managed policies, in the IAM backends of ``region``'s partition only
    (an IAMBackend's ``region_name`` is its partition): moto makes a backend for each of its
    six partitions on the first IAM call, and the 1,582 documents parsed into each of them
    cost 1 s and 43 MB. Their ids come from a generator of their own, so that moto's seeded
    ids (the notebooks' outputs) do not move. Checked on moto 5.2.5
    (``IAMBackend._init_aws_policies``, ``moto.iam.models.get_account_id_from``,
    ``moto.iam.utils.random_policy_id``)."""
    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
    partition = get_partition(region)
    original = getattr(IAMBackend._init_aws_policies, "_localcloud_original",
                       IAMBackend._init_aws_policies)

    @functools.wraps(original)
    def _init_aws_policies(self: IAMBackend) -> list[Any]:
        if self.region_name != partition:
            return []
        # Each policy draws its PolicyId from moto's seeded generator (``random_policy_id``):
        # 1,582 draws would shift every id made after the first IAM call (the APIs, routes
        # and deployments the notebooks print). They draw from a generator of their own, so
        # the seeded ids repeat as before, and AWS managed policies get the same ids in every
        # account and run (on AWS too their ids are fixed).
        seeded = iam_utils.random
        iam_utils.random = random.Random(AWS_POLICY_ID_SEED)  # type: ignore[assignment]
        try:
            return original(self)
        finally:
            iam_utils.random = seeded

    _init_aws_policies._localcloud_original = original  # type: ignore[attr-defined]
    IAMBackend._init_aws_policies = _init_aws_policies  # type: ignore[method-assign]


def account_concurrency_quota() -> None:
    """Give moto's ``put_function_concurrency`` AWS's default account quota (1,000 concurrent
    executions, 100 of them left unreserved) unless the environment sets another: moto checks
    the quota only when ``MOTO_LAMBDA_CONCURRENCY_QUOTA`` is set, and reads it at each call.
    Checked on moto 5.2.5 (``LambdaBackend.put_function_concurrency``)."""
    os.environ.setdefault("MOTO_LAMBDA_CONCURRENCY_QUOTA", DEFAULT_CONCURRENCY_QUOTA)


def _policy_arns(cloudformation_json: dict[str, Any]) -> list[str]:
    arns = (cloudformation_json.get("Properties") or {}).get("ManagedPolicyArns") or []
    return [str(arn) for arn in arns]


def attach_managed_policy_arns() -> None:
    """Make moto's ``AWS::IAM::Role`` attach its ``ManagedPolicyArns`` on create, keep them
    in step on update and detach them on delete (moto takes ``Policies`` only, so a stack's
    role had none of them, and moto's delete_role would refuse a role that had). Checked on
    moto 5.2.5 (``Role.create_from_cloudformation_json`` and its update and delete)."""
    if getattr(Role, "_localcloud_managed_policy_arns", False):
        return
    create = Role.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    update = Role.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]
    delete = Role.delete_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    @functools.wraps(create)
    def create_role(cls: type, resource_name: str, cloudformation_json: dict[str, Any],
                    account_id: str, region_name: str, **kwargs: Any) -> Any:
        role = create(cls, resource_name, cloudformation_json, account_id, region_name,
                      **kwargs)
        backend = iam_backends[account_id][get_partition(region_name)]
        for arn in _policy_arns(cloudformation_json):
            backend.attach_role_policy(arn, role.name)
        return role

    @functools.wraps(update)
    def update_role(cls: type, original_resource: Any, new_resource_name: str,
                    cloudformation_json: dict[str, Any], account_id: str,
                    region_name: str) -> Any:
        role = update(cls, original_resource, new_resource_name, cloudformation_json,
                      account_id, region_name)
        backend = iam_backends[account_id][get_partition(region_name)]
        wanted = _policy_arns(cloudformation_json)
        for arn in list(role.managed_policies):
            if arn not in wanted:
                backend.detach_role_policy(arn, role.name)
        for arn in wanted:
            if arn not in role.managed_policies:
                backend.attach_role_policy(arn, role.name)
        return role

    @functools.wraps(delete)
    def delete_role(cls: type, resource_name: str, cloudformation_json: dict[str, Any],
                    account_id: str, region_name: str) -> None:
        backend = iam_backends[account_id][get_partition(region_name)]
        for role in list(backend.roles.values()):
            if role.name == resource_name:
                for arn in list(role.managed_policies):
                    backend.detach_role_policy(arn, role.name)
        delete(cls, resource_name, cloudformation_json, account_id, region_name)

    Role.create_from_cloudformation_json = classmethod(create_role)  # type: ignore[method-assign,assignment]
    Role.update_from_cloudformation_json = classmethod(update_role)  # type: ignore[method-assign,assignment]
    Role.delete_from_cloudformation_json = classmethod(delete_role)  # type: ignore[method-assign,assignment]
    Role._localcloud_managed_policy_arns = True  # type: ignore[attr-defined]


def match_filter_terms() -> None:
    """Give moto's logs backend AWS's matching of term patterns (see :mod:`.filter_patterns`),
    and leave JSON, space-delimited and regex patterns to moto's own filter. Checked on moto
    5.2.5 (``moto.logs.models`` calls ``EventMessageFilter(pattern).matches(message)`` in
    ``LogStream.filter_log_events`` and for subscription filters)."""
    moto_filter = getattr(logs_models.EventMessageFilter, "_localcloud_original",
                          logs_models.EventMessageFilter)

    class EventMessageFilter:
        _localcloud_original = moto_filter

        def __init__(self, pattern: str) -> None:
            self.terms = parse_terms(pattern or "")
            self.moto = moto_filter(pattern) if self.terms is None else None

        def matches(self, message: str) -> bool:
            if self.terms is not None:
                return self.terms.matches(message)
            return self.moto.matches(message)

    logs_models.EventMessageFilter = EventMessageFilter  # type: ignore[misc,assignment]
