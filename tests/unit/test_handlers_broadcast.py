"""$default / sendmessage: messages to everyone, presence once, errors to the sender only."""

from __future__ import annotations

import json

import pytest

ALICE = "Vx3kQfGSoAMCJ1A="  # the sender of tests/events/message.json and join.json
AT_MESSAGE = "2026-11-25T16:00:05.123Z"  # its requestTimeEpoch
AT_JOIN = "2026-11-25T16:00:02.010Z"


@pytest.fixture
def room(chat):
    """alice (not yet announced) with bob and carol, who already are."""
    chat.add(ALICE, "alice")
    chat.add("BOB000000000000=", "bob", announced=True)
    chat.add("CAROL0000000000=", "carol", announced=True)
    return chat


def send(chat, events, lambda_context, body, connection_id=ALICE, **context):
    """The broadcast handler's answer to ``body`` sent by ``connection_id``."""
    return chat.broadcast.lambda_handler(
        events.message(connection_id, body, **context), lambda_context
    )


def test_first_message_announces_then_reaches_everyone(room, events, logs, lambda_context):
    """A sender's first message tells the others it joined, welcomes it with who is online, then
    reaches everyone (sender included); the log has counts and lengths, never the text."""
    assert room.broadcast.lambda_handler(events.load("message"), lambda_context) == {
        "statusCode": 200
    }
    message = {"type": "message", "from": "alice", "text": "hello, everyone", "at": AT_MESSAGE}
    join = {"type": "presence", "event": "join", "name": "alice", "at": AT_MESSAGE}
    welcome = {"type": "welcome", "name": "alice", "online": ["bob", "carol"], "at": AT_MESSAGE}
    # the sender gets the welcome (after the others were told), then its echo; no presence
    assert room.gateway.frames[ALICE] == [welcome, message]
    assert room.gateway.frames["BOB000000000000="] == [join, message]
    assert room.gateway.frames["CAROL0000000000="] == [join, message]
    assert room.item(ALICE)["announced"] == {"BOOL": True}
    lines = logs()
    summaries = [line for line in lines if line["event"] == "broadcast"]
    assert [(s["kind"], s["recipients"], s["delivered"]) for s in summaries] == [
        ("presence", 2, 2), ("message", 3, 3)
    ]
    (logged,) = [line for line in lines if line["event"] == "message"]
    assert logged["textLength"] == len("hello, everyone")
    assert "hello, everyone" not in json.dumps(lines)  # never the text itself


def test_later_messages_do_not_announce_again(room, events, lambda_context):
    """Once announced, a sender's later messages are only messages: no second join, no second
    UpdateItem."""
    for text in ("one", "two"):
        send(room, events, lambda_context, json.dumps({"action": "sendmessage", "message": text}))
    kinds = [frame["type"] for frame in room.gateway.frames["BOB000000000000="]]
    assert kinds == ["presence", "message", "message"]
    assert room.recorder.count("UpdateItem") == 1  # the second one saw announced in GetItem


def test_join_announces_to_the_others_and_sends_no_message(room, events, lambda_context):
    """A join action tells the others and welcomes the sender, and sends no chat message."""
    assert room.broadcast.lambda_handler(events.load("join"), lambda_context) == {
        "statusCode": 200
    }
    join = {"type": "presence", "event": "join", "name": "alice", "at": AT_JOIN}
    assert room.gateway.frames["BOB000000000000="] == [join]
    assert room.gateway.frames["CAROL0000000000="] == [join]
    assert room.gateway.frames[ALICE] == [
        {"type": "welcome", "name": "alice", "online": ["bob", "carol"], "at": AT_JOIN}]


def test_join_is_announced_exactly_once(room, events, lambda_context):
    """Three joins and then a message give the others one presence frame and one message."""
    for _ in range(3):
        room.broadcast.lambda_handler(events.load("join"), lambda_context)
    send(room, events, lambda_context, json.dumps({"message": "hi"}))
    frames = room.gateway.frames["BOB000000000000="]
    assert [f["type"] for f in frames] == ["presence", "message"]


def test_a_lost_race_to_announce_sends_no_second_join(room, events, lambda_context, monkeypatch):
    """When another invocation announced the sender between this one's GetItem and its
    conditional UpdateItem, this one sends no join (the condition refuses its claim)."""
    real_load = room.broadcast.load_sender

    def stale_read(connection_id):
        sender = real_load(connection_id)
        sender.announced = False
        return sender

    room.ddb.update_item(
        TableName=room.common.table_name(), Key={"connectionId": {"S": ALICE}},
        UpdateExpression="SET announced = :t", ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    monkeypatch.setattr(room.broadcast, "load_sender", stale_read)
    room.broadcast.lambda_handler(events.load("join"), lambda_context)
    assert room.recorder.count("UpdateItem") == 1  # it tried, the condition said no
    assert room.gateway.attempts == {}


def test_claim_announcement_is_true_once_and_never_creates_items(room):
    """claim_announcement succeeds once per connection, then fails, and never creates an item for
    an unknown id."""
    assert room.broadcast.claim_announcement(ALICE) is True
    assert room.broadcast.claim_announcement(ALICE) is False
    assert room.broadcast.claim_announcement("NOBODY000000000=") is False
    assert room.item("NOBODY000000000=") is None


def test_the_name_comes_from_the_table_never_from_the_frame(room, events, lambda_context):
    """A from or name key in the frame is ignored: the message carries the sender's stored name."""
    body = {"action": "sendmessage", "message": "trust me", "from": "bob", "name": "bob"}
    send(room, events, lambda_context, json.dumps(body))
    assert room.gateway.frames["CAROL0000000000="][-1]["from"] == "alice"


def test_an_unknown_sender_posts_as_unknown_and_is_not_stored(room, events, lambda_context):
    """A sender with no item posts as "unknown" (its echo included), announces nothing and writes
    nothing to the table."""
    send(room, events, lambda_context, json.dumps({"message": "who am i"}), "GHOST0000000000=")
    frame = {"type": "message", "from": "unknown", "text": "who am i", "at": AT_MESSAGE}
    assert room.gateway.frames["GHOST0000000000="] == [frame]  # still gets its echo
    # and no presence for a nameless ghost
    assert room.gateway.frames["BOB000000000000="] == [frame]
    assert room.item("GHOST0000000000=") is None
    assert room.recorder.count("UpdateItem") == 0


def test_a_frame_without_an_action_key_is_a_message(room, events, lambda_context):
    """A frame without an "action" key (routed to $default) is a chat message."""
    send(room, events, lambda_context, '{"message": "no action"}', routeKey="$default")
    assert room.gateway.frames["BOB000000000000="][-1]["text"] == "no action"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (None, "empty frame"),
        ("", "empty frame"),
        ("hello", "frame is not valid JSON"),
        ("{'message': 'hi'}", "frame is not valid JSON"),
        ("[" * 100_000, "frame is not valid JSON"),
        ('["message", "hi"]', "frame must be a JSON object"),
        ('"hi"', "frame must be a JSON object"),
        ("null", "frame must be a JSON object"),
        ('{"action": "sendmessage"}', 'missing "message"'),
        ('{"action": "sendmessage", "message": null}', 'missing "message"'),
        ('{"action": "sendmessage", "message": ""}', '"message" is empty'),
        ('{"action": "sendmessage", "message": "  \\n "}', '"message" is empty'),
        ('{"action": "sendmessage", "message": 42}', '"message" must be a string'),
        ('{"action": "sendmessage", "message": {"text": "hi"}}', '"message" must be a string'),
        (json.dumps({"message": "x" * 1001}), '"message" is too long (max 1000 characters)'),
        (
            '{"action": "sendMessage", "message": "hi"}',
            'unknown action (use "sendmessage" or "join")',
        ),
    ],
)
def test_bad_frames_get_a_short_error_to_the_sender_only(
    room, events, logs, lambda_context, body, error
):
    """Each malformed frame gets one short error frame to its sender only, a WARNING log line with
    the reason, and does not announce the sender."""
    assert send(room, events, lambda_context, body) == {"statusCode": 200}
    assert room.gateway.frames[ALICE] == [{"type": "error", "error": error}]
    assert room.gateway.posted_to == {ALICE}
    assert "announced" not in room.item(ALICE)  # a bad frame does not join
    (line,) = [entry for entry in logs() if entry["event"] == "frame_rejected"]
    assert line["reason"] == error and line["level"] == "WARNING"


def test_a_message_of_exactly_1000_characters_is_sent(room, events, lambda_context):
    """A message at the 1000-character limit (characters, not bytes) is delivered whole."""
    send(room, events, lambda_context, json.dumps({"message": "é" * 1000}))
    assert room.gateway.frames["BOB000000000000="][-1]["text"] == "é" * 1000


def test_frames_are_utf8_json_that_keeps_text_readable(room, events, lambda_context):
    """Frames are UTF-8 JSON with non-ASCII text as it is, not as \\u escapes."""
    send(room, events, lambda_context, json.dumps({"message": "ça va? 👋"}))
    (raw,) = room.gateway.raw["BOB000000000000="][-1:]
    assert "ça va? 👋".encode() in raw  # not \\u00e7a: readable in any client's log


def test_an_internal_failure_is_logged_in_full_and_the_sender_told_briefly(
    room, events, logs, lambda_context, monkeypatch
):
    """A DynamoDB failure answers 500, logs the whole traceback, and tells only the sender
    "internal error, try again"."""
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    assert room.broadcast.lambda_handler(events.load("message"), lambda_context) == {
        "statusCode": 500
    }
    assert room.gateway.frames[ALICE] == [{"type": "error", "error": "internal error, try again"}]
    assert room.gateway.posted_to == {ALICE}
    (line,) = [entry for entry in logs() if entry["event"] == "broadcast_failed"]
    assert line["level"] == "ERROR" and "Traceback" in line["stackTrace"]
    assert "ResourceNotFoundException" in line["error"]


def test_management_endpoint_ignores_a_custom_domain(room, events, lambda_context):
    """With a custom domain in the event, posts still go to the API's execute-api endpoint for
    its stage (a custom domain does not serve @connections)."""
    send(room, events, lambda_context, '{"message": "hi"}', domainName="chat.example.com")
    assert room.gateway.hosts == {"a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"}
    assert list(room.common._management_clients) == [room.endpoint]


def test_the_management_client_is_created_once(room, events, lambda_context):
    """One management client per endpoint serves every invocation of an environment."""
    first = room.common.management_client(room.endpoint)
    for text in ("a", "b"):
        send(room, events, lambda_context, json.dumps({"message": text}))
    assert room.common.management_client(room.endpoint) is first
    assert len(room.common._management_clients) == 1


def test_every_log_line_carries_the_invocation_request_id(room, events, logs, lambda_context):
    """One filter on the request id finds the invocation's own lines with START/END/REPORT."""
    send(room, events, lambda_context, "not json")
    send(room, events, lambda_context, json.dumps({"message": "hi"}))
    lines = logs()
    assert lines and {line["awsRequestId"] for line in lines} == {lambda_context.aws_request_id}
