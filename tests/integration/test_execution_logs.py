"""Execution logs of the local gateway: what API Gateway writes to
``API-Gateway-Execution-Logs_{apiId}/{stage}`` for WebSocket routes, through boto3 and real
websockets clients.

Where the line shapes come from (``gateway/execution_log.py`` says it line by line): REST API
execution logs captured on AWS (2019, 2025) for the integration and its failures, another
emulator's claims for the WebSocket-specific lines (no WebSocket capture was found: they are a
hypothesis), and our own wording, marked chosen, for what no source shows. The levels:
``LoggingLevel`` INFO writes every event, ERROR only what failed, ``DataTraceEnabled`` adds the
endpoint bodies; ``RouteSettings`` override the stage's ``DefaultRouteSettings``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.timing import SECOND, milliseconds
from workshop_utils.localcloud import LocalCloud

from . import kit

TRACED_SOURCE = """
import json

def handler(event, context):
    ctx = event["requestContext"]
    seen = {"requestId": ctx["requestId"], "awsRequestId": context.aws_request_id,
            "routeKey": ctx["routeKey"], "connectionId": ctx["connectionId"]}
    print("EVENT " + json.dumps(seen))
    return {"statusCode": 200, "body": json.dumps(seen)}
"""

RAISE_SOURCE = """
def handler(event, context):
    raise ValueError("kaboom")
"""

SLEEP_S = 2 * SECOND  # how long gwx-sleep takes, well past its integration's timeout
SLEEP_SOURCE = f"""
import time

def handler(event, context):
    time.sleep({SLEEP_S!r})
    return {{"statusCode": 200}}
"""

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LATENCY = r"\d+"


@pytest.fixture(scope="module")
def fns(cloud: LocalCloud) -> dict[str, str]:
    """This module's functions, by role (ARNs); the account gets its CloudWatch role first."""
    kit.ensure_logging_role(cloud)
    return {
        "traced": kit.deploy_function(cloud, "gwx-traced", TRACED_SOURCE),
        "raise": kit.deploy_function(cloud, "gwx-raise", RAISE_SOURCE),
        "sleep": kit.deploy_function(cloud, "gwx-sleep", SLEEP_SOURCE,
                                     timeout=3 * SLEEP_S),
    }


def logged_api(cloud: LocalCloud, name: str, routes: dict[str, str],
               default: dict[str, Any] | None = None,
               per_route: dict[str, dict[str, Any]] | None = None,
               **kwargs: Any) -> dict[str, Any]:
    """A deployed API whose stage has these DefaultRouteSettings and RouteSettings."""
    stage_kwargs: dict[str, Any] = {"DefaultRouteSettings": default or {"LoggingLevel": "INFO"}}
    if per_route:
        stage_kwargs["RouteSettings"] = per_route
    return kit.build_websocket_api(cloud, name, routes, stage_kwargs=stage_kwargs, **kwargs)


def group_of(api: dict[str, Any]) -> str:
    return f"API-Gateway-Execution-Logs_{api['api_id']}/{api['stage']}"


def execution_events(cloud: LocalCloud, api: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event of the stage's execution log, every page (none when there is no group)."""
    logs = cloud.client("logs")
    try:
        return [event for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=group_of(api)) for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def request_lines(cloud: LocalCloud, api: dict[str, Any], request_id: str, *,
                  until: str | None = None, timeout: float = 10 * SECOND) -> list[str]:
    """The execution-log lines of one request (they start with "(<request id>) "), without
    the prefix; waits (bounded) until a line contains ``until``."""
    prefix = f"({request_id}) "
    deadline = time.monotonic() + timeout
    while True:
        lines = [e["message"][len(prefix):] for e in execution_events(cloud, api)
                 if e["message"].startswith(prefix)]
        if until is None or any(until in line for line in lines):
            return lines
        if time.monotonic() > deadline:
            raise AssertionError(f"no line with {until!r} for {request_id} within "
                                 f"{timeout:g} s: {lines}")
        time.sleep(0.05 * SECOND)


def assert_lines(lines: list[str], patterns: list[str]) -> None:
    """Each line matches its pattern, in order (patterns are regular expressions)."""
    assert len(lines) == len(patterns), "\n".join(lines)
    for line, pattern in zip(lines, patterns, strict=True):
        assert re.fullmatch(pattern, line), f"{line!r} !~ {pattern!r}"


async def exchange(url: str, *frames: str, replies: int = 0) -> list[dict[str, Any]]:
    """Connect, send ``frames``, read ``replies`` JSON frames, close normally."""
    async with connect(url, open_timeout=15 * SECOND) as ws:
        for frame in frames:
            await ws.send(frame)
        return [json.loads(await ws.recv()) for _ in range(replies)]


INVALID_PERMISSIONS = ("Execution failed due to configuration error: Invalid permissions on "
                       "Lambda function")


def failing_message(cloud: LocalCloud, api: dict[str, Any], text: str,
                    until: str) -> tuple[dict[str, Any], list[str]]:
    """Send one message whose integration fails: the client's Internal server error frame, and
    that request's execution-log lines once one contains ``until``."""
    frame = kit.run_async(exchange(api["url"], text, replies=1))[0]
    assert frame["message"] == "Internal server error"
    return frame, request_lines(cloud, api, frame["requestId"], until=until)


def lambda_invocation(cloud: LocalCloud, function: str, request_id: str) -> list[str]:
    """The function's own log lines of the invocation ``request_id`` (START to REPORT)."""
    logs = cloud.client("logs")
    events = [e["message"] for page in logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{function}") for e in page["events"]]
    start = events.index(next(m for m in events if m.startswith(f"START RequestId: {request_id}")))
    end = next(i for i, m in enumerate(events) if m.startswith(f"REPORT RequestId: {request_id}"))
    return events[start:end + 1]


def test_info_logs_each_event_line_by_line(cloud: LocalCloud, fns: dict[str, str]) -> None:
    """LoggingLevel INFO: CONNECT, MESSAGE and DISCONNECT are each logged from the request id
    to the outcome, every line prefixed "(<requestId>) ", the Lambda request id in "AWS
    Integration Endpoint RequestId : <id>" is the function's own, and with DataTraceEnabled
    off no headers or bodies are logged."""
    api = logged_api(cloud, "gwx-info", {"$connect": fns["traced"], "$default": fns["traced"],
                                         "$disconnect": fns["traced"]}, two_way=("$default",))
    seen = kit.run_async(exchange(api["url"], "hello", replies=1))[0]
    rid, lambda_id, cid = seen["requestId"], seen["awsRequestId"], seen["connectionId"]
    uri = (rf"https://lambda\.us-east-1\.amazonaws\.com/2015-03-31/functions/"
           rf"{re.escape(fns['traced'])}/invocations")
    api_id = api["api_id"]
    message = request_lines(cloud, api, rid, until="AWS Integration Endpoint RequestId")
    assert_lines(message, [
        rf"Extended Request Id: {re.escape(rid)}",
        rf"Starting execution for request: {re.escape(rid)}",
        r"WebSocket Request Route: \[\$default\]",
        rf"WebSocket API \[{api_id}\] received message from client \[Connection Id: "
        rf"{re.escape(cid)}\]\.",
        rf"Endpoint request URI: {uri}",
        rf"Sending request to {uri}",
        rf"Received response\. Status: 200, Integration latency: {LATENCY} ms",
        rf"Message from client \[Connection Id: {re.escape(cid)}\] sent to API \[{api_id}\] "
        r"with response status code \[200\]\.",
        rf"AWS Integration Endpoint RequestId : {lambda_id}",
    ])
    # The Lambda request id is the function's: its START ... REPORT lines carry it.
    invocation = lambda_invocation(cloud, "gwx-traced", lambda_id)
    assert any(rid in line for line in invocation)

    connect_seen, disconnect_seen = (
        kit.logged_events(cloud, "gwx-traced", where=lambda e, k=key: (
            e["connectionId"] == cid and e["routeKey"] == k))[0]
        for key in ("$connect", "$disconnect"))
    connect_lines = request_lines(cloud, api, connect_seen["requestId"],
                                  until="connected to API")
    assert connect_lines[2] == "WebSocket Request Route: [$connect]"
    assert re.fullmatch(r"Client \[UserAgent: Python/[\d.]+ websockets/[\d.]+, SourceIp: "
                        rf"127\.0\.0\.1\] is connecting to WebSocket API \[{api_id}\]\.",
                        connect_lines[3])
    assert connect_lines[-2:] == [
        f"Client [Connection Id: {cid}] connected to API [{api_id}] successfully.",
        f"AWS Integration Endpoint RequestId : {connect_seen['awsRequestId']}"]
    disconnect_lines = request_lines(cloud, api, disconnect_seen["requestId"],
                                     until="AWS Integration Endpoint RequestId")
    assert disconnect_lines[2] == "WebSocket Request Route: [$disconnect]"
    assert disconnect_lines[-2:] == [
        f"Client [Connection Id: {cid}] disconnected from API [{api_id}] with integration "
        "response status code [200]. Close reason: [1000: ]",
        f"AWS Integration Endpoint RequestId : {disconnect_seen['awsRequestId']}"]
    everything = [e["message"] for e in execution_events(cloud, api)]
    assert not any("Endpoint request body" in m or "headers: {" in m for m in everything)


def test_the_log_group_and_its_stream_are_named_as_aws_names_them(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Turning execution logging on makes API-Gateway-Execution-Logs_{apiId}/{stage} at once,
    with one stream of 32 lower-case hex characters (the observed REST stream names)."""
    api = logged_api(cloud, "gwx-group", {"$default": fns["traced"]})
    logs = cloud.client("logs")
    streams = logs.describe_log_streams(logGroupName=group_of(api))["logStreams"]
    assert [re.fullmatch(r"[0-9a-f]{32}", s["logStreamName"]) is not None
            for s in streams] == [True]
    assert execution_events(cloud, api) == []  # nothing has happened yet


def test_a_stage_without_connect_or_disconnect_routes_logs_the_events_alone(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """Without $connect and $disconnect routes the connection is still logged: connected
    successfully, and disconnected without an integration status."""
    api = logged_api(cloud, "gwx-bare", {"$default": fns["traced"]}, two_way=("$default",))
    cid = kit.run_async(exchange(api["url"], "x", replies=1))[0]["connectionId"]
    deadline = time.monotonic() + 10 * SECOND
    messages: list[str] = []
    while time.monotonic() < deadline and not any("disconnected" in m for m in messages):
        messages = [e["message"] for e in execution_events(cloud, api)]
        time.sleep(0.05 * SECOND)
    api_id = api["api_id"]
    assert any(m.endswith(f"Client [Connection Id: {cid}] connected to API [{api_id}] "
                          "successfully.") for m in messages)
    assert any(m.endswith(f"Client [Connection Id: {cid}] disconnected from API [{api_id}]. "
                          "Close reason: [1000: ]") for m in messages)


def test_error_level_logs_only_the_events_that_fail(cloud: LocalCloud,
                                                    fns: dict[str, str]) -> None:
    """LoggingLevel ERROR: a message that succeeds writes nothing; one whose function raises
    writes AWS's function-error line and the Lambda request id, nothing else."""
    api = logged_api(cloud, "gwx-error", {"$default": fns["traced"], "boom": fns["raise"]},
                     default={"LoggingLevel": "ERROR"}, two_way=("$default",))
    ok, failed = kit.run_async(exchange(api["url"], "fine", '{"action": "boom"}', replies=2))
    assert failed["message"] == "Internal server error"
    lines = request_lines(cloud, api, failed["requestId"], until="Integration Endpoint")
    assert_lines(lines, [
        rf"Lambda execution failed with status 200 due to customer function error: kaboom\. "
        rf"Lambda request id: ({UUID})",
        rf"AWS Integration Endpoint RequestId : {UUID}",
    ])
    lambda_id = re.search(UUID, lines[0])[0]
    assert lines[1].endswith(lambda_id)
    assert any("[ERROR] ValueError: kaboom" in line
               for line in lambda_invocation(cloud, "gwx-raise", lambda_id))
    assert request_lines(cloud, api, ok["requestId"]) == []
    assert all(m["message"].startswith(f"({failed['requestId']}) ")
               for m in execution_events(cloud, api))


def test_route_settings_override_the_stage_default(cloud: LocalCloud,
                                                   fns: dict[str, str]) -> None:
    """RouteSettings[routeKey].LoggingLevel wins over DefaultRouteSettings: a loud route logs
    on a quiet stage, and a quiet route stays silent on a loud one."""
    quiet_stage = logged_api(cloud, "gwx-quiet", {"$default": fns["traced"],
                                                  "loud": fns["traced"]},
                             default={"LoggingLevel": "OFF"},
                             per_route={"loud": {"LoggingLevel": "INFO"}},
                             two_way=("$default", "loud"))
    plain, loud = kit.run_async(exchange(quiet_stage["url"], "plain", '{"action": "loud"}',
                                         replies=2))
    assert request_lines(cloud, quiet_stage, loud["requestId"],
                         until="Integration Endpoint")[2] == "WebSocket Request Route: [loud]"
    assert request_lines(cloud, quiet_stage, plain["requestId"]) == []

    loud_stage = logged_api(cloud, "gwx-loud", {"$default": fns["traced"],
                                                "quiet": fns["traced"]},
                            per_route={"quiet": {"LoggingLevel": "OFF"}},
                            two_way=("$default", "quiet"))
    plain, quiet = kit.run_async(exchange(loud_stage["url"], "plain", '{"action": "quiet"}',
                                          replies=2))
    request_lines(cloud, loud_stage, plain["requestId"], until="Integration Endpoint")
    assert request_lines(cloud, loud_stage, quiet["requestId"]) == []


def test_data_trace_adds_the_endpoint_headers_and_bodies_cut_at_1_kb(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """DataTraceEnabled with INFO logs the endpoint request's headers and body and the
    response's headers and body, headers as {K=V, ...}; a line over 1 KB is cut and marked
    " [TRUNCATED]" (API Gateway's 1 KB per log event)."""
    api = logged_api(cloud, "gwx-trace", {"$default": fns["traced"]},
                     default={"LoggingLevel": "INFO", "DataTraceEnabled": True},
                     two_way=("$default",))
    seen = kit.run_async(exchange(api["url"], "y" * 3000, replies=1))[0]
    lines = request_lines(cloud, api, seen["requestId"], until="Integration Endpoint")
    by_start = {line.split(":", 1)[0]: line for line in lines}
    headers = by_start["Endpoint request headers"]
    source_arn = (f"arn:aws:execute-api:us-east-1:123456789012:{api['api_id']}/test/$default")
    assert headers.startswith("Endpoint request headers: {x-amzn-lambda-integration-tag="
                              f"{seen['requestId']}, X-Amz-Date=")
    assert f"X-Amz-Source-Arn={source_arn}, " in headers and headers.endswith("}")
    body = by_start["Endpoint request body after transformations"]
    assert body.endswith(" [TRUNCATED]") and '"body": "yyy' in body
    prefix = f"({seen['requestId']}) "
    assert len((prefix + body.removesuffix(" [TRUNCATED]")).encode()) == 1024
    response_headers = by_start["Endpoint response headers"]
    assert f"x-amzn-RequestId={seen['awsRequestId']}, " in response_headers
    assert "X-Amz-Executed-Version=$LATEST}" in response_headers
    assert by_start["Endpoint response body before transformations"].startswith(
        'Endpoint response body before transformations: {"statusCode": 200, "body": ')
    order = [line.split(":", 1)[0].split(".", 1)[0] for line in lines]
    assert order.index("Endpoint request URI") < order.index("Endpoint request headers") < (
        order.index("Endpoint request body after transformations")) < order.index(
        "Sending request to https") < order.index("Received response") < order.index(
        "Endpoint response headers") < order.index(
        "Endpoint response body before transformations")


def test_a_missing_invoke_permission_is_logged_in_aws_words(cloud: LocalCloud,
                                                           fns: dict[str, str]) -> None:
    """The classic mistake, no add_permission: the client gets Internal server error, and the
    execution log of that request says "Execution failed due to configuration error: Invalid
    permissions on Lambda function" (observed in REST logs); Lambda never ran, so no Lambda
    request id is logged."""
    api = logged_api(cloud, "gwx-noperm", {"$default": fns["traced"]}, permit=False,
                     default={"LoggingLevel": "ERROR"})
    _, lines = failing_message(cloud, api, "anyone?", until="Invalid permissions")
    assert lines == [INVALID_PERMISSIONS]


def test_an_integration_timeout_is_logged_without_a_lambda_request_id(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """The integration's TimeoutInMillis passes before the function answers: "Execution
    failed due to a timeout error" (observed in REST logs), after "Sending request to", with
    no response line and no Lambda request id, since Lambda has not answered."""
    api = logged_api(cloud, "gwx-timeout", {"$default": fns["sleep"]}, auto_deploy=True)
    cloud.client("apigatewayv2").update_integration(
        ApiId=api["api_id"], IntegrationId=api["integration_ids"]["$default"],
        TimeoutInMillis=milliseconds(SLEEP_S / 8))
    frame, lines = failing_message(cloud, api, "slow", until="timeout error")
    failed = lines.index("Execution failed due to a timeout error")
    assert lines[failed - 1].startswith("Sending request to https://lambda.us-east-1.")
    assert lines[failed + 1:] == [  # the integration was called: the message's outcome
        f"Message from client [Connection Id: {frame['connectionId']}] sent to API "
        f"[{api['api_id']}] with response status code [500]."]
    assert not any(line.startswith(("Received response", "AWS Integration Endpoint"))
                   for line in lines)


def test_a_throttled_function_is_logged_as_lambda_s_429(cloud: LocalCloud,
                                                      fns: dict[str, str]) -> None:
    """The integration's function has reserved concurrency 0, so the runtime refuses the
    Invoke as Lambda does (429 TooManyRequestsException, "Rate Exceeded.": issue 13): the
    client gets Internal server error and, at INFO, the request's lines after "Sending request
    to" are Lambda's 429 in REST's observed words ("Lambda invocation failed with status: 429.
    Lambda request id: <id>", "Execution failed due to configuration error: Rate Exceeded.",
    a 2025 capture), the message's outcome, and that Lambda request id; the function never
    ran. A $connect whose function is throttled is refused with 502, logged the same way."""
    arn = kit.deploy_function(cloud, "gwx-throttled", TRACED_SOURCE)
    cloud.client("lambda").put_function_concurrency(FunctionName="gwx-throttled",
                                                    ReservedConcurrentExecutions=0)
    api = logged_api(cloud, "gwx-throttled", {"$default": arn})
    frame, lines = failing_message(cloud, api, "anyone?", until="Rate Exceeded")
    sending = next(i for i, line in enumerate(lines) if line.startswith("Sending request to"))
    assert_lines(lines[sending + 1:], [
        f"Lambda invocation failed with status: 429. Lambda request id: ({UUID})",
        re.escape("Execution failed due to configuration error: Rate Exceeded."),
        re.escape(f"Message from client [Connection Id: {frame['connectionId']}] sent to API "
                  f"[{api['api_id']}] with response status code [500]."),
        f"AWS Integration Endpoint RequestId : {UUID}",
    ])
    lambda_request_id = re.search(UUID, lines[sending + 1])[0]  # type: ignore[index]
    assert lines[-1].endswith(lambda_request_id)
    logs = cloud.client("logs")
    try:
        ran = logs.filter_log_events(logGroupName="/aws/lambda/gwx-throttled")["events"]
    except logs.exceptions.ResourceNotFoundException:
        ran = []
    assert ran == []

    connect_api = logged_api(cloud, "gwx-throttled-connect", {"$connect": arn},
                             default={"LoggingLevel": "ERROR"})
    with pytest.raises(InvalidStatus) as refused:
        kit.run_async(exchange(connect_api["url"]))
    assert refused.value.response.status_code == 502
    connect_lines = [e["message"].split(") ", 1)[1] for e in execution_events(cloud, connect_api)]
    assert_lines(connect_lines, [
        f"Lambda invocation failed with status: 429. Lambda request id: {UUID}",
        re.escape("Execution failed due to configuration error: Rate Exceeded."),
        f"AWS Integration Endpoint RequestId : {UUID}",
    ])


def test_a_function_deleted_under_its_route_has_no_permission_left(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """The integration's function was deleted: its resource policy went with it, so API
    Gateway may not invoke it: "Invalid permissions on Lambda function", as after re-creating
    a function without add_permission (inferred, research lambda-and-iam.md §7)."""
    arn = kit.deploy_function(cloud, "gwx-gone", TRACED_SOURCE)
    api = logged_api(cloud, "gwx-gone", {"$default": arn}, default={"LoggingLevel": "ERROR"})
    cloud.client("lambda").delete_function(FunctionName="gwx-gone")
    _, lines = failing_message(cloud, api, "hello?", until="Invalid permissions")
    assert lines == [INVALID_PERMISSIONS]


def test_a_message_no_route_takes_is_logged_with_its_selection_value(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """No route matches and there is no $default route: the client gets Forbidden and the
    stage's default settings log why, with the route selection value (our wording, chosen:
    no capture of this case was found)."""
    api = logged_api(cloud, "gwx-noroute", {"known": fns["traced"]},
                     default={"LoggingLevel": "ERROR"})
    forbidden, not_json = kit.run_async(exchange(api["url"], '{"action": "unknown"}', "plain",
                                                 replies=2))
    assert forbidden["message"] == not_json["message"] == "Forbidden"
    assert request_lines(cloud, api, forbidden["requestId"], until="no route") == [
        "Execution failed: no route matches the route selection value [unknown] and the API "
        "has no $default route: Forbidden"]
    assert request_lines(cloud, api, not_json["requestId"], until="no route") == [
        "Execution failed: no route matches the route selection value the message body is "
        "not JSON and the API has no $default route: Forbidden"]


def test_with_logging_off_there_is_no_execution_log(cloud: LocalCloud,
                                                   fns: dict[str, str]) -> None:
    """LoggingLevel OFF (every WebSocket stage's default): no group is made and nothing is
    written, even for a failing message."""
    api = kit.build_websocket_api(cloud, "gwx-off", {"$default": fns["raise"]})
    frame = kit.run_async(exchange(api["url"], "x", replies=1))[0]
    assert frame["message"] == "Internal server error"
    logs = cloud.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=group_of(api))["logGroups"]
    assert groups == []
