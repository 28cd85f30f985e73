"""What exists of a learner's stack: each exact name of :class:`~workshop_utils.target.Names`
looked up with its tags, one AWS call (or one paginated listing) per resource.

Nothing here matches names by string prefix. Listings that AWS only offers by prefix or in
full (``describe_log_groups``, ``get_apis``) are read page by page and kept only on equality.
Ownership (whose a found resource is) is decided in :mod:`workshop_utils.ownership`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .route_logs import execution_log_group
from .target import Names, Target

MISSING = {"ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException",
           "NotFoundException", "ParameterNotFound"}
# How each kind reads in a sentence ("function wschat-connect ...").
SINGULAR = {"apis": "API", "functions": "function", "log groups": "log group",
            "parameters": "parameter", "roles": "role", "tables": "table"}


@dataclass(frozen=True)
class Found:
    """One resource that exists, with its tags. ``kind`` is a key of ``Names.everything()``."""

    kind: str
    name: str
    arn: str
    tags: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    # APIs: the id every other apigatewayv2 call takes; an API's execution log group: its API
    api_id: str | None = None


def missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in MISSING


def paged_tags(pages: Any) -> dict[str, str]:
    """The tags of every page of a ``[{"Key", "Value"}]`` listing (DynamoDB's, IAM's)."""
    return {t["Key"]: t["Value"] for page in pages for t in page.get("Tags", [])}


def table(target: Target, name: str) -> Found | None:
    ddb = target.client("dynamodb")
    try:
        arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    except ClientError as exc:
        if missing(exc):
            return None
        raise
    pages = ddb.get_paginator("list_tags_of_resource").paginate(ResourceArn=arn)
    return Found("tables", name, arn, paged_tags(pages))


def role(target: Target, name: str) -> Found | None:
    iam = target.client("iam")
    try:
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    except ClientError as exc:
        if missing(exc):
            return None
        raise
    pages = iam.get_paginator("list_role_tags").paginate(RoleName=name)
    return Found("roles", name, arn, paged_tags(pages))


def function(target: Target, name: str) -> Found | None:
    lam = target.client("lambda")
    try:
        response = lam.get_function(FunctionName=name)
    except ClientError as exc:
        if missing(exc):
            return None
        raise
    return Found("functions", name, response["Configuration"]["FunctionArn"],
                 dict(response.get("Tags") or {}))


def apis(target: Target, name: str) -> list[Found]:
    """Every API named exactly ``name`` (API Gateway does not keep API names unique)."""
    apigw = target.client("apigatewayv2")
    found = []
    for page in apigw.get_paginator("get_apis").paginate():
        for api in page.get("Items", []):
            if api["Name"] == name:
                arn = f"arn:{target.partition}:apigateway:{target.region}::/apis/{api['ApiId']}"
                found.append(Found("apis", name, arn, dict(api.get("Tags") or {}),
                                   api_id=api["ApiId"]))
    return found


def log_group(target: Target, name: str) -> Found | None:
    logs = target.client("logs")
    for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name):
        for group in page.get("logGroups", []):
            if group["logGroupName"] == name:
                arn = group.get("logGroupArn") or group["arn"].removesuffix(":*")
                try:
                    tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
                except ClientError as exc:
                    if missing(exc):  # deleted between the two calls
                        return None
                    raise
                return Found("log groups", name, arn, dict(tags))
    return None


def parameter(target: Target, name: str) -> Found | None:
    """An SSM parameter named exactly ``name`` (DescribeParameters with the ``Equals`` option:
    its metadata only, never its value)."""
    ssm = target.client("ssm")
    exact = [{"Key": "Name", "Option": "Equals", "Values": [name]}]
    for page in ssm.get_paginator("describe_parameters").paginate(ParameterFilters=exact):
        for meta in page.get("Parameters", []):
            if meta["Name"] != name:
                continue
            arn = meta.get("ARN") or target.arn("ssm", f"parameter/{name}")
            try:
                listed = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
            except ClientError as exc:
                # deleted between the two calls (SSM's ListTagsForResource then answers
                # InvalidResourceId, its botocore model's error for an unknown id)
                if missing(exc) or exc.response["Error"]["Code"] == "InvalidResourceId":
                    return None
                raise
            return Found("parameters", name, arn,
                         {t["Key"]: t["Value"] for t in listed.get("TagList", [])})
    return None


@dataclass
class Stack:
    """Everything of one prefix's exact names that exists, in ``Names.everything()`` order."""

    names: Names
    found: list[Found]

    def of_kind(self, kind: str) -> list[Found]:
        return [f for f in self.found if f.kind == kind]

    def get(self, kind: str, name: str) -> Found | None:
        return next((f for f in self.found if f.kind == kind and f.name == name), None)

    def parent_of(self, group: Found) -> tuple[str, str]:
        """(kind, name) of what writes to a log group: its function, or the API."""
        if group.name == self.names.access_log_group or group.api_id is not None:
            return "apis", self.names.api
        functions = {Names.function_log_group(fn): fn for fn in
                     self.names.every_function.values()}
        return "functions", functions[group.name]

    def parent(self, group: Found) -> Found | None:
        """What writes to a log group, if it exists: for an execution log, exactly its API
        (by id: API names are not unique), else :meth:`parent_of` by name."""
        if group.api_id is not None:
            return next((api for api in self.of_kind("apis") if api.api_id == group.api_id),
                        None)
        return self.get(*self.parent_of(group))

    def __iter__(self) -> Iterator[Found]:
        return iter(self.found)


def execution_log_groups(target: Target, api: Found) -> list[Found]:
    """The execution log groups of an API's stages that exist, by their exact names
    (``API-Gateway-Execution-Logs_{apiId}/{stage}``, which API Gateway creates untagged when
    a stage's execution logging is turned on). Never listed by prefix: the prefix
    ``API-Gateway-Execution-Logs_`` is every API's in the account. They are the API's: whose
    they are is whose the API is (:func:`workshop_utils.ownership.is_mine`)."""
    apigw = target.client("apigatewayv2")
    try:
        stages = [stage["StageName"] for page in apigw.get_paginator("get_stages").paginate(
            ApiId=api.api_id) for stage in page.get("Items", [])]
    except ClientError as exc:
        if missing(exc):  # deleted meanwhile
            return []
        raise
    found = []
    for stage in stages:
        group = log_group(target, execution_log_group(api.api_id, stage))
        if group is not None:
            found.append(Found(group.kind, group.name, group.arn, group.tags,
                               api_id=api.api_id))
    return found


def stack(target: Target, names: Names | None = None) -> Stack:
    """Look up every exact name of ``names`` (default: the target's own)."""
    names = names or target.names
    lookups: dict[str, Any] = {"tables": table, "roles": role, "functions": function,
                               "log groups": log_group, "parameters": parameter}
    found: list[Found] = []
    extra: list[Found] = []  # named after an API's id: known only once the API is found
    for kind, kind_names in names.everything().items():
        for name in kind_names:
            if kind == "apis":
                for api in apis(target, name):
                    found.append(api)
                    extra.extend(execution_log_groups(target, api))
                continue
            item = lookups[kind](target, name)
            if item is not None:
                found.append(item)
    return Stack(names, found + extra)
