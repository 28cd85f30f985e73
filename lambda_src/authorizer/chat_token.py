"""The chat's signed, expiring tokens: the one definition of their format.

A token says "the holder may join the chat as <name> until <expiry>", signed with a secret that
only the authorizer and whoever mints tokens can read (an SSM SecureString, see ``app.py``)::

    v1.<name>.<expires>.<signature>

- ``v1``: the format's version; anything else is refused.
- ``<name>``: the chat name, UTF-8, base64url without padding. Its rules are the chat's own
  (``connect/app.py``): 1-32 printable characters, and no spaces at either end (the name that
  is signed is exactly the name that is shown).
- ``<expires>``: when the token stops working, epoch seconds in decimal (no sign, no leading
  zero). It is checked once, when the connection opens; an open connection is not cut off.
- ``<signature>``: HMAC-SHA256, keyed with the secret's UTF-8 bytes, over the ASCII text
  ``v1.<name>.<expires>`` (everything before the last dot), base64url without padding.

Every piece is checked strictly (one canonical spelling per token, a bounded length), the
signature before anything the token claims is believed, and with ``hmac.compare_digest`` so
that the time taken says nothing about how much of a forged signature was right.

The authorizer ships this file in its zip; ``workshop_utils.tokens`` loads the same file to
mint tokens for the notebook and the chat clients. Plain Python, standard library only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

VERSION = "v1"
MAX_NAME_LENGTH = 32  # characters, as connect/app.py counts them
# The longest valid token: a 32-character name of 4-byte characters is 128 bytes, 171 in
# base64url; plus the version, a 12-digit expiry, a 43-character signature and three dots.
MAX_TOKEN_LENGTH = 256
# HMAC-SHA256's key should be at least as long as its output (RFC 2104, section 3).
MIN_SECRET_BYTES = 32

_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_EXPIRES = re.compile(r"[1-9][0-9]{0,11}")


class TokenError(ValueError):
    """Why a token is refused, in a few words that never repeat the token itself."""


@dataclass(frozen=True)
class Claims:
    """What a valid token says."""

    name: str
    expires_at: int


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be in a token, or None: the chat's name rules."""
    if not isinstance(name, str) or not name:
        return "no name"
    if len(name) > MAX_NAME_LENGTH:
        return f"name longer than {MAX_NAME_LENGTH} characters"
    if not name.isprintable():
        return "name has characters that are not printable"
    if name != name.strip():
        return "name starts or ends with a space"
    return None


def secret_key(secret: str) -> bytes:
    """The HMAC key: the secret's UTF-8 bytes, refused when too short to be a real key."""
    key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the secret must be at least {MIN_SECRET_BYTES} bytes long")
    return key


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Strict base64url without padding: the alphabet only, and only the canonical spelling
    (the last character's unused bits zero), so that one token has exactly one text."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise TokenError("not base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("not base64url") from None
    if _b64encode(data) != text:
        raise TokenError("not base64url")
    return data


def _signature(key: bytes, signed_text: str) -> bytes:
    return hmac.new(key, signed_text.encode("ascii"), hashlib.sha256).digest()


def sign(secret: str, name: str, expires_at: int) -> str:
    """A token for ``name`` that works until ``expires_at`` (epoch seconds)."""
    problem = name_problem(name)
    if problem:
        raise ValueError(f"cannot sign a token: {problem}")
    if isinstance(expires_at, bool) or not isinstance(expires_at, int) or not (
            _EXPIRES.fullmatch(str(expires_at))):
        raise ValueError("expires_at must be a positive whole number of epoch seconds")
    signed_text = f"{VERSION}.{_b64encode(name.encode('utf-8'))}.{expires_at}"
    return f"{signed_text}.{_b64encode(_signature(secret_key(secret), signed_text))}"


def verify(secret: str, token: object, now: float) -> Claims:
    """The claims of ``token`` if it is well formed, signed with ``secret`` and not expired
    at ``now`` (epoch seconds); TokenError otherwise."""
    if not isinstance(token, str) or not token:
        raise TokenError("no token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenError("token too long")
    if not token.isascii():
        raise TokenError("token is not ASCII")
    parts = token.split(".")
    if len(parts) != 4:
        raise TokenError("token must have 4 parts")
    version, name_part, expires_part, signature_part = parts
    if version != VERSION:
        raise TokenError("unknown token version")
    if not _EXPIRES.fullmatch(expires_part):
        raise TokenError("expiry is not a number")
    signature = _b64decode(signature_part)
    expected = _signature(secret_key(secret), f"{version}.{name_part}.{expires_part}")
    if not hmac.compare_digest(expected, signature):
        raise TokenError("bad signature")
    # Signed by the holder of the secret from here on; still checked, never assumed.
    try:
        name = _b64decode(name_part).decode("utf-8")
    except UnicodeDecodeError:
        raise TokenError("name is not UTF-8") from None
    problem = name_problem(name)
    if problem:
        raise TokenError(problem)
    expires_at = int(expires_part)
    if now >= expires_at:
        raise TokenError("token expired")
    return Claims(name=name, expires_at=expires_at)
