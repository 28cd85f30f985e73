"""Delete everything the workshop made for a prefix, in an order AWS accepts, and prove it.

Notebook 07 teaches these deletes in its cells; ``workshop cleanup`` runs this module for a
learner who abandons halfway. Each step tolerates what is already gone, so a second run and a
half-built stack are both fine.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .target import Target


def _ignore_missing(call: Any, *args: Any, **kwargs: Any) -> bool:
    """Run a delete; False if the thing was already gone."""
    try:
        call(*args, **kwargs)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {
            "NotFoundException", "ResourceNotFoundException", "NoSuchEntity",
            "NoSuchEntityException",
        }:
            return False
        raise


def delete_everything(target: Target, say: Any = print) -> None:
    """API first (it invokes the functions), then permissions, functions, logs, role, table."""
    names = target.names
    apigw, lam = target.client("apigatewayv2"), target.client("lambda")
    logs, iam, ddb = target.client("logs"), target.client("iam"), target.client("dynamodb")

    for api in apigw.get_apis().get("Items", []):
        if api["Name"] == names.api:
            apigw.delete_api(ApiId=api["ApiId"])
            say(f"deleted API {api['Name']} ({api['ApiId']})")
    for name in names.functions.values():
        try:
            policy = lam.get_policy(FunctionName=name)["Policy"]
        except ClientError:
            policy = None
        if policy:
            for statement in json.loads(policy).get("Statement", []):
                _ignore_missing(lam.remove_permission, FunctionName=name,
                                StatementId=statement["Sid"])
        if _ignore_missing(lam.delete_function, FunctionName=name):
            say(f"deleted function {name}")
    for group in log_groups(target):
        _ignore_missing(logs.delete_log_group, logGroupName=group)
        say(f"deleted log group {group}")
    try:
        for policy_name in iam.list_role_policies(RoleName=names.role)["PolicyNames"]:
            iam.delete_role_policy(RoleName=names.role, PolicyName=policy_name)
        for attached in iam.list_attached_role_policies(RoleName=names.role)[
                "AttachedPolicies"]:
            iam.detach_role_policy(RoleName=names.role, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=names.role)
        say(f"deleted role {names.role}")
    except iam.exceptions.NoSuchEntityException:
        pass
    if _ignore_missing(ddb.delete_table, TableName=names.table):
        ddb.get_waiter("table_not_exists").wait(TableName=names.table)
        say(f"deleted table {names.table}")


def log_groups(target: Target) -> list[str]:
    """The workshop's log groups: its functions' and its API's access log."""
    logs = target.client("logs")
    prefixes = [f"/aws/lambda/{target.prefix}-", f"/aws/apigateway/{target.prefix}-"]
    found = []
    for prefix in prefixes:
        for page in logs.get_paginator("describe_log_groups").paginate(
                logGroupNamePrefix=prefix):
            found.extend(g["logGroupName"] for g in page["logGroups"])
    return sorted(found)


def leftovers(target: Target) -> dict[str, list[str]]:
    """Every kind of resource the workshop makes, listed by the learner's prefix."""
    p = target.prefix
    apigw, lam = target.client("apigatewayv2"), target.client("lambda")
    iam, ddb = target.client("iam"), target.client("dynamodb")
    functions = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate()
                 for f in page["Functions"] if f["FunctionName"].startswith(p + "-")]
    roles = [r["RoleName"] for page in iam.get_paginator("list_roles").paginate()
             for r in page["Roles"] if r["RoleName"].startswith(p + "-")]
    tables = [t for page in ddb.get_paginator("list_tables").paginate()
              for t in page["TableNames"] if t.startswith(p + "-")]
    apis = [a["Name"] for a in apigw.get_apis().get("Items", []) if a["Name"].startswith(p + "-")]
    return {"apis": apis, "functions": sorted(functions), "log groups": log_groups(target),
            "roles": sorted(roles), "tables": sorted(tables)}
