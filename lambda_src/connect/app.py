"""``$connect``: remember who just opened a WebSocket, or refuse the handshake.

The gateway runs this before the upgrade completes: a 2xx lets the client in, anything else
refuses it with that HTTP status. The connection is not open yet, so nothing can be posted to
it (or announced about it) from here; the client announces itself later with ``{"action":
"join"}`` or its first message (see ``broadcast/app.py``).

Where the name comes from:

- On an API whose ``$connect`` route has the chat's Lambda authorizer (``authorizer/app.py``),
  the event's ``requestContext.authorizer`` carries the name the client's signed token
  proves, under the context key ``name``. That name is used and ``?name=`` is ignored:
  nobody can claim a name their token does not carry.
- Without an authorizer, ``requestContext.authorizer`` is absent and the client chooses with
  ``?name=`` (or gets a guest name), as in the notebooks before the authorizer step.
"""

from __future__ import annotations

import hashlib
import logging
import time

import chat_common
from chat_common import dynamodb

MAX_NAME_LENGTH = 32
AUTHORIZER_NAME_KEY = "name"  # the key of the authorizer's context that holds the name
# API Gateway closes every connection after 2 h. If $disconnect is ever missed, DynamoDB's TTL
# removes the item; the margin covers clock skew and TTL's own delay in starting.
CONNECTION_LIFETIME_SECONDS = 2 * 60 * 60
TTL_MARGIN_SECONDS = 15 * 60

logger = logging.getLogger("chat.connect")


def guest_name(connection_id: str) -> str:
    """A stable guest name derived from the connection id: the same id always gets the same
    name, so a run with seeded ids (the local cloud) prints the same thing every time."""
    return "guest-" + hashlib.sha256(connection_id.encode("utf-8")).hexdigest()[:4]


def choose_name(raw: str | None, connection_id: str) -> tuple[str | None, str | None]:
    """Return ``(name, None)`` or ``(None, reason)``. No name, or only spaces, means a guest."""
    if raw is None or not raw.strip():
        return guest_name(connection_id), None
    name = raw.strip()
    if len(name) > MAX_NAME_LENGTH:
        return None, f"name longer than {MAX_NAME_LENGTH} characters"
    if not name.isprintable():
        return None, "name has characters that are not printable"
    return name, None


def authorized_name(request_context: dict) -> tuple[bool, str | None]:
    """``(True, name)`` when an authorizer ran and vouched for a usable name, ``(True,
    None)`` when one ran without one (a misconfigured authorizer), ``(False, None)`` when
    the route has no authorizer."""
    authorizer = request_context.get("authorizer")
    if not isinstance(authorizer, dict) or not authorizer:
        return False, None
    raw = authorizer.get(AUTHORIZER_NAME_KEY)
    if not isinstance(raw, str) or not raw.strip():
        return True, None
    name, problem = choose_name(raw, request_context.get("connectionId", ""))
    return True, None if problem else name


def lambda_handler(event: dict, context) -> dict:
    """Store the connection (id, name, connectedAt, expiresAt) and accept it with 200.

    400 for a bad ``?name=``; 500, with the full error in the log, when it cannot be stored
    (a connection nobody can reach would only confuse the sender), or when an authorizer ran
    but gave no usable name (its fault, not the client's).
    """
    chat_common.bind_request(context)
    request_context = event["requestContext"]
    connection_id = request_context["connectionId"]
    # queryStringParameters is absent without a query string (and may be null in hand-written
    # test events): both mean "no name given".
    params = event.get("queryStringParameters") or {}
    raw_name = params.get("name")
    authorized, name = authorized_name(request_context)
    if authorized and name is None:
        logger.error(
            {"event": "connect_failed", "connectionId": connection_id,
             "reason": f"the authorizer's context has no usable {AUTHORIZER_NAME_KEY!r}"}
        )
        return {"statusCode": 500}
    if not authorized:
        name, problem = choose_name(raw_name, connection_id)
        if problem:
            # The refused value is not logged: it may be huge or full of control characters.
            logger.warning(
                {"event": "connect_rejected", "connectionId": connection_id,
                 "reason": problem, "nameLength": len(raw_name or "")}
            )
            return {"statusCode": 400}

    now = time.time()
    connected_at = int(request_context.get("connectedAt") or now * 1000)
    expires_at = int(now) + CONNECTION_LIFETIME_SECONDS + TTL_MARGIN_SECONDS
    try:
        dynamodb.put_item(
            TableName=chat_common.table_name(),
            Item={
                "connectionId": {"S": connection_id},
                "name": {"S": name},
                "connectedAt": {"N": str(connected_at)},
                "expiresAt": {"N": str(expires_at)},
            },
        )
    except Exception:
        logger.exception({"event": "connect_failed", "connectionId": connection_id})
        return {"statusCode": 500}

    line = {"event": "connect", "connectionId": connection_id, "name": name,
            "guest": not authorized and (raw_name is None or not raw_name.strip()),
            "expiresAt": expires_at, "requestId": request_context.get("requestId")}
    if authorized:  # only then: without an authorizer the line is what it always was
        line["authorized"] = True
    logger.info(line)
    return {"statusCode": 200}
