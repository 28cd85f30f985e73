"""Lambda's control plane where moto is too lenient: what CreateFunction and the updates refuse,
and the policy revision moto forgets to change.

moto accepts what Lambda rejects (NOTES-moto.md, "Found later"): reserved environment keys, a
role that trusts another service, runtimes past their block-create date, layer ARNs that are
not layer versions. Each check here raises the error AWS answers, with its code and text
(sources in /work/research/lambda-and-iam.md §3.3 and §4, cited at each check); the request
then goes to moto unchanged. :mod:`.responses` takes the requests apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .. import moto_internals
from ..iam.trust_policies import lambda_may_assume
from . import runtimes
from .exceptions import InvalidParameterValue, LayersValidation

if TYPE_CHECKING:
    from ..parts import CloudParts

# Lambda Developer Guide, configuration-envvars ("Defined runtime environment variables": "The
# keys for these environment variables are reserved and cannot be set in your function
# configuration"), plus AWS_DEFAULT_REGION, which the API refuses too though the page does not
# list it (observed: aws/aws-cdk#28048). Chosen: every key of the documented list is refused,
# though only AWS_REGION, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
# AWS_SESSION_TOKEN have been seen refused.
RESERVED_ENVIRONMENT_KEYS = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})
MAX_LAYERS = 5  # Lambda Developer Guide, gettingstarted-limits: "Function layers: five layers"
_LAYER_VERSION_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):\d{12}:layer:(?P<name>[a-zA-Z0-9_-]+)"
    r":(?P<version>\d+)$")
_ROLE_NAME = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/(?:.*/)?(?P<name>[^/]+)$")


def today() -> datetime:
    return datetime.now(UTC)


def check_environment(variables: Any) -> None:
    """Reserved keys are refused, named in the order given (observed, 2019-2024: "Reserved
    keys used in this request: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY")."""
    if not isinstance(variables, Mapping):
        return
    reserved = [key for key in variables if key in RESERVED_ENVIRONMENT_KEYS]
    if reserved:
        raise InvalidParameterValue(
            "Lambda was unable to configure your environment variables because the "
            "environment variables you have provided contains reserved keys that are currently "
            f"not supported for modification. Reserved keys used in this request: "
            f"{', '.join(reserved)}")


def check_runtime(runtime: Any, *, creating: bool) -> None:
    """A runtime past its block date, or one Lambda does not know, is refused
    (:mod:`.runtimes`)."""
    if not isinstance(runtime, str):
        return
    refusal = runtimes.refusal(runtime, creating=creating, today=today().date())
    if refusal is not None:
        raise InvalidParameterValue(refusal)


def check_role(parts: CloudParts, role_arn: Any, function_arn: str) -> None:
    """A role whose trust policy does not let Lambda assume it is refused. A role that does not
    exist, or a malformed ARN, is left to moto, which answers those as AWS does."""
    match = _ROLE_NAME.match(role_arn) if isinstance(role_arn, str) else None
    if match is None:
        return
    try:
        role = parts.moto_backend("iam", "global").get_role(match["name"])
    except Exception:  # moto's NoSuchEntity: moto's create_function refuses it
        return
    if not lambda_may_assume(role.assume_role_policy_document,
                             account_id=parts.settings.account_id, function_arn=function_arn):
        raise InvalidParameterValue(
            "The role defined for the function cannot be assumed by Lambda.")


def check_layers(parts: CloudParts, region: str, layers: Any) -> None:
    """``Layers`` as AWS checks them (LocalStack's AWS snapshots, 2025-2026): each a layer
    version ARN, at most five, in the function's region, one version per layer, each one
    published."""
    if not isinstance(layers, Sequence) or isinstance(layers, str):
        return
    layers = [str(arn) for arn in layers]
    matches = [_LAYER_VERSION_ARN.match(arn) for arn in layers]
    if not all(matches):
        raise LayersValidation(layers)
    if len(layers) > MAX_LAYERS:
        raise InvalidParameterValue(f"Cannot reference more than {MAX_LAYERS} layers.")
    seen: dict[str, str] = {}
    for arn, match in zip(layers, matches, strict=True):
        assert match is not None
        if match["region"] != region:
            raise InvalidParameterValue(
                "Layers are not in the same region as the function. Layers are expected to be "
                f"in region {region}.")
        if match["name"] in seen:
            raise InvalidParameterValue(
                "Two different versions of the same layer are not allowed to be referenced in "
                f"the same function. {seen[match['name']]} and {arn} are versions of the same "
                "layer.")
        seen[match["name"]] = arn
    backend = parts.moto_backend("lambda", region)
    for arn in layers:
        if backend.layers_versions_by_arn(arn) is None:
            raise InvalidParameterValue(f"Layer version {arn} does not exist.")


def check_function_config(parts: CloudParts, region: str, function_arn: str,
                          body: Mapping[str, Any], *, creating: bool,
                          current_runtime: str | None = None) -> None:
    """What CreateFunction (``creating``) or UpdateFunctionConfiguration refuses in ``body``.
    An update that sets no runtime is still refused when the function's ``current_runtime``
    is past its block-update date."""
    if "Runtime" in body:
        check_runtime(body["Runtime"], creating=True)
    elif not creating and current_runtime:
        check_runtime(current_runtime, creating=False)
    environment = body.get("Environment")
    if isinstance(environment, Mapping):
        check_environment(environment.get("Variables"))
    if "Layers" in body:
        check_layers(parts, region, body["Layers"])
    if "Role" in body:
        check_role(parts, body["Role"], function_arn)


def policy_changed(function: Any) -> None:
    """A statement was removed from ``function``'s resource policy: give the policy a new
    revision, as AWS does (moto 5.2.5 changes it on add only). The gateway's decisions are
    cached per revision (:mod:`..iam.resource_policies`), so the next invocation is decided
    on the policy as it is now."""
    policy = getattr(function, "policy", None)
    if policy is not None:
        policy.revision = moto_internals.random_uuid()
