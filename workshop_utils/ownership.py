"""One owner per resource: what a learner may reuse, and what clean-up may delete.

Every resource the series makes carries the ``workshop-owner`` tag (the caller's identity, see
:mod:`workshop_utils.identity`). A step that finds its resource already there reuses it only
if the tag is the learner's own; anything else (another owner, or no owner tag) is refused
with :class:`OwnershipError`, so two learners can never share, and then delete, one stack.

Log groups are the exception AWS makes: Lambda and API Gateway create them untagged when they
are missing. An untagged log group follows its parent (the function, or the API of an access
log): it is the learner's when the parent is theirs, or when there is no parent any more (a
log group outlives its function, and only this prefix's function writes to that exact name).
An API's execution log group (``API-Gateway-Execution-Logs_{apiId}/{stage}``) is named by the
API's id, not the prefix: it is the learner's only while its API exists and is theirs.

On AWS a resource made a moment ago can read as untagged for a few seconds: a resource with no
tags at all is read again for that long before it counts as untagged (:func:`settled`).
"""

from __future__ import annotations

from . import inventory, waiting
from .inventory import SINGULAR, Found, Stack
from .target import TAG_OWNER, Target


class OwnershipError(RuntimeError):
    """A resource with the learner's exact name belongs to someone else; nothing was changed."""


def owner_of(found: Found) -> str | None:
    return found.tags.get(TAG_OWNER)


def settled(target: Target, found: Found) -> Found:
    """``found``, or, when it has no tags at all, what a re-read shows once AWS has had a few
    seconds to show them (``waiting.until_tagged``; no wait locally). A table the learner made
    a moment ago can read as untagged on AWS; refusing it then would refuse their own.
    Untagged log groups are left as they are: AWS's services make them so."""
    if found.tags or found.kind == "log groups":
        return found

    def read() -> Found | None:
        if found.kind == "apis":
            return next((a for a in inventory.apis(target, found.name)
                         if a.api_id == found.api_id), None)
        return LOOKUPS[found.kind](target, found.name)

    again = waiting.until_tagged(found, read, lambda item: item.tags,
                                 timeout_s=target.tag_settle_s)
    return again if again is not None else found


def is_mine(target: Target, found: Found, stack: Stack | None = None) -> bool:
    """True if ``found`` is the target's learner's (see the module docstring for log groups)."""
    found = settled(target, found)
    owner = owner_of(found)
    if owner is not None:
        return owner == target.owner
    if found.kind == "log groups" and stack is not None:
        parent = stack.parent(found)
        if found.api_id is not None:  # an execution log: exactly its API's, found by its id
            return parent is not None and is_mine(target, parent, stack)
        return parent is None or is_mine(target, parent, stack)
    return False


def describe_owner(found: Found) -> str:
    owner = owner_of(found)
    if owner is None:
        return ("it has no workshop-owner tag (made by hand, or by an older version of the "
                "workshop)")
    return f"its workshop-owner is {owner}"


def refusal(target: Target, found: Found) -> OwnershipError:
    """The error for a resource that exists with the learner's name but is not theirs."""
    return OwnershipError(
        f"{SINGULAR[found.kind]} {found.name} already exists and is not yours: "
        f"{describe_owner(found)}, and you are {target.owner}. Nothing was changed. "
        f"The prefix {target.prefix!r} is taken: set WORKSHOP_PREFIX to a prefix of your own (e.g. "
        f"WORKSHOP_PREFIX={target.prefix}-2) and restart the kernel; an instructor can remove "
        f"the other stack with `workshop class cleanup --prefix {target.prefix}`"
    )


def claim(target: Target, found: Found, stack: Stack | None = None) -> Found:
    """``found`` if it is the learner's to reuse; :class:`OwnershipError` otherwise."""
    if not is_mine(target, found, stack):
        raise refusal(target, found)
    return found


def require_mine(target: Target, kind: str, name: str) -> Found:
    """For a create call that met "already exists": the resource, if it is the learner's to
    reuse; :class:`OwnershipError` otherwise. ``kind`` is a key of ``Names.everything()``.

    Notebooks call it in their ``except …AlreadyExists…`` branches, so that re-running a cell
    reuses the learner's own resource and never adopts someone else's.
    """
    if kind == "apis":
        found_apis = inventory.apis(target, name)
        for api in found_apis:
            if is_mine(target, api):
                return api
        if found_apis:
            raise refusal(target, found_apis[0])
        found = None
    else:
        found = LOOKUPS[kind](target, name)
    if found is None:  # it existed a moment ago: say so, do not guess
        raise RuntimeError(f"{SINGULAR[kind]} {name} exists no more (deleted meanwhile); run "
                           "the step again")
    context = None
    if kind == "log groups":
        parent_kind, parent_name = Stack(target.names, [found]).parent_of(found)
        if parent_kind == "apis":
            apis = inventory.apis(target, parent_name)
            parent = next((a for a in apis if is_mine(target, a)), apis[0] if apis else None)
        else:
            parent = inventory.function(target, parent_name)
        context = Stack(target.names, [found] + ([parent] if parent else []))
    return claim(target, found, context)


LOOKUPS = {"tables": inventory.table, "roles": inventory.role, "functions": inventory.function,
           "log groups": inventory.log_group, "parameters": inventory.parameter}
