"""Delete everything the workshop made for a learner, in an order AWS accepts, and prove it.

Notebook 08 teaches these deletes in its cells; ``workshop cleanup`` runs this module for a
learner who abandons halfway, and ``workshop class cleanup`` for an instructor. Only exact
names are considered (``Names.everything()``), and a learner deletes only what carries their
own ``workshop-owner`` tag: ``wschat``'s clean-up never touches ``wschat-alice``'s stack, nor a
stack someone else made under the same prefix. Each step tolerates what is already gone, so
a second run and a half-built stack are both fine.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from . import inventory
from .inventory import SINGULAR, Found, missing
from .ownership import describe_owner, is_mine
from .target import TAG_OWNER, TAG_PREFIX, TAG_WORKSHOP, Target

Say = Callable[[str], Any]
# Deletion order: the API invokes the functions, the functions write the logs, use the roles
# and read the token secret (the authorizer), and the table goes last (the functions' data).
ORDER = ["apis", "functions", "log groups", "roles", "parameters", "tables"]


def _ignore_missing(call: Any, *args: Any, **kwargs: Any) -> bool:
    """Run a delete; False if the thing was already gone."""
    try:
        call(*args, **kwargs)
        return True
    except ClientError as exc:
        if missing(exc):
            return False
        raise


def mine(target: Target) -> tuple[list[Found], list[Found]]:
    """The learner's resources by exact name: (theirs, the ones with their names that are not)."""
    stack = inventory.stack(target)
    ours = [f for f in stack if is_mine(target, f, stack)]
    return ours, [f for f in stack if f not in ours]


def delete_everything(target: Target, say: Say = print) -> list[Found]:
    """Delete the learner's own resources; returns those with their names that were left
    alone because they are someone else's (each one is also reported through ``say``)."""
    ours, others = mine(target)
    for found in others:
        say(f"left alone: {SINGULAR[found.kind]} {found.name} is not yours "
            f"({describe_owner(found)})")
    delete(target, ours, say)
    return others


def delete(target: Target, resources: Iterable[Found], say: Say = print) -> None:
    """Delete exactly ``resources`` (and what has no life without them: an API's routes and
    authorizers and stages, a function's permissions, a role's policies), in :data:`ORDER`."""
    by_kind: dict[str, list[Found]] = {kind: [] for kind in ORDER}
    for found in resources:
        by_kind[found.kind].append(found)
    apigw, lam = target.client("apigatewayv2"), target.client("lambda")
    logs, ddb, ssm = target.client("logs"), target.client("dynamodb"), target.client("ssm")
    for api in by_kind["apis"]:
        if _ignore_missing(apigw.delete_api, ApiId=api.api_id):
            say(f"deleted API {api.name} ({api.api_id})")
    for function in by_kind["functions"]:
        remove_permissions(lam, function.name)
        if _ignore_missing(lam.delete_function, FunctionName=function.name):
            say(f"deleted function {function.name}")
    for group in by_kind["log groups"]:
        if _ignore_missing(logs.delete_log_group, logGroupName=group.name):
            say(f"deleted log group {group.name}")
    for role in by_kind["roles"]:
        if delete_role(target, role.name):
            say(f"deleted role {role.name}")
    for parameter in by_kind["parameters"]:
        if _ignore_missing(ssm.delete_parameter, Name=parameter.name):
            say(f"deleted parameter {parameter.name}")
    for table in by_kind["tables"]:
        if _ignore_missing(ddb.delete_table, TableName=table.name):
            ddb.get_waiter("table_not_exists").wait(TableName=table.name)
            say(f"deleted table {table.name}")


def remove_permissions(lam: Any, function_name: str) -> None:
    """Every statement of the function's resource policy (API Gateway's invoke permission)."""
    try:
        policy = lam.get_policy(FunctionName=function_name)["Policy"]
    except ClientError as exc:
        if missing(exc):  # no function, or no policy
            return
        raise
    for statement in json.loads(policy).get("Statement", []):
        _ignore_missing(lam.remove_permission, FunctionName=function_name,
                        StatementId=statement["Sid"])


def delete_role(target: Target, name: str) -> bool:
    """Delete a role the way IAM requires: inline policies deleted, managed policies detached
    and instance profiles left first, or ``DeleteRole`` fails with DeleteConflict (IAM API
    Reference, DeleteRole). False if the role was already gone."""
    iam = target.client("iam")
    try:
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy_name in page["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for attached in page["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        for page in iam.get_paginator("list_instance_profiles_for_role").paginate(
                RoleName=name):
            for profile in page["InstanceProfiles"]:
                iam.remove_role_from_instance_profile(
                    InstanceProfileName=profile["InstanceProfileName"], RoleName=name)
        iam.delete_role(RoleName=name)
    except ClientError as exc:
        if missing(exc):
            return False
        raise
    return True


def log_groups(target: Target) -> list[str]:
    """The learner's log groups that exist: its functions' and its API's access log."""
    ours, _ = mine(target)
    return sorted(f.name for f in ours if f.kind == "log groups")


def leftovers(target: Target) -> dict[str, list[str]]:
    """What the learner still has: every exact name of the series that exists and is theirs,
    plus anything else tagged with their prefix and owner (so nothing escapes the list)."""
    ours, _ = mine(target)
    left: dict[str, list[str]] = {kind: [] for kind in sorted(ORDER)}
    for found in ours:
        left[found.kind].append(found.name)
    for kind, name in tagged_elsewhere(target, {f.arn for f in ours}):
        left.setdefault(kind, []).append(name)
    return {kind: sorted(names) for kind, names in left.items()}


def tagged_elsewhere(target: Target, known_arns: set[str]) -> list[tuple[str, str]]:
    """Resources tagged with the learner's prefix and owner that are not in the list of names
    (``tag:GetResources``; it does not return IAM roles). Each is checked to still exist,
    since GetResources may list a resource for a while after it was deleted."""
    tagging = target.client("resourcegroupstaggingapi")
    filters = [{"Key": TAG_WORKSHOP, "Values": [target.tags[TAG_WORKSHOP]]},
               {"Key": TAG_PREFIX, "Values": [target.prefix]},
               {"Key": TAG_OWNER, "Values": [target.owner]}]
    found, seen = [], set(known_arns)
    for page in tagging.get_paginator("get_resources").paginate(TagFilters=filters):
        for mapping in page.get("ResourceTagMappingList", []):
            arn = canonical_arn(mapping["ResourceARN"])
            if arn in seen:
                continue
            seen.add(arn)
            item = resolve(target, arn)
            if item is not None:
                found.append(item)
    return found


def canonical_arn(arn: str) -> str:
    """The ARN of the resource itself: a log group without ``:*``, an API for its stages."""
    arn = arn.removesuffix(":*")
    head, _, resource = arn.rpartition("::")
    if ":apigateway:" in head and resource.startswith("/apis/"):
        return f"{head}::/apis/{resource.split('/')[2]}"
    return arn


def resolve(target: Target, arn: str) -> tuple[str, str] | None:
    """(kind, name) of a tagged ARN if it still exists (other services: listed as they are)."""
    service, resource = arn.split(":")[2], arn.split(":", 5)[5]
    if service == "lambda" and resource.startswith("function:"):
        name = resource.split(":")[1]
        return ("functions", name) if inventory.function(target, name) else None
    if service == "dynamodb" and resource.startswith("table/"):
        name = resource.split("/")[1]
        return ("tables", name) if inventory.table(target, name) else None
    if service == "ssm" and resource.startswith("parameter/"):
        # parameter/<name> for a name without "/", parameter/<a>/<b> for "/<a>/<b>"
        rest = resource.removeprefix("parameter/")
        name = f"/{rest}" if "/" in rest else rest
        return ("parameters", name) if inventory.parameter(target, name) else None
    if service == "logs" and resource.startswith("log-group:"):
        name = resource.removeprefix("log-group:").removesuffix(":*")
        return ("log groups", name) if inventory.log_group(target, name) else None
    if service == "apigateway" and resource.startswith("/apis/"):
        api_id = resource.split("/")[2]
        try:
            name = target.client("apigatewayv2").get_api(ApiId=api_id)["Name"]
        except ClientError as exc:
            if missing(exc):
                return None
            raise
        return "apis", name
    return "other tagged", arn

