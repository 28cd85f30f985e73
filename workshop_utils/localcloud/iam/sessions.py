"""The execution role's credentials, handed to each function, and who signed a request.

Each function runs with credentials of its execution role (an "assumed-role" session named
after the function). A request signed with them is recognised by its access key id, so the
parts that enforce IAM know which role and function made it; requests signed with any other key
(the learner's notebook, tests) are not a function's and are not checked.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading

CREDENTIAL = re.compile(r"Credential=([A-Z0-9]+)/\d{8}/([a-z0-9-]+)/")


class RoleSessions:
    """Credentials handed to functions, by access key id."""

    def __init__(self) -> None:
        self._sessions: dict[str, tuple[str, str]] = {}  # access key id -> (role ARN, name)
        self._lock = threading.Lock()

    def credentials(self, role_arn: str, session_name: str) -> tuple[str, str, str]:
        """Access key, secret and token of ``role_arn`` assumed as ``session_name``
        (deterministic: the same function gets the same key in every run)."""
        digest = hashlib.sha256(f"{role_arn}|{session_name}".encode()).digest()
        key_id = "ASIA" + base64.b32encode(digest).decode()[:16]
        secret = base64.b64encode(digest + digest[:10]).decode()[:40]
        token = base64.b64encode(b"localcloud-session:" + digest[:24]).decode()
        with self._lock:
            self._sessions[key_id] = (role_arn, session_name)
        return key_id, secret, token

    def session_of(self, authorization: str | None) -> tuple[str, str, str] | None:
        """``(role ARN, session name, region)`` when a request is signed by a function."""
        match = CREDENTIAL.search(authorization or "")
        if not match or match[1] not in self._sessions:
            return None
        role_arn, session_name = self._sessions[match[1]]
        return role_arn, session_name, match[2]


def signing_region(authorization: str | None) -> str | None:
    """The region of a SigV4 ``Authorization`` header's credential scope, if it has one."""
    match = CREDENTIAL.search(authorization or "")
    return match[2] if match else None
