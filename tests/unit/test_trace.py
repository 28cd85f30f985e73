"""workshop_utils.trace on recorded log lines: the AWS path's waiting and paging with botocore's
Stubber, the joins by id, the sequence diagram's hops.

The lines are the shapes the local cloud writes (REST's observed execution-log lines, the
WebSocket ones an emulator claims: workshop_utils/localcloud/gateway/execution_log.py), Lambda's
START/END/REPORT (Lambda Developer Guide, "Using CloudWatch Logs with Lambda") and the chat's
JSON lines. CloudWatch Logs' FilterLogEvents pages with ``nextToken`` ("If the results include
a token, there are more log events available", CloudWatch Logs API Reference) and shows an
event some seconds after it was written, so every read pages to the end and waits, bounded,
for the line that ends its piece.
"""

from __future__ import annotations

import boto3
import matplotlib
import pytest
from botocore.stub import Stubber

from tests.timing import SECOND
from workshop_utils import trace

matplotlib.use("Agg")

R, M, C = "HBzR3Ptw3kaEblE=", "HBzR3FxyoAMCJ1A=", "9kiBi6SmZWvLbjg="
BOB = "Kl3_cqwd2paBN0c="
L = "69db594d-fac4-41f4-9b0f-e61d8a5de78e"
API = "apegmrqu"
SINCE = 1_796_181_484_000
ACCESS_GROUP = "/aws/apigateway/wschat-chat-api/access"
EXECUTION_GROUP = f"API-Gateway-Execution-Logs_{API}/dev"
FUNCTION_GROUP = "/aws/lambda/wschat-broadcast"
URI = ("https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/arn:aws:lambda:us-east-1:"
       "123456789012:function:wschat-broadcast/invocations")

ACCESS = [f"{R} {M} MESSAGE sendmessage 200 {C} {L}\n"]
EXECUTION_EARLY = [
    f"({R}) Extended Request Id: {R}",
    f"({R}) Starting execution for request: {R}",
    f"({R}) WebSocket Request Route: [sendmessage]",
]
EXECUTION_LATE = [
    f"({R}) WebSocket API [{API}] received message from client [Connection Id: {C}].",
    f"({R}) Endpoint request URI: {URI}",
    f"({R}) Sending request to {URI}",
    f"({R}) Received response. Status: 200, Integration latency: 12 ms",
    f"({R}) Message from client [Connection Id: {C}] sent to API [{API}] with response status "
    f"code [200].",
    f"({R}) AWS Integration Endpoint RequestId : {L}",
]
INVOCATION = [
    f"START RequestId: {L} Version: $LATEST\n",
    f'{{"level": "DEBUG", "awsRequestId": "{L}", "event": "dynamodb", "operation": "GetItem", '
    f'"status": 200, "count": 1, "ms": 1.4}}\n',
    f'{{"level": "DEBUG", "awsRequestId": "{L}", "event": "dynamodb", "operation": "Scan", '
    f'"status": 200, "count": 2, "scanned": 2, "morePages": false, "ms": 2.1}}\n',
    f'{{"level": "INFO", "awsRequestId": "{L}", "event": "message", "connectionId": "{C}", '
    f'"name": "alice", "textLength": 2, "requestId": "{R}", "messageId": "{M}"}}\n',
    f'{{"level": "DEBUG", "awsRequestId": "{L}", "event": "post", "connectionId": "{BOB}", '
    f'"outcome": "delivered", "ms": 3.2}}\n',
    f'{{"level": "DEBUG", "awsRequestId": "{L}", "event": "post", "connectionId": "{C}", '
    f'"outcome": "delivered", "ms": 3.5}}\n',
    f'{{"level": "INFO", "awsRequestId": "{L}", "event": "broadcast", "kind": "message", '
    f'"connectionId": "{C}", "recipients": 2, "delivered": 2, "stale_removed": 0, '
    f'"failed": 0, "skipped": 0, "duration_ms": 4.0}}\n',
    f"END RequestId: {L}\n",
    f"REPORT RequestId: {L}\tDuration: 9.87 ms\tBilled Duration: 10 ms\tMemory Size: 256 MB\t"
    f"Max Memory Used: 49 MB\t\n",
]


def events(messages: list[str], start: int = 0) -> list[dict]:
    return [{"logStreamName": "s", "timestamp": SINCE + start + i, "message": m,
             "ingestionTime": SINCE + start + i, "eventId": str(start + i)}
            for i, m in enumerate(messages)]


@pytest.fixture
def logs():
    client = boto3.client("logs", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect(stubber: Stubber, group: str, pattern: str, pages: list[list[dict]]) -> None:
    """One paginated read: each page but the last says there is more (``nextToken``)."""
    for number, page in enumerate(pages):
        params = {"logGroupName": group, "filterPattern": pattern, "startTime": SINCE}
        if number:
            params["nextToken"] = f"token-{number}"
        response = {"events": page, "searchedLogStreams": []}
        if number < len(pages) - 1:
            response["nextToken"] = f"token-{number + 1}"
        stubber.add_response("filter_log_events", response, params)


def test_the_trace_pages_and_waits_on_aws_then_joins_by_ids(logs) -> None:
    """Each read pages to the end; the execution log's first read has only the request's
    first lines (AWS delivers them in batches), so the trace sleeps once and reads again until
    the outcome line is there; then the invocation is read by the Lambda request id, in two
    pages. Every id comes from the step before."""
    client, stubber = logs
    expect(stubber, ACCESS_GROUP, '"sendmessage"', [[], events(ACCESS)])
    expect(stubber, EXECUTION_GROUP, f'"({R})"', [events(EXECUTION_EARLY)])
    expect(stubber, EXECUTION_GROUP, f'"({R})"',
           [events(EXECUTION_EARLY), events(EXECUTION_LATE, 10)])
    expect(stubber, FUNCTION_GROUP, f'"{L}"', [events(INVOCATION[:4]), events(INVOCATION[4:], 4)])
    sleeps: list[float] = []
    found = trace.collect(client, access_group=ACCESS_GROUP, execution_group=EXECUTION_GROUP,
                          function_group=FUNCTION_GROUP, start_time_ms=SINCE,
                          sleep=sleeps.append)
    assert sleeps == [1.0]
    assert (found.request_id, found.message_id, found.sender, found.lambda_request_id) == (
        R, M, C, L)
    assert found.execution[0] == f"Extended Request Id: {R}"
    assert found.execution[-1] == f"AWS Integration Endpoint RequestId : {L}"
    assert found.integration_latency_ms == 12
    assert found.report["duration_ms"] == 9.87
    assert [line["operation"] for line in found.lines("dynamodb")] == ["GetItem", "Scan"]
    assert found.recipients == [BOB, C]
    said = found.lines("message")[0]
    assert (said["requestId"], said["messageId"]) == (R, M)


def test_a_wait_is_bounded_and_says_what_to_check(logs) -> None:
    """No MESSAGE line by the deadline: one clear error naming the group and the format."""
    client, stubber = logs
    expect(stubber, ACCESS_GROUP, '"sendmessage"', [[]])
    with pytest.raises(LookupError, match="ACCESS_FORMAT"):
        trace.find_message(client, ACCESS_GROUP, start_time_ms=SINCE, timeout_s=0 * SECOND,
                           sleep=lambda s: None)


def test_the_execution_log_gives_the_lambda_id_when_the_access_log_has_none() -> None:
    """An access log written without ``$context.integration.requestId`` (``-``) is joined to
    the invocation by the execution log's ``AWS Integration Endpoint RequestId``."""
    found = trace.Trace(trace.parse_access_line(f"{R} {M} MESSAGE sendmessage 200 {C} -"),
                        execution=[line.split(") ", 1)[1] for line in EXECUTION_LATE])
    assert found.lambda_request_id == L


def test_lines_of_another_shape_are_not_an_access_line() -> None:
    """The trace reads only lines of its own format (another stage format: None)."""
    assert trace.parse_access_line("CONNECT $connect 200 abc") is None
    assert trace.parse_access_line(ACCESS[0])["integrationRequestId"] == L


def test_the_sequence_draws_every_hop_with_ids_and_ms() -> None:
    """At DEBUG: sender -> API Gateway (request and message ids), -> Lambda (its request id),
    each DynamoDB call, each post and the frame it delivered, and the answer with the
    function's duration and the integration latency."""
    found = trace.Trace(trace.parse_access_line(ACCESS[0]),
                        execution=[m.split(") ", 1)[1] for m in EXECUTION_EARLY + EXECUTION_LATE],
                        invocation=[m.rstrip("\n") for m in INVOCATION],
                        handler=trace.handler_lines(INVOCATION))
    arrows = trace.sequence(found)
    assert [(a.source, a.target) for a in arrows] == [
        ("sender", "API Gateway"), ("API Gateway", "broadcast Lambda"),
        ("broadcast Lambda", "DynamoDB"), ("broadcast Lambda", "DynamoDB"),
        ("broadcast Lambda", "@connections"), ("@connections", "to Kl3_cqwd…"),
        ("broadcast Lambda", "@connections"), ("@connections", "sender (echo)"),
        ("broadcast Lambda", "API Gateway")]
    assert arrows[0].label == "sendmessage  requestId HBzR3Ptw…  messageId HBzR3Fxy…"
    assert arrows[2].label == "GetItem, 1 item  1.4 ms"
    assert arrows[4].label == "POST Kl3_cqwd… delivered  3.2 ms"
    assert arrows[-1].label == "200  Duration 9.87 ms, integration latency 12 ms"
    assert trace.participants(arrows)[-2:] == ["to Kl3_cqwd…", "sender (echo)"]
    figure = trace.draw(found)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert all(arrow.label in texts for arrow in arrows if arrow.source != arrow.target)


def test_without_debug_lines_the_fan_out_is_its_summary() -> None:
    """At INFO there are no per-post lines: the fan-out is one arrow from the summary."""
    info_only = [m for m in INVOCATION if '"DEBUG"' not in m]
    found = trace.Trace(trace.parse_access_line(ACCESS[0]),
                        invocation=[m.rstrip("\n") for m in info_only],
                        handler=trace.handler_lines(info_only))
    labels = [a.label for a in trace.sequence(found)]
    assert "2 posts, 2 delivered  4 ms" in labels
    assert found.recipients == []


def test_a_request_that_invoked_nothing_ends_at_the_gateway() -> None:
    """The missing invoke permission: no Lambda request id anywhere; the diagram ends with
    the execution log's failure at API Gateway."""
    failed = "Execution failed due to configuration error: Invalid permissions on Lambda function"
    found = trace.Trace(trace.parse_access_line(f"{R} {M} MESSAGE sendmessage 500 {C} -"),
                        execution=[f"Sending request to {URI}", failed])
    arrows = trace.sequence(found)
    assert found.lambda_request_id is None
    assert arrows[-1] == trace.Arrow("API Gateway", "API Gateway", failed)
