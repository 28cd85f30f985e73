"""``$connect`` authorizer: who may open a WebSocket, decided before the upgrade.

API Gateway invokes this Lambda REQUEST authorizer with the handshake's query string, headers
and ``methodArn`` (``arn:aws:execute-api:{region}:{account}:{api-id}/{stage}/$connect``), and
uses its answer: a policy that allows ``execute-api:Invoke`` on that ARN lets the connection
through to the ``$connect`` integration, a Deny refuses it with 403.

The client sends a token as ``?token=<token>`` (browsers cannot set headers on a WebSocket);
the authorizer's ``IdentitySource`` is ``route.request.querystring.token``, so a handshake
without one is refused with 401 before this function runs. The token is a signed, expiring
claim of a chat name (format: ``chat_token.py``). A valid one is allowed with the name as
``principalId`` and as ``context.name``, which the ``$connect`` handler uses instead of any
``?name=``; anything else gets a Deny and one log line that says why (never the token).

The signing secret is an SSM Parameter Store SecureString named by ``SECRET_PARAMETER``,
read once per execution environment with bounded SDK timeouts. When it cannot be read, every
handshake is denied (and logged) until it can: a chat that cannot check tokens stays closed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import traceback
from typing import Any

import boto3
import chat_token
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# A $connect methodArn in any partition (arn:aws:, arn:aws-cn:, arn:aws-us-gov:): the
# authorizer runs where the API runs, and the Allow names exactly this ARN.
METHOD_ARN = re.compile(r"arn:aws(-[a-z]+)*:execute-api:")
TOKEN_PARAMETER = "token"  # ?token=…; the authorizer's identity source is its query string
CONTEXT_NAME = "name"  # requestContext.authorizer.name in the $connect event
DENIED_PRINCIPAL = "anonymous"
# The function's own timeout (10 s in the workshop) must outlast the worst secret read: two
# attempts in all (``total_max_attempts`` counts the first; botocore's ``max_attempts`` would
# count retries only), each at most 0.5 s to connect and 1.2 s to read, with at most 1 s of
# backoff between them, which botocore raises by up to 5 s when the answer carries an
# x-amz-retry-after header (botocore/retries/standard.py): 2 x 1.7 + 6 = 9.4 s.
SSM_CONFIG = Config(
    connect_timeout=0.5,
    read_timeout=1.2,
    retries={"mode": "standard", "total_max_attempts": 2},
)


class SecretUnavailable(RuntimeError):
    """The signing secret cannot be read or is not usable; the text says why, never what."""


_ssm: Any = None
_secret: str | None = None  # read once per execution environment


def _ssm_client() -> Any:
    """Made on first use (importing the module makes no client), then kept for warm starts."""
    global _ssm
    if _ssm is None:
        _ssm = boto3.client("ssm", region_name=os.environ.get("AWS_REGION"), config=SSM_CONFIG)
    return _ssm


def signing_secret() -> str:
    """The secret, from the environment's cache or from SSM (once). Failures are not cached:
    the next handshake tries again."""
    global _secret
    if _secret is not None:
        return _secret
    parameter = os.environ.get("SECRET_PARAMETER")
    if not parameter:
        raise SecretUnavailable("SECRET_PARAMETER is not set")
    try:
        found = _ssm_client().get_parameter(Name=parameter, WithDecryption=True)["Parameter"]
    except ClientError as err:
        code = err.response.get("Error", {}).get("Code", "Unknown")
        raise SecretUnavailable(f"get_parameter failed ({code})") from None
    except BotoCoreError as err:
        raise SecretUnavailable(f"get_parameter failed ({type(err).__name__})") from None
    if found.get("Type") != "SecureString":
        raise SecretUnavailable("the parameter is not a SecureString")
    value = found.get("Value")
    if not isinstance(value, str):
        raise SecretUnavailable("the parameter has no value")
    try:
        chat_token.secret_key(value)
    except ValueError:
        raise SecretUnavailable(
            f"the secret is shorter than {chat_token.MIN_SECRET_BYTES} bytes") from None
    _secret = value
    return value


def log(level: str, fields: dict[str, Any], context: Any) -> None:
    """One JSON line on stdout (CloudWatch Logs), tagged with the invocation's request id."""
    line = {"level": level, "awsRequestId": getattr(context, "aws_request_id", None), **fields}
    sys.stdout.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def policy(principal_id: str, effect: str, resource: str, context: dict | None = None) -> dict:
    """The authorizer output API Gateway expects (principalId, policyDocument, context)."""
    output: dict[str, Any] = {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
            ],
        },
    }
    if context:
        output["context"] = context  # string, number and boolean values only
    return output


def query_token(event: dict) -> tuple[str | None, str | None]:
    """``(token, None)`` or ``(None, reason)`` from the handshake's query string."""
    params = event.get("queryStringParameters") or {}
    many = (event.get("multiValueQueryStringParameters") or {}).get(TOKEN_PARAMETER)
    if isinstance(many, list) and len(many) > 1:
        return None, "more than one token"
    token = params.get(TOKEN_PARAMETER) if isinstance(params, dict) else None
    if not isinstance(token, str) or not token:
        return None, "no token"
    return token, None


def deny(method_arn: str, context: Any, level: str, fields: dict[str, Any]) -> dict:
    """Log why, then refuse: a Deny on the methodArn is API Gateway's 403."""
    log(level, fields, context)
    return policy(DENIED_PRINCIPAL, "Deny", method_arn)


def lambda_handler(event: dict, context: Any) -> dict:
    """Allow the token's name, or Deny with the reason logged."""
    if not isinstance(event, dict):
        event = {}
    method_arn = event.get("methodArn")
    if not isinstance(method_arn, str) or not METHOD_ARN.match(method_arn):
        return deny("*", context, "WARNING", {"event": "deny", "reason": "no methodArn"})
    token, reason = query_token(event)
    if token is None:
        return deny(method_arn, context, "WARNING", {"event": "deny", "reason": reason})
    try:
        claims = chat_token.verify(signing_secret(), token, time.time())
    except chat_token.TokenError as err:
        return deny(method_arn, context, "WARNING",
                    {"event": "deny", "reason": str(err), "tokenLength": len(token)})
    except SecretUnavailable as err:
        return deny(method_arn, context, "ERROR",
                    {"event": "secret_unavailable", "reason": str(err),
                     "parameter": os.environ.get("SECRET_PARAMETER")})
    except Exception as err:  # a bug: deny, and log where, without any value it saw
        return deny(method_arn, context, "ERROR",
                    {"event": "authorizer_failed", "error": type(err).__name__,
                     "stackTrace": "".join(traceback.format_tb(err.__traceback__))})
    log("INFO", {"event": "allow", "name": claims.name, "expiresAt": claims.expires_at},
        context)
    return policy(claims.name, "Allow", method_arn,
                  {CONTEXT_NAME: claims.name, "tokenExpiresAt": claims.expires_at})
