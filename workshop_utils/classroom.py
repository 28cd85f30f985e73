"""The instructor's view of one account and region: every learner's stack, found by tag.

A stack is a prefix. Prefixes are found from the ``workshop`` tag: Resource Groups Tagging
API ``GetResources`` for tables, functions, log groups and SSM parameters; ``get_apis`` (its
items carry ``Tags``) for APIs, since moto's GetResources does not cover apigatewayv2; and
``list_roles`` + ``list_role_tags`` for roles (the chat's and the authorizer's), which
GetResources does not return on AWS either ("IAM users and roles can only be used in
TagResources and UntagResources", Resource Groups Tagging API reference, supported services).
Then each prefix's exact names are looked up, and only what
carries the ``workshop`` tag and that prefix's ``workshop-prefix`` tag counts as the series'
(with untagged log groups following their parent, as in :mod:`workshop_utils.ownership`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import inventory
from .inventory import Found, Stack
from .target import PREFIX_RE, TAG_OWNER, TAG_PREFIX, TAG_WORKSHOP, WORKSHOP_TAG, Names, Target

# Only to pick candidate roles (the chat's and the authorizer's); each is confirmed by its tags.
ROLE_SUFFIXES = ("-chat-role", "-authorizer-role")


@dataclass
class LearnerStack:
    """What the series made for one prefix, and when it was last used."""

    prefix: str
    resources: list[Found] = field(default_factory=list)
    last_activity_ms: int | None = None

    @property
    def names(self) -> Names:
        return Names(self.prefix)

    @property
    def owners(self) -> list[str]:
        return sorted({f.tags[TAG_OWNER] for f in self.resources if TAG_OWNER in f.tags})

    def has(self, kind: str, name: str | None = None) -> bool:
        return any(f.kind == kind and (name is None or f.name == name) for f in self.resources)

    def progress(self) -> dict[str, str]:
        """Which notebooks' resources exist: 01 table, 02 role, 03 functions, 04 API,
        06 access log, and the authorizer's function, role and token secret."""
        names = self.names
        functions = sum(self.has("functions", n) for n in names.functions.values())
        authorizer = sum([self.has("functions", names.function("authorizer")),
                          self.has("roles", names.authorizer_role),
                          self.has("parameters", names.token_parameter)])
        return {
            "01": "yes" if self.has("tables") else "-",
            "02": "yes" if self.has("roles") else "-",
            "03": f"{functions}/{len(names.functions)}" if functions else "-",
            "04": "yes" if self.has("apis") else "-",
            "06": "yes" if self.has("log groups", names.access_log_group) else "-",
            "authorizer": {0: "-", 3: "yes"}.get(authorizer, f"{authorizer}/3"),
        }


def made_by_series(found: Found, prefix: str, stack: Stack) -> bool:
    """Tagged as the workshop's, for this prefix (untagged log groups: by their parent)."""
    if found.tags.get(TAG_WORKSHOP) == WORKSHOP_TAG:
        return found.tags.get(TAG_PREFIX) == prefix
    if found.kind == "log groups" and not found.tags:
        parent = stack.parent(found)
        if found.api_id is not None:  # an execution log: its API's, found by id
            return parent is not None and made_by_series(parent, prefix, stack)
        return parent is None or made_by_series(parent, prefix, stack)
    return False


def prefixes(target: Target) -> set[str]:
    """Every prefix that has something tagged as the workshop's in the account and region."""
    found: set[str] = set()
    tagging = target.client("resourcegroupstaggingapi")
    for page in tagging.get_paginator("get_resources").paginate(
            TagFilters=[{"Key": TAG_WORKSHOP, "Values": [WORKSHOP_TAG]}]):
        for mapping in page.get("ResourceTagMappingList", []):
            tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
            found.add(tags.get(TAG_PREFIX, ""))
    for page in target.client("apigatewayv2").get_paginator("get_apis").paginate():
        for api in page.get("Items", []):
            tags = api.get("Tags") or {}
            if tags.get(TAG_WORKSHOP) == WORKSHOP_TAG:
                found.add(tags.get(TAG_PREFIX, ""))
    iam = target.client("iam")
    for page in iam.get_paginator("list_roles").paginate():
        for role in page["Roles"]:
            if not role["RoleName"].endswith(ROLE_SUFFIXES):
                continue
            role_stack = inventory.role(target, role["RoleName"])
            if role_stack and role_stack.tags.get(TAG_WORKSHOP) == WORKSHOP_TAG:
                found.add(role_stack.tags.get(TAG_PREFIX, ""))
    return {p for p in found if PREFIX_RE.match(p)}


def last_activity_ms(target: Target, stack: Stack) -> int | None:
    """The newest log event of the stack's function log groups (``describe_log_streams``
    ordered by LastEventTime; AWS updates that time within about an hour)."""
    logs = target.client("logs")
    newest = None
    function_groups = {Names.function_log_group(n) for n in stack.names.every_function.values()}
    for group in stack.of_kind("log groups"):
        if group.name not in function_groups:
            continue
        streams = logs.describe_log_streams(logGroupName=group.name, orderBy="LastEventTime",
                                            descending=True, limit=1).get("logStreams", [])
        stamps = [s.get("lastEventTimestamp") or s.get("creationTime") for s in streams]
        for stamp in stamps:
            if stamp and (newest is None or stamp > newest):
                newest = stamp
    return newest


def learner_stack(target: Target, prefix: str) -> LearnerStack:
    """What the series made for ``prefix`` (exact names, workshop-tagged)."""
    stack = inventory.stack(target, Names(prefix))
    mine = [f for f in stack if made_by_series(f, prefix, stack)]
    kept = Stack(stack.names, mine)
    return LearnerStack(prefix, mine, last_activity_ms(target, kept))


def stacks(target: Target, only: str | None = None) -> list[LearnerStack]:
    """Every learner's stack (or only prefix ``only``), sorted by prefix; empty ones left out."""
    wanted = sorted(prefixes(target) if only is None else {only})
    found = [learner_stack(target, prefix) for prefix in wanted]
    return [s for s in found if s.resources]
