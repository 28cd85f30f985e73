"""$connect: who may come in, what is stored, and that nothing is posted from the handshake."""

from __future__ import annotations

import re
import time

import pytest

CONNECTION_ID = "Vx3kQfGSoAMCJ1A="  # tests/events/connect.json


def test_stores_the_named_connection_and_accepts(chat, events, logs, lambda_context):
    """A named connection is stored with its connectedAt and a TTL two to three hours out,
    not yet announced, and accepted with 200; the log line says who and when it expires."""
    before = int(time.time())
    assert chat.connect.lambda_handler(events.load("connect"), lambda_context) == {
        "statusCode": 200
    }
    item = chat.item(CONNECTION_ID)
    assert item["name"] == {"S": "alice"}
    assert item["connectedAt"] == {"N": "1795622400000"}  # requestContext.connectedAt
    expires = int(item["expiresAt"]["N"])
    assert before + 2 * 3600 < expires <= int(time.time()) + 3 * 3600
    assert "announced" not in item
    (line,) = [entry for entry in logs() if entry["event"] == "connect"]
    assert line == {
        "level": "INFO", "event": "connect", "connectionId": CONNECTION_ID, "name": "alice",
        "guest": False, "expiresAt": expires, "requestId": "Vx3kQHd1oAMFa2w=",
        "awsRequestId": lambda_context.aws_request_id,
    }


def test_posts_nothing_while_the_connection_is_not_open(chat, events, lambda_context):
    """$connect posts nothing (the connection is not open yet: @connections would answer 410) and
    calls only DynamoDB."""
    chat.add("OTHER1000000000=")
    chat.connect.lambda_handler(events.load("connect"), lambda_context)
    assert chat.gateway.attempts == {}
    assert {c.service for c in chat.recorder.calls} == {"dynamodb"}


@pytest.mark.parametrize("params", ["absent", None, {}, {"name": ""}, {"name": "   "}])
def test_no_name_gets_a_stable_guest_name(chat, events, lambda_context, params):
    """No query, no name or a blank name gets guest-xxxx, the same for the same connection id."""
    event = events.load("connect_no_query")
    if params != "absent":
        event["queryStringParameters"] = params
    connection_id = event["requestContext"]["connectionId"]
    assert chat.connect.lambda_handler(event, lambda_context) == {"statusCode": 200}
    name = chat.item(connection_id)["name"]["S"]
    assert re.fullmatch(r"guest-[0-9a-f]{4}", name)
    assert name == chat.connect.guest_name(connection_id)  # same id, same name


def test_capture_without_query_string_has_no_query_keys(events):
    """The captured event of a connection without a query string has no query-string keys at
    all (not null ones), as API Gateway sends it."""
    event = events.load("connect_no_query")
    assert "queryStringParameters" not in event
    assert "multiValueQueryStringParameters" not in event


@pytest.mark.parametrize("name", ["a" * 32, "zoë", "Ana María", "  bob  "])
def test_accepts_printable_names_up_to_32_characters(chat, events, lambda_context, name):
    """Printable names of up to 32 characters (accents and inner spaces included) are accepted
    and stored trimmed."""
    event = events.load("connect")
    event["queryStringParameters"] = {"name": name}
    assert chat.connect.lambda_handler(event, lambda_context) == {"statusCode": 200}
    assert chat.item(CONNECTION_ID)["name"]["S"] == name.strip()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a" * 33, "name longer than 32 characters"),
        ("bob\nadmin", "name has characters that are not printable"),
        ("bell\x07", "name has characters that are not printable"),
        ("tab\there", "name has characters that are not printable"),
    ],
)
def test_refuses_bad_names_with_400(chat, events, logs, lambda_context, name, reason):
    """A name over 32 characters or with unprintable characters is refused with 400, nothing is
    stored, and the log gives the reason and length, never the name."""
    event = events.load("connect")
    event["queryStringParameters"] = {"name": name}
    assert chat.connect.lambda_handler(event, lambda_context) == {"statusCode": 400}
    assert chat.item(CONNECTION_ID) is None
    (line,) = [entry for entry in logs() if entry["event"] == "connect_rejected"]
    assert line["level"] == "WARNING" and line["reason"] == reason
    assert line["nameLength"] == len(name)
    assert name not in str(line)  # the refused value itself is not logged


def test_dynamodb_failure_is_logged_in_full_and_answered_500(
    chat, events, logs, lambda_context, monkeypatch
):
    """A DynamoDB failure refuses the connection with 500 and logs the error and traceback."""
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    assert chat.connect.lambda_handler(events.load("connect"), lambda_context) == {
        "statusCode": 500
    }
    (line,) = [entry for entry in logs() if entry["event"] == "connect_failed"]
    assert line["level"] == "ERROR"
    assert "ResourceNotFoundException" in line["error"]
    assert "Traceback" in line["stackTrace"]


# --- an API with the chat's authorizer on $connect ----------------------------------------
#
# API Gateway passes the authorizer's answer to the $connect integration as
# requestContext.authorizer: its principalId and the keys of its context, side by side ("For
# the Lambda proxy integration, API Gateway passes the context object from a Lambda
# authorizer directly to the backend Lambda function as part of the input event ... by calling
# $event.requestContext.authorizer.key": "Output from an API Gateway Lambda authorizer").
# Public captures of WebSocket $connect events also show an integrationLatency key there.


def authorized_event(events, authorizer: dict | None, **query) -> dict:
    event = events.load("connect")
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    return event


def from_the_authorizer(output: dict) -> dict:
    """requestContext.authorizer as the gateway builds it from an authorizer's output."""
    return {"principalId": output["principalId"], "integrationLatency": 41,
            **output.get("context", {})}


def test_the_authorizers_name_wins_over_the_query(chat, events, logs, lambda_context):
    """With an authorizer, the name it vouches for is stored and logged, not the ?name= the client
    asked for."""
    event = authorized_event(events, {"principalId": "alice", "name": "alice",
                                      "tokenExpiresAt": 1795626000, "integrationLatency": 41},
                             name="mallory")
    assert chat.connect.lambda_handler(event, lambda_context) == {"statusCode": 200}
    assert chat.item(CONNECTION_ID)["name"] == {"S": "alice"}
    (line,) = [entry for entry in logs() if entry["event"] == "connect"]
    assert (line["name"], line["authorized"], line["guest"]) == ("alice", True, False)


def test_with_an_authorizer_no_query_name_is_needed(chat, events, lambda_context):
    """With an authorizer, a connection without ?name= is stored under the authorizer's name."""
    event = authorized_event(events, {"principalId": "bob", "name": "bob"})
    assert chat.connect.lambda_handler(event, lambda_context) == {"statusCode": 200}
    assert chat.item(CONNECTION_ID)["name"] == {"S": "bob"}


@pytest.mark.parametrize("query_name", ["x" * 40, "bob\nadmin"])
def test_with_an_authorizer_a_bad_query_name_is_ignored(chat, events, lambda_context, query_name):
    """With an authorizer, a ?name= the chat would refuse is ignored rather than failing the
    connect."""
    event = authorized_event(events, {"principalId": "carol", "name": "carol"},
                             name=query_name)
    assert chat.connect.lambda_handler(event, lambda_context) == {"statusCode": 200}
    assert chat.item(CONNECTION_ID)["name"] == {"S": "carol"}


@pytest.mark.parametrize("authorizer", [
    {"principalId": "dave"},  # an authorizer that does not say the name
    {"principalId": "dave", "name": ""},
    {"principalId": "dave", "name": "   "},
    {"principalId": "dave", "name": 7},
    {"principalId": "dave", "name": "n" * 33},
    {"principalId": "dave", "name": "bell\x07"},
])
def test_an_authorizer_without_a_usable_name_is_a_500_not_a_guest(
    chat, events, logs, lambda_context, authorizer
):
    """An authorizer context without a usable name refuses the connect with 500 and stores nothing,
    rather than letting in a guest."""
    event = authorized_event(events, authorizer, name="dave")
    assert chat.connect.lambda_handler(event, lambda_context) == {"statusCode": 500}
    assert chat.item(CONNECTION_ID) is None
    (line,) = [entry for entry in logs() if entry["event"] == "connect_failed"]
    assert line["level"] == "ERROR" and "'name'" in line["reason"]


@pytest.mark.parametrize("authorizer", [None, {}, "alice", ["alice"]])
def test_no_authorizer_keeps_the_query_name(chat, events, lambda_context, authorizer):
    """Without an authorizer context (absent, empty or not a mapping) the ?name= is stored as
    before."""
    event = authorized_event(events, None, name="erin")
    event["requestContext"]["authorizer"] = authorizer
    assert chat.connect.lambda_handler(event, lambda_context) == {"statusCode": 200}
    assert chat.item(CONNECTION_ID)["name"] == {"S": "erin"}


def test_authorizer_output_to_connect_to_broadcast(
    chat, authorizer, events, lambda_context
):
    """The chain as the gateway runs it: the authorizer allows a token for "alice", the
    $connect integration gets its answer, and the broadcast shows the table's name, so a
    client asking for ?name=mallory still speaks as alice."""
    request = authorizer.request(authorizer.sign("alice"), name="mallory")
    output = authorizer.app.lambda_handler(request, lambda_context)
    assert output["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    event = authorized_event(events, from_the_authorizer(output), name="mallory",
                             token=request["queryStringParameters"]["token"])
    assert chat.connect.lambda_handler(event, lambda_context) == {"statusCode": 200}
    chat.add("BOB000000000000=", "bob", announced=True)
    chat.broadcast.lambda_handler(
        events.message(CONNECTION_ID, '{"action": "sendmessage", "message": "hi"}'),
        lambda_context)
    (frame,) = [f for f in chat.gateway.frames["BOB000000000000="] if f["type"] == "message"]
    assert frame["from"] == "alice"
