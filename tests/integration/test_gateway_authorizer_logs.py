"""A ``$connect`` authorizer in the stage's execution log, and an authorizer Lambda throttles.

What only the authorizers (issue 15), the execution logs (issue 16) and the runtime's reserved
concurrency (issue 13) do together, through the running local cloud with real clients.

Where the lines come from (``gateway/authorizers.py`` says it line by line):

- REST API execution logs captured on AWS: a 2017 one of an allowed request (find_string id
  22243955141: ``Starting authorizer: <id> for request: <request id>``, ``Incoming identity:``,
  ``Authorizer result body before parsing:``, ``Using valid authorizer policy for principal:
  <masked>``, ``Successfully completed authorizer execution``) and a 2019 test-invoke of an
  authorizer that answered Unauthorized (find_string id 48213103395: ``Incoming identity:
  {method.request.header.Hash=********aaaaaa}``, ``Unauthorized request: <request id>``);
- a WebSocket API's execution log of 2020 (find_string id 40370491264), an authorizer API
  Gateway may not invoke: ``Execution failed due to configuration error: Invalid permissions on
  Lambda function``, ``Execution failed due to configuration error: Authorizer error``,
  ``Gateway response type: AUTHORIZER_CONFIGURATION_ERROR with status code: 500``;
- the integration's own failure lines for a Lambda that refuses the Invoke (issue 16: a 2025
  REST capture of a throttle, ``Lambda invocation failed with status: 429. Lambda request id:
  <id>`` then ``Execution failed due to configuration error: Rate Exceeded.``).

Chosen (no source): where the authorizer's lines sit among the event's (after its opening
lines), the ``Gateway response type`` line of the 401 and 403 refusals, and what the client
gets when the authorizer is throttled: 500, as for any authorizer that cannot answer (the
handshake's 500 for a failed authorizer: /work/research/authorizer.md §5; a throttled REST
integration is a 500 too: lambda-and-iam.md §5.3).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud

from . import kit
from .test_execution_logs import UUID, assert_lines, execution_events
from .test_gateway_authorizers import AUTHORIZER_SOURCE, access_lines, chat, status_of

ACCOUNT = "123456789012"
CONFIG_ERROR = "Execution failed due to configuration error: "


@pytest.fixture(scope="module")
def fns(cloud: LocalCloud) -> dict[str, str]:
    """The echo integration and this module's switchable authorizers (ARNs); the account gets
    API Gateway's CloudWatch role first (stage logging needs it)."""
    kit.ensure_logging_role(cloud)
    return {
        "echo": kit.deploy_function(cloud, "gwl-echo", kit.ECHO_SOURCE),
        "auth": kit.deploy_function(cloud, "gwl-auth", AUTHORIZER_SOURCE, timeout=1 * SECOND),
        "throttled": kit.deploy_function(cloud, "gwl-auth-throttled", AUTHORIZER_SOURCE,
                                         timeout=1 * SECOND),
    }


def guarded_api(cloud: LocalCloud, fns: dict[str, str], name: str, *, level: str = "INFO",
                authorizer: str = "auth", permit: bool = True,
                access_format: str | None = None) -> dict[str, Any]:
    """$connect and a two-way $default echoing their events, behind an authorizer on
    ``?token=``, on an AutoDeploy stage that logs at ``level`` (and writes ``access_format``
    to its own access log group, when given)."""
    stage_kwargs: dict[str, Any] = {"DefaultRouteSettings": {"LoggingLevel": level}}
    if access_format is not None:
        group = f"/workshop/{name}-access"
        stage_kwargs["AccessLogSettings"] = {
            "DestinationArn": f"arn:aws:logs:{cloud.region}:{ACCOUNT}:log-group:{group}",
            "Format": access_format}
    built = kit.build_websocket_api(
        cloud, name, {"$connect": fns["echo"], "$default": fns["echo"]},
        two_way=("$default",), auto_deploy=True, stage_kwargs=stage_kwargs)
    built["authorizer_id"] = kit.attach_authorizer(cloud, built, fns[authorizer],
                                                   permit=permit)
    built["group"] = f"/workshop/{name}-access"
    return built


def by_request(cloud: LocalCloud, api: dict[str, Any], *, until: str,
               timeout: float = 10 * SECOND) -> dict[str, list[str]]:
    """The stage's execution-log lines, by request id (without the ``(<id>) `` prefix), once
    a line contains ``until`` (bounded)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        grouped: dict[str, list[str]] = {}
        for event in execution_events(cloud, api):
            match = re.fullmatch(r"\(([^)]+)\) (.*)", event["message"], re.DOTALL)
            assert match, event["message"]
            grouped.setdefault(match[1], []).append(match[2])
        if any(until in line for lines in grouped.values() for line in lines):
            return grouped
        assert time.monotonic() < deadline, f"no line with {until!r}: {grouped}"
        time.sleep(0.05 * SECOND)


def the_request(grouped: dict[str, list[str]], authorizer_id: str) -> tuple[str, list[str]]:
    """The one handshake whose authorizer started: its request id and lines."""
    started = [rid for rid, lines in grouped.items()
               if f"Starting authorizer: {authorizer_id} for request: {rid}" in lines]
    assert len(started) == 1, grouped
    return started[0], grouped[started[0]]


def opening(api: dict[str, Any], rid: str) -> list[str]:
    """The lines every CONNECT event of the execution log starts with (issue 16's)."""
    return [f"Extended Request Id: {re.escape(rid)}",
            f"Starting execution for request: {re.escape(rid)}",
            r"WebSocket Request Route: \[\$connect\]",
            rf"Client \[UserAgent: .*, SourceIp: 127\.0\.0\.1\] is connecting to WebSocket API "
            rf"\[{api['api_id']}\]\."]


def invoking(cloud: LocalCloud, function_arn: str) -> list[str]:
    """The two INFO lines of a Lambda invocation by API Gateway."""
    uri = re.escape(f"https://lambda.{cloud.region}.amazonaws.com/2015-03-31/functions/"
                    f"{function_arn}/invocations")
    return [f"Endpoint request URI: {uri}", f"Sending request to {uri}"]


def masked(value: str) -> str:
    """How the log shows an identity or a principal: the last 6 characters (the captures)."""
    return re.escape("*" * (len(value) - 6) + value[-6:])


def test_an_allowed_handshake_logs_the_authorizer_then_its_integration(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """At INFO, one CONNECT event: its opening lines, the authorizer's (REST's observed words,
    the token and the principal masked to their last 6 characters), then the $connect
    integration's, ending with the integration's Lambda request id. The whole token is in no
    line of the log."""
    api = guarded_api(cloud, fns, "gwl-allowed")
    token = "tok" + uuid.uuid4().hex
    message = kit.run_async(chat(f"{api['url']}?token={token}"))
    cid = message["requestContext"]["connectionId"]
    grouped = by_request(cloud, api, until="connected to API")
    rid, lines = the_request(grouped, api["authorizer_id"])
    assert_lines(lines, [
        *opening(api, rid),
        f"Starting authorizer: {api['authorizer_id']} for request: {re.escape(rid)}",
        rf"Incoming identity: \{{route\.request\.querystring\.token={masked(token)}\}}",
        *invoking(cloud, fns["auth"]),
        f"Using valid authorizer policy for principal: {masked('user-' + token)}",
        "Successfully completed authorizer execution",
        *invoking(cloud, fns["echo"]),
        r"Received response\. Status: 200, Integration latency: \d+ ms",
        rf"Client \[Connection Id: {re.escape(cid)}\] connected to API \[{api['api_id']}\] "
        r"successfully\.",
        f"AWS Integration Endpoint RequestId : {UUID}",
    ])
    assert not [line for lines in grouped.values() for line in lines if token in line]


INVOKE = "<invoke>"  # the authorizer's two Lambda request lines go here
ANY_UUID = "<uuid>"


@pytest.mark.parametrize(("case", "query", "status", "tail"), [
    ("no-token", "", 401, [
        "Unauthorized request: {rid}",
        "Gateway response type: UNAUTHORIZED with status code: 401"]),
    ("unauthorized", "?token=ann&mode=unauthorized", 401, [
        "Incoming identity: {{route.request.querystring.token=***}}",
        INVOKE,
        "Unauthorized request: {rid}",
        "Gateway response type: UNAUTHORIZED with status code: 401"]),
    ("deny", "?token=bob&mode=deny", 403, [
        "Incoming identity: {{route.request.querystring.token=***}}",
        INVOKE,
        "Using valid authorizer policy for principal: **er-bob",  # user-bob, 8 characters
        "Successfully completed authorizer execution",
        "Gateway response type: ACCESS_DENIED with status code: 403"]),
    ("raise", "?token=eve&mode=raise", 500, [
        "Incoming identity: {{route.request.querystring.token=***}}",
        INVOKE,
        "Lambda execution failed with status 200 due to customer function error: the "
        "authorizer has a bug. Lambda request id: " + ANY_UUID,
        CONFIG_ERROR + "Authorizer error",
        "Gateway response type: AUTHORIZER_FAILURE with status code: 500"]),
], ids=["no-token", "unauthorized", "deny", "raise"])
def test_a_refused_handshake_logs_why_in_aws_words(cloud: LocalCloud, fns: dict[str, str],
                                                  case: str, query: str, status: int,
                                                  tail: list[str]) -> None:
    """A missing token (not invoked), an ``Unauthorized`` answer, a Deny, an authorizer that
    raises: the client's status, and the event's lines after its opening ones end with why
    (REST's observed words; the Gateway response line's shape is the WebSocket capture's).
    Values of 6 characters or fewer are all stars (chosen)."""
    api = guarded_api(cloud, fns, f"gwl-{case}")
    assert status_of(api["url"] + query) == status
    grouped = by_request(cloud, api, until="Gateway response type")
    rid, lines = the_request(grouped, api["authorizer_id"])
    expected = [*opening(api, rid),
                f"Starting authorizer: {api['authorizer_id']} for request: {re.escape(rid)}"]
    for line in tail:
        if line == INVOKE:
            expected += invoking(cloud, fns["auth"])
        else:
            expected.append(re.escape(line.format(rid=rid)).replace(re.escape(ANY_UUID), UUID))
    assert_lines(lines, expected)


def function_log(cloud: LocalCloud, name: str) -> list[str]:
    """Every line of a function's own log group (none when Lambda never wrote one)."""
    logs = cloud.client("logs")
    try:
        return [event["message"] for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{name}") for event in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def test_an_authorizer_api_gateway_may_not_invoke_is_logged_as_on_a_websocket_api(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """No permission for apigateway.amazonaws.com on the authorizer's function: 500, and at
    ERROR exactly the three lines of the 2020 WebSocket capture."""
    api = guarded_api(cloud, fns, "gwl-no-permission", level="ERROR", permit=False)
    assert status_of(api["url"] + "?token=ann") == 500
    grouped = by_request(cloud, api, until="Gateway response type")
    (lines,) = grouped.values()
    assert lines == [
        CONFIG_ERROR + "Invalid permissions on Lambda function",
        CONFIG_ERROR + "Authorizer error",
        "Gateway response type: AUTHORIZER_CONFIGURATION_ERROR with status code: 500",
    ]


def test_at_error_an_allowed_handshake_writes_nothing_and_a_refused_one_its_error(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """LoggingLevel ERROR: the authorizer's INFO lines are not written; an allowed handshake
    that connects writes nothing, a Deny only its Gateway response line."""
    api = guarded_api(cloud, fns, "gwl-error-level", level="ERROR")
    kit.run_async(chat(api["url"] + "?token=ann"))
    assert status_of(api["url"] + "?token=bob&mode=deny") == 403
    grouped = by_request(cloud, api, until="Gateway response type")
    assert list(grouped.values()) == [
        ["Gateway response type: ACCESS_DENIED with status code: 403"]]


THROTTLE_FORMAT = json.dumps({k: f"$context.{k}" for k in (
    "eventType", "status", "authorizer.status", "authorizer.integrationStatus",
    "authorizer.requestId", "authorizer.error", "error.responseType")})


def test_a_throttled_authorizer_refuses_the_handshake_with_500(
        cloud: LocalCloud, fns: dict[str, str]) -> None:
    """The authorizer's function has reserved concurrency 0 (Lambda answers its Invoke 429,
    TooManyRequestsException: issue 13): the handshake is refused with 500 (chosen: an
    authorizer that cannot answer), the authorizer never ran (nothing in its log), the
    execution log has Lambda's 429 in the integration's words plus the authorizer's failure,
    and the access log the authorizer's status 500 with Lambda's 429."""
    lam = cloud.client("lambda")
    lam.put_function_concurrency(FunctionName="gwl-auth-throttled",
                                 ReservedConcurrentExecutions=0)
    api = guarded_api(cloud, fns, "gwl-throttled", authorizer="throttled",
                      access_format=THROTTLE_FORMAT)
    assert status_of(api["url"] + "?token=ann") == 500
    grouped = by_request(cloud, api, until="Gateway response type")
    rid, lines = the_request(grouped, api["authorizer_id"])
    assert_lines(lines, [
        *opening(api, rid),
        f"Starting authorizer: {api['authorizer_id']} for request: {re.escape(rid)}",
        r"Incoming identity: \{route\.request\.querystring\.token=\*\*\*\}",
        *invoking(cloud, fns["throttled"]),
        f"Lambda invocation failed with status: 429. Lambda request id: ({UUID})",
        re.escape(CONFIG_ERROR + "Rate Exceeded."),
        re.escape(CONFIG_ERROR + "Authorizer error"),
        "Gateway response type: AUTHORIZER_FAILURE with status code: 500",
        f"AWS Integration Endpoint RequestId : {UUID}",
    ])
    lambda_request_id = re.search(UUID, lines[-5])[0]  # type: ignore[index]
    assert lines[-1].endswith(lambda_request_id)
    (line,) = [json.loads(text) for text in access_lines(cloud, api["group"], 1)]
    assert line == {"eventType": "CONNECT", "status": "500", "authorizer.status": "500",
                    "authorizer.integrationStatus": "429",
                    "authorizer.requestId": lambda_request_id,
                    "authorizer.error": "Internal server error",
                    "error.responseType": "AUTHORIZER_FAILURE"}
    assert function_log(cloud, "gwl-auth-throttled") == []  # Lambda never ran it
