"""``$default`` and ``sendmessage``: what a connected client says, fanned out to everyone.

Frames a client may send (route selection ``$request.body.action``):

- ``{"action": "join"}``: "I'm here". Announces the sender to the others; no message.
- ``{"action": "sendmessage", "message": "hi"}`` (or no ``action``): a chat message, sent to
  every connection, the sender included, as ``{"type": "message", "from", "text", "at"}``.

The first of these from a connection also sends ``{"type": "presence", "event": "join"}`` to
the others, exactly once per connection, and then ``{"type": "welcome", "name", "online":
[names of the others], "at"}`` to the sender: its acknowledgement that it has been announced.
Anything malformed gets ``{"type": "error", "error": "<short reason>"}`` back to the sender
only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import chat_common
from chat_common import dynamodb

MAX_MESSAGE_LENGTH = 1000
UNKNOWN_SENDER = "unknown"
ACTIONS = ("sendmessage", "join")

logger = logging.getLogger("chat.broadcast")


class FrameError(ValueError):
    """A frame the chat cannot use; its text is the short reason the sender is shown."""


@dataclass
class Frame:
    kind: str  # "join" or "message"
    text: str = ""


@dataclass
class Sender:
    name: str
    known: bool  # False: the id is not in the table (its $connect did not store it)
    announced: bool


def parse_frame(body: object) -> Frame:
    """Validate a client frame without trusting anything in it."""
    if not isinstance(body, str) or not body:
        raise FrameError("empty frame")
    try:
        frame = json.loads(body)
    except (ValueError, RecursionError):
        raise FrameError("frame is not valid JSON") from None
    if not isinstance(frame, dict):
        raise FrameError("frame must be a JSON object")
    action = frame.get("action")
    if action == "join":
        return Frame("join")
    if action is not None and action not in ACTIONS:
        raise FrameError('unknown action (use "sendmessage" or "join")')
    message = frame.get("message")
    if message is None:
        raise FrameError('missing "message"')
    if not isinstance(message, str):
        raise FrameError('"message" must be a string')
    if not message.strip():
        raise FrameError('"message" is empty')
    if len(message) > MAX_MESSAGE_LENGTH:
        raise FrameError(f'"message" is too long (max {MAX_MESSAGE_LENGTH} characters)')
    return Frame("message", message)


def load_sender(connection_id: str) -> Sender:
    """The sender's name comes from the table, never from the frame: nobody can post as
    someone else. Strongly consistent, because $connect wrote the item milliseconds ago.
    An item past its TTL is not a known sender, as the Scan does not list it as a recipient
    (``chat_common.is_live``)."""
    response = dynamodb.get_item(
        TableName=chat_common.table_name(),
        Key={"connectionId": {"S": connection_id}},
        ProjectionExpression="#name, announced, #ttl",
        # NAME is a DynamoDB reserved word; the TTL attribute is named the same way for safety
        ExpressionAttributeNames={"#name": "name", "#ttl": chat_common.TTL_ATTRIBUTE},
        ConsistentRead=True,
    )
    item = response.get("Item")
    if not item or not chat_common.is_live(item):
        return Sender(UNKNOWN_SENDER, known=False, announced=False)
    return Sender(
        name=item.get("name", {}).get("S", UNKNOWN_SENDER),
        known=True,
        announced=item.get("announced", {}).get("BOOL", False),
    )


def claim_announcement(connection_id: str) -> bool:
    """Mark the connection announced; True only for the one invocation that did it.

    Two frames sent back to back run as two concurrent invocations; the conditional write
    makes exactly one of them announce. ``attribute_exists`` stops UpdateItem from creating
    an item (one with no TTL) for an id the table does not have.
    """
    try:
        dynamodb.update_item(
            TableName=chat_common.table_name(),
            Key={"connectionId": {"S": connection_id}},
            UpdateExpression="SET announced = :true",
            ConditionExpression=(
                "attribute_exists(connectionId) AND attribute_not_exists(announced)"
            ),
            ExpressionAttributeValues={":true": {"BOOL": True}},
        )
    except dynamodb.exceptions.ConditionalCheckFailedException:
        return False  # already announced (or gone meanwhile)
    return True


def lambda_handler(event: dict, context) -> dict:
    """Handle one frame. Returns 200 for anything the client did (errors included: they are
    answered with an error frame); 500 only when the chat itself failed."""
    chat_common.bind_request(context)
    request_context = event["requestContext"]
    connection_id = request_context["connectionId"]
    endpoint = chat_common.management_endpoint(request_context)
    body = event.get("body")
    try:
        try:
            frame = parse_frame(body)
        except FrameError as err:
            logger.warning(
                {"event": "frame_rejected", "connectionId": connection_id,
                 "reason": str(err), "bodyLength": len(body) if isinstance(body, str) else 0}
            )
            chat_common.send_to_one(endpoint, connection_id, {"type": "error", "error": str(err)})
            return {"statusCode": 200}

        at = chat_common.event_time(event)
        sender = load_sender(connection_id)
        everyone: list[str] | None = None
        if sender.known and not sender.announced and claim_announcement(connection_id):
            people = chat_common.scan_connections()
            others = [cid for cid in people if cid != connection_id]
            result = chat_common.fan_out(
                endpoint, chat_common.presence("join", sender.name, at), others,
                kind="presence", source=connection_id,
            )
            everyone = [cid for cid in people if cid not in result.stale_ids]
            # The welcome goes last: when it arrives, everyone else has been told. It is the
            # joiner's acknowledgement, and tells it who is already here.
            online = sorted(people[cid] for cid in others if cid not in result.stale_ids)
            chat_common.send_to_one(
                endpoint, connection_id,
                {"type": "welcome", "name": sender.name, "online": online, "at": at},
            )

        if frame.kind == "message":
            if everyone is None:
                everyone = chat_common.scan_connection_ids()
            # The sender always gets its own message back, even when the table lost it: that
            # echo is how a client knows its message went out, and with which timestamp.
            recipients = [*everyone, connection_id]
            logger.info(
                {"event": "message", "connectionId": connection_id, "name": sender.name,
                 "textLength": len(frame.text), "requestId": request_context.get("requestId"),
                 "messageId": request_context.get("messageId")}
            )
            chat_common.fan_out(
                endpoint,
                {"type": "message", "from": sender.name, "text": frame.text, "at": at},
                recipients, kind="message", source=connection_id,
            )
        return {"statusCode": 200}
    except Exception:
        logger.exception({"event": "broadcast_failed", "connectionId": connection_id})
        chat_common.send_to_one(
            endpoint, connection_id, {"type": "error", "error": "internal error, try again"}
        )
        return {"statusCode": 500}
