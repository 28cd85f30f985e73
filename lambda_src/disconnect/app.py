"""``$disconnect``: forget the connection and tell the others who left.

The gateway calls this once, best effort, after the socket is already closed, and ignores the
result. So this handler never fails loudly: it always returns 200 and logs what went wrong.
"""

from __future__ import annotations

import logging

import chat_common
from chat_common import dynamodb

logger = logging.getLogger("chat.disconnect")


def lambda_handler(event: dict, context) -> dict:
    """Delete the id (learning its name from the deleted item), then send
    ``{"type": "presence", "event": "leave", ...}`` to everyone still connected.

    An id that is already gone (removed as stale by a fan-out, or aged out by TTL) is fine:
    there is no name to announce, so nothing is sent.
    """
    chat_common.bind_request(context)
    request_context = event["requestContext"]
    connection_id = request_context["connectionId"]
    try:
        response = dynamodb.delete_item(
            TableName=chat_common.table_name(),
            Key={"connectionId": {"S": connection_id}},
            ReturnValues="ALL_OLD",
        )
        old_item = response.get("Attributes")
        logger.info(
            {"event": "disconnect", "connectionId": connection_id,
             "known": bool(old_item),
             "disconnectStatusCode": request_context.get("disconnectStatusCode"),
             "disconnectReason": request_context.get("disconnectReason"),
             "requestId": request_context.get("requestId")}
        )
        if not old_item:
            return {"statusCode": 200}

        name = old_item.get("name", {}).get("S", "unknown")
        notice = chat_common.presence("leave", name, chat_common.event_time(event))
        others = [cid for cid in chat_common.scan_connection_ids() if cid != connection_id]
        chat_common.fan_out(
            chat_common.management_endpoint(request_context), notice, others,
            kind="presence", source=connection_id,
        )
    except Exception:
        logger.exception({"event": "disconnect_failed", "connectionId": connection_id})
    return {"statusCode": 200}
