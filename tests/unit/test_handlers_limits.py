"""What the handlers do at the edges AWS sets: the function's timeout, the partition, the TTL."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff

from workshop_utils.stack import FUNCTION_TIMEOUT_S

SENDER = "Vx3kQfGSoAMCJ1A="  # tests/events/message.json
# botocore "standard" retries wait at most rand(0,1) x 1 s before the second attempt (throttling
# base scale 1 s; botocore/retries/standard.py ExponentialBackoff); a third would wait <= 2 s.
# An x-amz-retry-after header raises each wait by at most 5 s ("capped at t_i + 5 seconds",
# ExponentialBackoff.delay_amount), which botocore 1.44 honours: read from botocore itself.
BACKOFF_S = [1, 2, 4, 8]
RETRY_AFTER_MAX_S = ExponentialBackoff._RETRY_AFTER_MAX_ADDITIONAL


def worst_case_s(client) -> float:
    """The longest one call of ``client`` can take, read from the client itself."""
    config = client.meta.config
    attempts = config.retries["total_max_attempts"]
    return attempts * (config.connect_timeout + config.read_timeout) + sum(
        BACKOFF_S[: attempts - 1]) + (attempts - 1) * RETRY_AFTER_MAX_S


# (service, operation, its parameters, an answer botocore retries) for each client the
# functions make: DynamoDB and @connections (chat_common), SSM (the authorizer).
FAILING_CALLS = {
    "dynamodb": ("GetItem", {"TableName": "t", "Key": {"connectionId": {"S": "X00000000000000="}}},
                 500, {}, b'{"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",'
                           b' "message": "boom"}'),
    "apigatewaymanagementapi": ("PostToConnection",
                                {"ConnectionId": "X00000000000000=", "Data": b"x"},
                                500, {"x-amzn-ErrorType": "InternalServerErrorException"},
                                b'{"message": "boom"}'),
    "ssm": ("GetParameter", {"Name": "p", "WithDecryption": True},
            500, {}, b'{"__type": "InternalServerError", "message": "boom"}'),
}


class Raw:
    """The body of a canned HTTP answer, as botocore reads one."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_kwargs):
        yield self.body


def sends_and_waits(config, service: str, monkeypatch, *, status: int | None = None,
                    headers: dict | None = None, body: bytes | None = None):
    """Call ``service`` through a client with ``config`` whose every HTTP answer is an error
    botocore retries: (how many requests it sent, the waits it took between them)."""
    operation, params, default_status, default_headers, default_body = FAILING_CALLS[service]
    extra = ({"endpoint_url": "https://abc123.execute-api.us-east-1.amazonaws.com/dev"}
             if service == "apigatewaymanagementapi" else {})
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x", config=config, **extra)
    sent: list[str] = []
    waits: list[float] = []

    def answer(request, **_kwargs):
        sent.append(request.url)
        return AWSResponse(request.url, status or default_status,
                           {**default_headers, **(headers or {})}, Raw(body or default_body))

    client.meta.events.register_first(f"before-send.{service}.{operation}", answer)
    monkeypatch.setattr("botocore.endpoint.time.sleep", waits.append)
    method = next(m for m, op in client.meta.method_to_api_mapping.items() if op == operation)
    with pytest.raises(ClientError):
        getattr(client, method)(**params)
    return len(sent), waits


@pytest.mark.parametrize("service", list(FAILING_CALLS))
def test_each_client_sends_exactly_its_total_attempts(chat, authorizer, service, monkeypatch):
    """A call that always fails is sent total_max_attempts times, the first included (two:
    botocore's max_attempts=2 would have sent three), with one short wait between."""
    config = {"dynamodb": chat.common.DYNAMODB_CONFIG, "ssm": authorizer.app.SSM_CONFIG,
              "apigatewaymanagementapi": chat.common.MANAGEMENT_CONFIG}[service]
    sent, waits = sends_and_waits(config, service, monkeypatch)
    assert sent == config.retries["total_max_attempts"] == 2
    assert len(waits) == 1 and 0 <= waits[0] <= chat.common.MAX_RETRY_BACKOFF_MS / 1000


def test_a_retry_after_header_lengthens_the_wait_by_at_most_five_seconds(chat, monkeypatch):
    """A throttled answer asking for a ten-minute wait (x-amz-retry-after, in milliseconds)
    makes botocore wait more than its own backoff but never more than that plus 5 s: the
    allowance chat_common's worst case counts."""
    sent, waits = sends_and_waits(
        chat.common.DYNAMODB_CONFIG, "dynamodb", monkeypatch, status=400,
        headers={"x-amz-retry-after": "600000"},
        body=b'{"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException"}')
    assert sent == 2
    assert chat.common.MAX_RETRY_AFTER_MS == RETRY_AFTER_MAX_S * 1000  # botocore's cap
    (wait,) = waits
    assert chat.common.MAX_RETRY_AFTER_MS / 1000 <= wait <= (
        chat.common.MAX_RETRY_BACKOFF_MS + chat.common.MAX_RETRY_AFTER_MS) / 1000


def test_every_sdk_call_gives_up_within_the_functions_timeout(chat, authorizer):
    """Lambda stops the function at its Timeout (stack.py creates them with 10 s): a call
    that can outlast it would be killed mid-way, its log line lost; the authorizer's SSM
    read included, and an x-amz-retry-after wait counted."""
    clients = (chat.common.dynamodb, chat.common.management_client(chat.endpoint),
               authorizer.app._ssm_client())
    for client in clients:
        assert worst_case_s(client) < FUNCTION_TIMEOUT_S, client.meta.service_model.service_name
        assert chat.common.worst_case_ms(client.meta.config) == round(
            worst_case_s(client) * 1000)
    # and the reserve the fan-out keeps is what the clients take when AWS asks no longer wait
    without_header_s = [worst_case_s(c) - RETRY_AFTER_MAX_S for c in clients[:2]]
    assert chat.common.POST_RESERVE_MS >= without_header_s[1] * 1000
    assert chat.common.DELETE_RESERVE_MS >= without_header_s[0] * 1000


@dataclass
class Clock:
    """A Lambda context whose remaining time the test controls."""

    remaining_ms: int
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:wschat-broadcast"
    aws_request_id: str = "0d5cbbcf-aaaa-4b7e-9a51-0c2e8d7f1a23"
    function_name: str = "wschat-broadcast"
    asked: list[int] = field(default_factory=list)

    def get_remaining_time_in_millis(self) -> int:
        self.asked.append(self.remaining_ms)
        return self.remaining_ms


def test_a_fan_out_with_no_time_left_posts_nothing_and_says_so(chat, events, logs):
    """With less time left than one post may take, nothing is posted and the summary counts
    them skipped."""
    chat.add(SENDER, "alice", announced=True)
    for n in range(5):
        chat.add(f"P{n:014d}=", f"p{n}", announced=True)
    clock = Clock(remaining_ms=chat.common.POST_RESERVE_MS - 1)
    assert chat.broadcast.lambda_handler(events.load("message"), clock) == {"statusCode": 200}
    assert chat.gateway.attempts == {}  # not one post started
    (summary,) = [line for line in logs() if line.get("event") == "broadcast"]
    assert summary["recipients"] == summary["skipped"] == 6
    assert summary["delivered"] == 0


def test_the_fan_out_stops_posting_when_the_time_runs_low(chat, events, logs, monkeypatch):
    """Each post takes 1 s of the invocation here; posts stop once what is left could not
    cover one more post's worst case, and the summary still gets logged."""
    monkeypatch.setattr(chat.common, "_executor", ThreadPoolExecutor(max_workers=1))
    recipients = [f"P{n:014d}=" for n in range(10)]
    clock = Clock(remaining_ms=chat.common.POST_RESERVE_MS + 2500)
    chat.common.bind_request(clock)

    def one_second_per_post(request, **_kwargs):
        clock.remaining_ms -= 1000

    chat.common.management_client(chat.endpoint).meta.events.register(
        "before-send.apigatewaymanagementapi", one_second_per_post)
    result = chat.common.fan_out(chat.endpoint, {"type": "x"}, recipients, kind="message",
                                 source=SENDER)
    assert (result.delivered, result.skipped) == (3, 7)
    assert list(chat.gateway.attempts) == recipients[:3]
    assert all(left > chat.common.POST_RESERVE_MS for left in clock.asked[:3])
    chat.common._executor.shutdown()


def test_a_stale_id_is_kept_when_there_is_no_time_to_delete_it(chat, logs):
    """The delete after a 410 is skipped when it could outlast the invocation (here the post
    took a second of the little time there was); TTL or the next broadcast removes the id."""
    chat.add("GONE00000000000=", "gone", announced=True)
    chat.gateway.gone.add("GONE00000000000=")
    clock = Clock(remaining_ms=chat.common.POST_RESERVE_MS + 500)
    assert clock.remaining_ms - 1000 < chat.common.DELETE_RESERVE_MS
    chat.common.bind_request(clock)

    def one_second_per_post(request, **_kwargs):
        clock.remaining_ms -= 1000

    chat.common.management_client(chat.endpoint).meta.events.register(
        "before-send.apigatewaymanagementapi", one_second_per_post)
    result = chat.common.fan_out(chat.endpoint, {"type": "x"}, ["GONE00000000000="], kind="message",
                                 source=SENDER)
    assert result.failed == 1 and chat.item("GONE00000000000=") is not None
    assert any(line["event"] == "stale_remove_skipped" for line in logs())


@pytest.mark.parametrize(
    ("partition", "region", "host"),
    [
        ("aws", "eu-west-3", "abc123.execute-api.eu-west-3.amazonaws.com"),
        ("aws-cn", "cn-north-1", "abc123.execute-api.cn-north-1.amazonaws.com.cn"),
        ("aws-us-gov", "us-gov-west-1", "abc123.execute-api.us-gov-west-1.amazonaws.com"),
    ],
)
def test_the_management_endpoint_is_in_the_functions_partition(
        chat, monkeypatch, partition, region, host):
    """The execute-api domain of China's regions is amazonaws.com.cn (API Gateway in China,
    "Amazon API Gateway endpoints"); the partition comes from the function's own ARN."""
    monkeypatch.setenv("AWS_REGION", region)
    chat.common.bind_request(Clock(
        remaining_ms=9000,
        invoked_function_arn=f"arn:{partition}:lambda:{region}:123456789012:function:f"))
    assert chat.common.management_endpoint({"apiId": "abc123", "stage": "dev"}) == (
        f"https://{host}/dev")


def test_an_unknown_partition_is_a_clear_error(chat, monkeypatch):
    """A function in a partition without a known execute-api domain gets an error naming it."""
    monkeypatch.setenv("AWS_REGION", "us-iso-east-1")
    chat.common.bind_request(Clock(
        remaining_ms=9000,
        invoked_function_arn="arn:aws-iso:lambda:us-iso-east-1:123456789012:function:f"))
    with pytest.raises(ValueError, match="aws-iso"):
        chat.common.management_endpoint({"apiId": "abc123", "stage": "dev"})


def test_expired_items_are_not_broadcast_to(chat, events, lambda_context):
    """DynamoDB deletes expired items only eventually ("typically within a few days"; DynamoDB
    Developer Guide, "Working with time to live"), and reads return them until then."""
    now = int(time.time())
    chat.add(SENDER, "alice", announced=True)
    chat.add("LIVE00000000000=", "live", announced=True)
    chat.add("EXPIRED00000000=", "expired", announced=True, expiresAt={"N": str(now - 60)})
    chat.ddb.put_item(TableName=chat.common.table_name(), Item={
        "connectionId": {"S": "NOTTL0000000000="}, "name": {"S": "no-ttl"},
        "announced": {"BOOL": True}})
    chat.broadcast.lambda_handler(events.load("message"), lambda_context)
    assert chat.gateway.posted_to == {SENDER, "LIVE00000000000=", "NOTTL0000000000="}
    (scan,) = [c for c in chat.recorder.calls if c.operation == "Scan"]
    assert "expiresAt" in scan.params["FilterExpression"]
    assert chat.item("EXPIRED00000000=") is not None  # left for TTL to delete


def test_an_expired_person_is_not_listed_as_online(chat, events, lambda_context):
    """An item past its TTL is neither told of the join nor listed in the welcome's online
    list."""
    chat.add("OLD000000000000=", "old", announced=True, expiresAt={"N": str(int(time.time()) - 1)})
    chat.add(SENDER, "alice")
    chat.broadcast.lambda_handler(events.load("join"), lambda_context)
    (welcome,) = chat.gateway.frames[SENDER]
    assert welcome["type"] == "welcome" and welcome["online"] == []
    assert "OLD000000000000=" not in chat.gateway.posted_to


def test_a_sender_past_its_ttl_is_not_a_known_sender(chat, events, lambda_context, logs):
    """The GetItem agrees with the Scan: a sender whose item expired (TTL not yet applied by
    DynamoDB) posts as unknown, its join is not announced, and no one is told it is here."""
    chat.add("LIVE00000000000=", "live", announced=True)
    chat.add(SENDER, "alice", expiresAt={"N": str(int(time.time()) - 1)})
    chat.broadcast.lambda_handler(events.load("join"), lambda_context)
    assert chat.gateway.attempts == {}  # no presence, no welcome
    assert chat.recorder.count("UpdateItem") == 0  # not claimed as announced
    chat.broadcast.lambda_handler(events.load("message"), lambda_context)
    (message,) = [line for line in logs() if line.get("event") == "message"]
    assert message["name"] == chat.broadcast.UNKNOWN_SENDER
    assert chat.gateway.frames["LIVE00000000000="][-1]["from"] == chat.broadcast.UNKNOWN_SENDER
    (get,) = {c.params["ProjectionExpression"] for c in chat.recorder.calls
              if c.operation == "GetItem"}
    assert "#ttl" in get


@pytest.mark.parametrize(("expires", "live"), [
    (None, True),  # no TTL attribute: kept, as the Scan keeps it
    ({"N": "+60"}, True),
    ({"N": "-1"}, False),
    ({"N": "0"}, False),  # expiresAt == now is not "> now"
])
def test_is_live_agrees_with_the_scans_filter(chat, expires, live):
    """For each kind of expiresAt, the single-item rule (is_live) and DynamoDB's own
    evaluation of the Scan's filter give the same answer."""
    now = chat.common.ttl_now()
    item = {"connectionId": {"S": "X00000000000000="}, "name": {"S": "x"}}
    if expires is not None:
        value = expires.get("N")
        item["expiresAt"] = ({"N": str(int(now["N"]) + int(value))} if value else expires)
    chat.ddb.put_item(TableName=chat.common.table_name(), Item=item)
    scanned = chat.ddb.scan(TableName=chat.common.table_name(),
                            FilterExpression=chat.common.LIVE_FILTER,
                            ExpressionAttributeValues={":now": now})["Items"]
    assert chat.common.is_live(chat.item("X00000000000000="), now) is live
    assert (scanned != []) is live


@pytest.mark.parametrize("expires", [{"S": "tomorrow"}, {"N": "soon"}, {"NULL": True}, "9"])
def test_an_expiry_that_is_not_a_number_is_not_live(chat, expires):
    """An expiresAt that is not a number does not match the Scan's "expiresAt > :now" on AWS
    ("If an item contains an AttributeValue element of a different type than the one
    provided in the request, the value does not match", DynamoDB API Reference, Condition; moto
    raises instead, so this is checked on is_live alone), and TTL never deletes such an item."""
    assert chat.common.is_live({"connectionId": {"S": "X00000000000000="},
                                "expiresAt": expires}) is False
