"""Chat tokens for the notebook and the chat clients: mint them, and find the secret that
signs them where the authorizer reads it.

A token is what a client shows the ``$connect`` authorizer (``lambda_src/authorizer/``) as
``?token=``: a chat name and an expiry, signed with HMAC-SHA256. The format has one
definition, ``lambda_src/authorizer/chat_token.py``, which the authorizer ships in its zip;
this module loads that same file, so what is minted here is what is verified there.

The secret is the SSM Parameter Store SecureString ``target.names.token_parameter``
(``<prefix>-chat-token-secret``), the parameter the authorizer's ``SECRET_PARAMETER`` names.
Reading it needs ``ssm:GetParameter`` on it; whoever can read it can mint tokens for any name.
"""

from __future__ import annotations

import importlib.util
import secrets
import sys
import time
from functools import cache
from types import ModuleType
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .packaging import LAMBDA_SRC

TOKEN_FORMAT = LAMBDA_SRC / "authorizer" / "chat_token.py"
DEFAULT_TTL_S = 3600
MAX_TTL_S = 7 * 24 * 3600  # a token is a bearer credential: a week at most
SECRET_BYTES = 32  # the random bytes in a new secret (43 characters of base64url)
# The authorizer the workshop deploys reads the token from the query string; an API whose
# $connect authorizer has this identity source is one the workshop's tokens are for.
TOKEN_IDENTITY_SOURCE = ["route.request.querystring.token"]


class TokenSecretError(RuntimeError):
    """The signing secret cannot be read; the message says which parameter and why."""


@cache
def token_format() -> ModuleType:
    """``chat_token.py`` from the authorizer's folder, loaded once under a private name (the
    authorizer imports it as ``chat_token``; nothing here shadows that)."""
    spec = importlib.util.spec_from_file_location("_workshop_chat_token", TOKEN_FORMAT)
    assert spec and spec.loader, TOKEN_FORMAT
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def mint_token(secret: str, name: str, ttl_s: int = DEFAULT_TTL_S, *,
               now: float | None = None) -> str:
    """A token that lets ``name`` join for ``ttl_s`` seconds from ``now`` (default: the
    clock). ValueError for a name the chat would refuse, a TTL outside 1 s to a week, or a
    secret too short to be a key."""
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or not 1 <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be a whole number of seconds from 1 to {MAX_TTL_S}")
    issued = time.time() if now is None else now
    return token_format().sign(secret, name, int(issued) + ttl_s)


def new_secret() -> str:
    """A fresh signing secret: 32 random bytes as base64url text."""
    return secrets.token_urlsafe(SECRET_BYTES)


def read_secret(target: Any) -> str:
    """The signing secret of ``target``'s chat, decrypted; TokenSecretError (one line that
    names the parameter and the fix) when it is missing, unreadable or not a SecureString."""
    name = target.names.token_parameter
    where = f"the token secret {name!r} on the {target.kind} target"
    try:
        found = target.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "Unknown")
        if code == "ParameterNotFound":
            raise TokenSecretError(f"{where} does not exist yet: create it first (the "
                                   "authorizer step puts it), or pass a token") from None
        raise TokenSecretError(f"cannot read {where} ({code})") from None
    except BotoCoreError as err:
        raise TokenSecretError(f"cannot read {where} ({err})") from None
    if found.get("Type") != "SecureString":
        raise TokenSecretError(f"{where} is a {found.get('Type')}, not a SecureString: the "
                               "authorizer refuses it; put it again with Type='SecureString'")
    return found["Value"]


def connect_authorizer(target: Any, api_id: str) -> dict | None:
    """The authorizer of ``api_id``'s ``$connect`` route as the control plane has it now
    (a stage serves what was deployed, which may be older), or None for an open route."""
    apigw = target.client("apigatewayv2")
    kwargs: dict[str, Any] = {"ApiId": api_id}
    while True:
        page = apigw.get_routes(**kwargs)
        for route in page.get("Items", []):
            if route.get("RouteKey") == "$connect":
                if route.get("AuthorizationType") != "CUSTOM" or not route.get("AuthorizerId"):
                    return None
                return apigw.get_authorizer(ApiId=api_id, AuthorizerId=route["AuthorizerId"])
        if not page.get("NextToken"):
            return None
        kwargs["NextToken"] = page["NextToken"]


def expects_workshop_token(target: Any, api_id: str) -> bool:
    """True when ``api_id``'s ``$connect`` has a REQUEST authorizer that reads ``?token=``:
    the workshop's authorizer (or one like it), which a minted token can satisfy."""
    authorizer = connect_authorizer(target, api_id)
    return bool(authorizer) and authorizer.get("AuthorizerType") == "REQUEST" and (
        authorizer.get("IdentitySource") == TOKEN_IDENTITY_SOURCE)


def auto_token(target: Any, api_id: str, name: str | None,
               ttl_s: int = DEFAULT_TTL_S) -> str | None:
    """The token a chat client sends when it was given none: the one rule of ``workshop
    chat`` (without ``--token``) and ``ChatRoom.join`` (without ``token=``).

    None when ``api_id``'s ``$connect`` has no authorizer that reads ``?token=``, or when the
    control plane cannot be asked (the handshake then says what it wants). Otherwise a token
    minted for ``name`` from the target's secret: TokenSecretError when the secret cannot be
    read, ValueError for no name or one the chat refuses."""
    try:
        wanted = expects_workshop_token(target, api_id)
    except (BotoCoreError, ClientError):
        return None
    if not wanted:
        return None
    if not name:
        raise ValueError("a token carries a chat name, and none was given")
    return mint_token(read_secret(target), name, ttl_s)
