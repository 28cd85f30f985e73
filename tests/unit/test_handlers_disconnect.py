"""$disconnect: forget the id, tell the others who left, and never fail."""

from __future__ import annotations

ALICE = "Vx3kQfGSoAMCJ1A="  # tests/events/disconnect.json
AT = "2026-11-25T16:00:09.876Z"  # its requestTimeEpoch


def test_deletes_the_id_and_tells_the_others(chat, events, logs, lambda_context):
    """A known connection's item is deleted, the others get one leave notice, nothing is posted
    to the leaving id, and the log has the close code and a presence summary."""
    chat.add(ALICE, "alice", announced=True)
    chat.add("BOB000000000000=", "bob")
    chat.add("CAROL0000000000=", "carol")
    assert chat.disconnect.lambda_handler(events.load("disconnect"), lambda_context) == {
        "statusCode": 200
    }
    assert chat.ids() == {"BOB000000000000=", "CAROL0000000000="}
    leave = {"type": "presence", "event": "leave", "name": "alice", "at": AT}
    assert chat.gateway.frames["BOB000000000000="] == [leave]
    assert chat.gateway.frames["CAROL0000000000="] == [leave]
    assert ALICE not in chat.gateway.attempts
    lines = logs()
    (gone,) = [line for line in lines if line["event"] == "disconnect"]
    assert gone["known"] is True and gone["disconnectStatusCode"] == 1005
    (summary,) = [line for line in lines if line["event"] == "broadcast"]
    assert summary["kind"] == "presence" and summary["delivered"] == 2


def test_uses_delete_with_all_old_not_a_separate_read(chat, events, lambda_context):
    """The item is read and deleted in one DeleteItem with ReturnValues ALL_OLD (no GetItem
    before it), then the table is scanned for recipients."""
    chat.add(ALICE, "alice")
    chat.disconnect.lambda_handler(events.load("disconnect"), lambda_context)
    operations = [c.operation for c in chat.recorder.calls if c.service == "dynamodb"]
    assert operations == ["DeleteItem", "Scan"]
    (delete,) = [c for c in chat.recorder.calls if c.operation == "DeleteItem"]
    assert delete.params["ReturnValues"] == "ALL_OLD"


def test_an_unknown_id_is_fine_and_announces_nothing(chat, events, logs, lambda_context):
    """An id with no item answers 200, deletes nothing else, posts nothing and logs known false."""
    chat.add("BOB000000000000=", "bob")
    assert chat.disconnect.lambda_handler(events.disconnect("NEVER-SEEN00000="),
                                          lambda_context) == {"statusCode": 200}
    assert chat.ids() == {"BOB000000000000="}
    assert chat.gateway.attempts == {}
    (line,) = [entry for entry in logs() if entry["event"] == "disconnect"]
    assert line["known"] is False and line["level"] == "INFO"


def test_the_last_one_out_sends_nothing(chat, events, lambda_context):
    """The last connection to leave empties the table and posts to nobody."""
    chat.add(ALICE, "alice")
    chat.disconnect.lambda_handler(events.load("disconnect"), lambda_context)
    assert chat.ids() == set()
    assert chat.gateway.attempts == {}


def test_a_stale_recipient_of_the_leave_notice_is_removed(chat, events, lambda_context):
    """A recipient of the leave notice that answers 410 is deleted from the table too."""
    chat.add(ALICE, "alice")
    chat.add("BOB000000000000=", "bob")
    chat.add("DEAD00000000000=", "dead")
    chat.gateway.gone.add("DEAD00000000000=")
    chat.disconnect.lambda_handler(events.load("disconnect"), lambda_context)
    assert chat.ids() == {"BOB000000000000="}


def test_a_dynamodb_failure_is_logged_and_still_answers_200(
    chat, events, logs, lambda_context, monkeypatch
):
    """A DynamoDB failure is logged with its traceback and the handler still answers 200
    ($disconnect's result is ignored by API Gateway, and it must not raise)."""
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    assert chat.disconnect.lambda_handler(events.load("disconnect"), lambda_context) == {
        "statusCode": 200
    }
    (line,) = [entry for entry in logs() if entry["event"] == "disconnect_failed"]
    assert line["level"] == "ERROR" and "Traceback" in line["stackTrace"]
