"""Who the learner is, from ``sts.get_caller_identity``: the owner of what they make, and the
default prefix on AWS.

Learners on a shared image (JupyterHub, containers, a classroom VM) share an OS user name
(jovyan, ec2-user, root), so that cannot tell them apart; their AWS identities can. The owner
is written on every resource as the ``workshop-owner`` tag, and a resource with another owner
is never adopted (:mod:`workshop_utils.ownership`).

The identity's ARN has one of these shapes (IAM User Guide, "IAM identifiers", and the STS
``GetCallerIdentity`` reference):

- ``arn:aws:iam::111122223333:user/path/alice``: an IAM user (names are unique in the account,
  case-insensitively);
- ``arn:aws:sts::111122223333:assumed-role/RoleName/session``: a role session, also IAM
  Identity Center (SSO), where the session name is the person's user name; session names are
  chosen by the caller and are *not* unique in the account;
- ``arn:aws:sts::111122223333:federated-user/name`` and ``arn:aws:iam::111122223333:root``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

PREFIX_BASE = "wschat"
# The prefix is at most 24 characters (target.PREFIX_RE): "wschat-" leaves 17 for the name,
# or 12 plus "-" and a 4-character hash of the ARN when the name alone could collide.
MAX_PLAIN_NAME = 17
MAX_HASHED_NAME = 12
HASH_CHARS = 4
# botocore names a role session "botocore-session-<epoch>" when a profile gives no
# role_session_name: it changes with every refresh of the credentials, so it is no one's name.
GENERATED_SESSION = re.compile(r"botocore-session-\d+")
# What a tag value may contain on every service the workshop tags (IAM's rule is the narrowest:
# letters, digits, spaces and _ . : / = + - @), and its length limit (256 everywhere).
TAG_VALUE_RE = re.compile(r"[A-Za-z0-9 _.:/=+\-@]*")
MAX_TAG_VALUE = 256


class IdentityError(RuntimeError):
    """The caller's identity cannot name a learner; the message says what to set instead."""


@dataclass(frozen=True)
class Identity:
    """The caller, as ``sts.get_caller_identity`` describes it."""

    arn: str
    account: str

    @property
    def partition(self) -> str:
        return self.arn.split(":", 2)[1]

    @property
    def kind(self) -> str:
        """``user``, ``assumed-role``, ``federated-user``, ``root`` (or what the ARN says)."""
        resource = self.arn.split(":", 5)[5]
        return resource.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The person's name in the ARN: the user name, or the role session name."""
        resource = self.arn.split(":", 5)[5]
        return resource.rsplit("/", 1)[-1]

    @property
    def session_is_generated(self) -> bool:
        return self.kind == "assumed-role" and bool(GENERATED_SESSION.fullmatch(self.name))

    @property
    def owner(self) -> str:
        """The ``workshop-owner`` tag value: the ARN, stable across sessions of one person.

        A generated session name changes with each credential refresh, so such a session is
        owned as the role (``.../assumed-role/RoleName``); a stable session name (SSO's user
        name, an explicit ``role_session_name``) stays in, since it is the person.
        """
        arn = self.arn.rsplit("/", 1)[0] if self.session_is_generated else self.arn
        return tag_value(arn)


def from_response(response: dict[str, Any]) -> Identity:
    """An :class:`Identity` from a ``get_caller_identity`` response."""
    return Identity(arn=response["Arn"], account=response["Account"])


def tag_value(text: str) -> str:
    """``text`` as a tag value every service accepts; changed (with a hash of the original,
    so two different texts stay different) only if it has characters IAM refuses in a tag
    value or is longer than 256."""
    if TAG_VALUE_RE.fullmatch(text) and len(text) <= MAX_TAG_VALUE:
        return text
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9 _.:/=+\-@]", "_", text)[: MAX_TAG_VALUE - 17]
    return f"{safe}+{digest}"


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_CHARS]


def default_prefix(identity: Identity) -> str:
    """The AWS default prefix, ``wschat-<name>``, so that two learners differ.

    The name is lowercased and every run of other characters becomes one hyphen. The plain
    form is used only when it cannot collide: an IAM user (unique in the account) whose name
    already was lowercase letters, digits and hyphens, within 17 characters; or the root user.
    Otherwise (a role session, whose name another role may also use; a name that lost
    characters or length) a hash of the ARN is appended: ``wschat-<name[:12]>-<4 hex>``.
    Anything that still collides meets the owner tag (:mod:`workshop_utils.ownership`).
    """
    if identity.session_is_generated:
        raise IdentityError(
            f"your AWS identity is a role session with a generated name ({identity.arn}), "
            "which changes with every login; set WORKSHOP_PREFIX (e.g. WORKSHOP_PREFIX="
            "wschat-yourname) or a role_session_name in your AWS profile"
        )
    if identity.kind == "root":
        return f"{PREFIX_BASE}-root"
    name = identity.name
    clean = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    unique_in_account = identity.kind == "user"
    if unique_in_account and clean == name and 0 < len(clean) <= MAX_PLAIN_NAME:
        return f"{PREFIX_BASE}-{clean}"
    short = clean[:MAX_HASHED_NAME].strip("-")
    hashed = _short_hash(identity.arn)
    return f"{PREFIX_BASE}-{short}-{hashed}" if short else f"{PREFIX_BASE}-{hashed}"
