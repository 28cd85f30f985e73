"""At DEBUG the handlers log each DynamoDB call and each @connections post: what a trace of one
message needs and no AWS log has.

Neither API Gateway's execution log nor Lambda's platform lines list the calls a function
makes (API Gateway Developer Guide, "Set up CloudWatch logging for WebSocket APIs": the
execution log is the API's own events; DynamoDB's item calls reach CloudTrail only as opt-in
data events: DynamoDB Developer Guide, "Logging DynamoDB operations by using AWS CloudTrail").
The level comes from ``AWS_LAMBDA_LOG_LEVEL``, which Lambda sets from
``LoggingConfig.ApplicationLogLevel`` (Lambda Developer Guide, "Log-level filtering"), else the
function's own ``LOG_LEVEL``; the default stays INFO, so nothing changes for a function that
does not ask.
"""

from __future__ import annotations

import json
import logging

import pytest
from botocore.exceptions import EndpointConnectionError

ALICE = "Vx3kQfGSoAMCJ1A="  # the sender of tests/events/message.json
BOB, GONE, SICK = "BOB000000000000=", "GONE00000000000=", "SICK00000000000="


@pytest.fixture
def debug_chat(monkeypatch, request):
    """The handlers imported fresh with ``LOG_LEVEL=DEBUG`` in the function's environment:
    alice (announced), bob, a connection that is gone and one whose post fails."""
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    chat = request.getfixturevalue("chat")
    for cid, name in [(ALICE, "alice"), (BOB, "bob"), (GONE, "gone"), (SICK, "sick")]:
        chat.add(cid, name, announced=True)
    chat.gateway.gone.add(GONE)
    chat.gateway.errors[SICK] = (500, "InternalServerErrorException")
    return chat


def test_each_post_is_one_debug_line_with_its_outcome(debug_chat, events, logs,
                                                      lambda_context):
    """One message to four connections writes one "post" line per recipient, tagged with the
    invocation's request id, its outcome the one the summary counts (delivered, stale_removed,
    failed) and how long it took."""
    debug_chat.broadcast.lambda_handler(events.load("message"), lambda_context)
    lines = logs()
    posts = {line["connectionId"]: line for line in lines if line["event"] == "post"}
    assert {cid: line["outcome"] for cid, line in posts.items()} == {
        ALICE: "delivered", BOB: "delivered", GONE: "stale_removed", SICK: "failed"}
    assert all(line["level"] == "DEBUG" and isinstance(line["ms"], float)
               and line["awsRequestId"] == lambda_context.aws_request_id
               for line in posts.values())
    (summary,) = [line for line in lines if line["event"] == "broadcast"]
    assert (summary["delivered"], summary["stale_removed"], summary["failed"]) == (2, 1, 1)


def test_each_dynamodb_call_is_one_debug_line(debug_chat, events, logs, lambda_context):
    """The sender's GetItem (found: count 1), the Scan page (the four live connections) and
    the gone id's DeleteItem each write a "dynamodb" line, in the order they were made, with
    the status and the milliseconds."""
    debug_chat.broadcast.lambda_handler(events.load("message"), lambda_context)
    calls = [line for line in logs() if line["event"] == "dynamodb"]
    assert [c["operation"] for c in calls] == ["GetItem", "Scan", "DeleteItem"]
    get_item, scan, delete = calls
    assert (get_item["count"], get_item["status"]) == (1, 200)
    assert (scan["count"], scan["scanned"], scan["morePages"]) == (4, 4, False)
    assert delete["status"] == 200 and "count" not in delete
    assert all(isinstance(c["ms"], float) and c["level"] == "DEBUG" for c in calls)


def test_a_failed_dynamodb_call_is_logged_with_its_error(debug_chat, events, logs,
                                                         lambda_context):
    """A call DynamoDB refuses (the second claim of an announcement: the condition fails) and
    one that never got an answer (no connection) are logged with their error code, the
    second through botocore's after-call-error."""
    assert debug_chat.broadcast.claim_announcement(ALICE) is False

    def unreachable(**_kwargs):
        raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    debug_chat.common.dynamodb.meta.events.register_first("before-send.dynamodb", unreachable)
    with pytest.raises(EndpointConnectionError):
        debug_chat.common.scan_connection_ids()
    calls = [line for line in logs() if line["event"] == "dynamodb"]
    assert [(c["operation"], c["errorCode"]) for c in calls] == [
        ("UpdateItem", "ConditionalCheckFailedException"),
        ("Scan", "EndpointConnectionError")]


def test_the_message_line_names_the_gateway_message_id(debug_chat, events, logs,
                                                       lambda_context):
    """The "message" line carries ``messageId`` besides ``requestId``: the access log's
    ``$context.messageId`` then joins it too."""
    debug_chat.broadcast.lambda_handler(events.load("message"), lambda_context)
    (said,) = [line for line in logs() if line["event"] == "message"]
    assert said["messageId"] == events.load("message")["requestContext"]["messageId"]


def test_at_the_default_level_there_are_no_debug_lines(chat, events, logs, lambda_context):
    """Without a level asked for, the chat logs at INFO: the summary, no per-call lines."""
    chat.add(ALICE, "alice", announced=True)
    chat.add(BOB, "bob", announced=True)
    chat.broadcast.lambda_handler(events.load("message"), lambda_context)
    lines = logs()
    assert [line["event"] for line in lines] == ["message", "broadcast"]
    assert chat.common.logger.level == logging.INFO


@pytest.mark.parametrize(("environ", "level"), [
    ({}, logging.INFO),
    ({"LOG_LEVEL": "debug"}, logging.DEBUG),
    ({"LOG_LEVEL": "loud"}, logging.INFO),  # not a level: the default, never a crash
    ({"AWS_LAMBDA_LOG_LEVEL": "TRACE"}, logging.DEBUG),
    ({"AWS_LAMBDA_LOG_LEVEL": "WARN", "LOG_LEVEL": "DEBUG"}, logging.WARNING),
    ({"AWS_LAMBDA_LOG_LEVEL": "FATAL"}, logging.CRITICAL),
    ({"AWS_LAMBDA_LOG_LEVEL": "", "LOG_LEVEL": "ERROR"}, logging.ERROR),
])
def test_the_level_comes_from_lambda_first_then_the_function(chat, environ, level):
    """Lambda's own variable wins (it filters by it anyway), in its level names (TRACE and
    WARN and FATAL included); then LOG_LEVEL; then INFO."""
    assert chat.common.log_level(environ) == level


def test_debug_lines_are_json_objects_a_filter_can_find(debug_chat, events, lambda_context,
                                                        capsys):
    """Every line written at DEBUG is one JSON object on one line (a CloudWatch event each)."""
    debug_chat.broadcast.lambda_handler(events.load("message"), lambda_context)
    out = capsys.readouterr().out.splitlines()
    assert out and all(isinstance(json.loads(line), dict) for line in out)
