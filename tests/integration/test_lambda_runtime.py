"""Lambda code that really runs in the local cloud: results, errors, environments, logs.

Everything through boto3 against the session's local cloud, as a learner would. Each test uses
its own function names, so tests do not share environments.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest

from tests.timing import SECOND, whole_seconds
from workshop_utils.localcloud import LocalCloud

from .kit import deploy_function, invoke_json

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
START = re.compile(rf"^START RequestId: ({UUID}) Version: \$LATEST\n$")
END = re.compile(rf"^END RequestId: ({UUID})\n$")
REPORT = re.compile(
    rf"^REPORT RequestId: ({UUID})\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: (\d+) MB\tMax Memory Used: \d+ MB\t(Init Duration: \d+\.\d\d ms\t)?"
    r"(Status: \w+\t?(Error Type: [\w.]+)?)?\n$"
)
STREAM = re.compile(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$")
LOG_LINE = re.compile(
    rf"^\[(?P<level>[A-Z]+)\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t(?P<rid>{UUID})\t"
    r"(?P<msg>.*)\n$",
    re.S,
)


def events_of(cloud: LocalCloud, name: str, request_id: str, timeout: float = 10 * SECOND
              ) -> list[dict[str, Any]]:
    """The log events of one invocation, START to REPORT (written when it ends)."""
    logs = cloud.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        mine = _slice(events, request_id)
        if mine or time.monotonic() > deadline:
            return mine
        time.sleep(0.05 * SECOND)


def _slice(events: list[dict[str, Any]], request_id: str) -> list[dict[str, Any]]:
    start = next((i for i, e in enumerate(events)
                  if e["message"].startswith(f"START RequestId: {request_id}")), None)
    end = next((i for i, e in enumerate(events)
                if e["message"].startswith(f"REPORT RequestId: {request_id}")), None)
    if start is None or end is None:
        return []
    return events[start:end + 1]


def request_id(resp: dict[str, Any]) -> str:
    return resp["ResponseMetadata"]["RequestId"]


ECHO = """
import os
def handler(event, context):
    return {"event": event, "env": dict(os.environ)}
"""


def test_a_function_gets_its_event_and_lambda_s_environment(cloud: LocalCloud) -> None:
    """The handler gets the event as sent and Lambda's reserved environment variables, and is
    invoked the same by name, by full or partial ARN, and with Qualifier $LATEST."""
    arn = deploy_function(cloud, "rt-echo", ECHO, environment={"TABLE": "chat", "X": "1"},
                          memory=256)
    resp = invoke_json(cloud, "rt-echo", {"hello": ["world", 1]})
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp
    assert resp["ExecutedVersion"] == "$LATEST"
    assert re.fullmatch(UUID, request_id(resp))
    body = resp["Payload"]
    assert body["event"] == {"hello": ["world", 1]}
    env = body["env"]
    assert env["TABLE"] == "chat" and env["X"] == "1"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "rt-echo"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/rt-echo"
    assert STREAM.match(env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["TZ"] == ":UTC"
    assert env["LAMBDA_TASK_ROOT"] and env["LAMBDA_RUNTIME_DIR"]
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    assert env["AWS_ENDPOINT_URL"] == cloud.aws_endpoint
    assert arn.endswith(":function:rt-echo")
    # the same function by full ARN, by partial ARN, and with Qualifier=$LATEST
    for name, kwargs in ((arn, {}), ("123456789012:function:rt-echo", {}),
                         ("rt-echo", {"Qualifier": "$LATEST"})):
        assert invoke_json(cloud, name, {"n": 1}, **kwargs)["Payload"]["event"] == {"n": 1}


def test_the_context_object_describes_the_invocation_and_the_task_root_comes_first(
        cloud: LocalCloud) -> None:
    """The context carries the request id, names, ARN, memory, remaining time and log names of
    the invocation, and the task root is first on sys.path.

    AWS (https://docs.aws.amazon.com/lambda/latest/dg/python-package.html, "Dependency search
    path and runtime-included libraries"; python-image.html): "By default, the runtime searches
    the $LAMBDA_TASK_ROOT (/var/task) directory first", so a module in the package shadows one
    the runtime includes.
    """
    lambda_timeout = 7 * SECOND
    arn = deploy_function(cloud, "rt-context", """
import os
import sys
def handler(event, context):
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "identity": context.identity,
        "client_context": context.client_context,
        "path0": sys.path[0],
        "task_root": os.environ["LAMBDA_TASK_ROOT"],
    }
""", timeout=lambda_timeout)
    resp = invoke_json(cloud, "rt-context")
    ctx = resp["Payload"]
    assert ctx["aws_request_id"] == request_id(resp)
    assert ctx["function_name"] == "rt-context"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == arn
    assert ctx["memory_limit_in_mb"] == "128"
    limit_ms = whole_seconds(lambda_timeout) * 1000  # what Lambda counts down from
    assert limit_ms - 2000 * SECOND < ctx["remaining"] <= limit_ms
    assert ctx["log_group_name"] == "/aws/lambda/rt-context"
    assert STREAM.match(ctx["log_stream_name"])
    assert ctx["identity"] is None and ctx["client_context"] is None
    assert ctx["path0"] == ctx["task_root"]  # the task root first
    assert "/lambda/rt-context/" in ctx["task_root"]


def test_an_unhandled_error_returns_lambda_s_error_payload_and_logs_one_traceback(
        cloud: LocalCloud) -> None:
    """A handler that raises gets FunctionError Unhandled, the errorMessage/errorType/
    stackTrace payload without the runtime's frames, and its traceback as one log event."""
    deploy_function(cloud, "rt-raise", """
def helper(x):
    raise ValueError(f"bad value: {x}")

def handler(event, context):
    print("about to fail")
    helper(event["x"])
""")
    resp = invoke_json(cloud, "rt-raise", {"x": 42})
    assert resp["StatusCode"] == 200
    assert resp["FunctionError"] == "Unhandled"
    err = resp["Payload"]
    assert set(err) == {"errorMessage", "errorType", "requestId", "stackTrace"}
    assert err["errorMessage"] == "bad value: 42"
    assert err["errorType"] == "ValueError"
    assert err["requestId"] == request_id(resp)
    assert len(err["stackTrace"]) == 2
    assert re.match(r'  File ".*/app\.py", line 7, in handler\n    helper\(event\["x"\]\)\n$',
                    err["stackTrace"][0])
    assert "in helper" in err["stackTrace"][1] and "bootstrap" not in "".join(err["stackTrace"])
    messages = [e["message"] for e in events_of(cloud, "rt-raise", request_id(resp))]
    assert messages[1] == "about to fail\n"
    error_event = messages[2]
    assert error_event.startswith(
        "[ERROR] ValueError: bad value: 42\nTraceback (most recent call last):\n"
        "\u00a0\u00a0File "
    )
    assert 'raise ValueError(f"bad value: {x}")' in error_event  # one event, whole traceback
    assert END.match(messages[-2]) and REPORT.match(messages[-1])


def test_a_timed_out_invocation_is_killed_and_the_next_one_is_cold(cloud: LocalCloud) -> None:
    """An invocation past the function's Timeout is stopped there (not when the handler would
    have returned) with Sandbox.Timedout and Lambda's "Task timed out" line, and the next
    invocation starts a fresh environment."""
    lambda_timeout = 1 * SECOND
    limit = whole_seconds(lambda_timeout)  # the Timeout Lambda was given, in seconds
    deploy_function(cloud, "rt-sleep", f"""
import time
def handler(event, context):
    if event.get("sleep"):
        time.sleep({30 * SECOND!r})
    return "awake"
""", timeout=lambda_timeout)
    t0 = time.monotonic()
    resp = invoke_json(cloud, "rt-sleep", {"sleep": True})
    assert time.monotonic() - t0 < 5 * SECOND  # stopped at the Timeout, long before the sleep
    assert resp["FunctionError"] == "Unhandled"
    rid = request_id(resp)
    assert resp["Payload"]["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(rf"RequestId: {rid} Error: Task timed out after {limit}\.\d\d seconds",
                        resp["Payload"]["errorMessage"])
    messages = [e["message"] for e in events_of(cloud, "rt-sleep", rid)]
    assert any(re.fullmatch(rf"\d{{4}}-\d\d-\d\dT[\d:.]+Z {rid} Task timed out after "
                            rf"{limit}\.\d\d seconds\n", m) for m in messages)
    assert messages[-1].endswith("Status: timeout\n")
    again = invoke_json(cloud, "rt-sleep", {}, LogType="Tail")
    assert again["Payload"] == "awake" and "FunctionError" not in again
    assert "Init Duration: " in base64.b64decode(again["LogResult"]).decode()


@pytest.mark.parametrize("handler, files, error_type, message", [
    ("app.nope", {"app.py": "def handler(e, c):\n    return 1\n"}, "Runtime.HandlerNotFound",
     "Handler 'nope' missing on module 'app'"),
    ("missing.handler", {"app.py": "x = 1\n"}, "Runtime.ImportModuleError",
     "Unable to import module 'missing': No module named 'missing'"),
    ("app", {"app.py": "x = 1\n"}, "Runtime.MalformedHandlerName",
     "Bad handler 'app': not enough values to unpack (expected 2, got 1)"),
    ("app.handler", {"app.py": "import not_installed_anywhere\n"},
     "Runtime.ImportModuleError",
     "Unable to import module 'app': No module named 'not_installed_anywhere'"),
])
def test_an_init_error_fails_every_invocation_with_lambda_s_error_type(
        cloud: LocalCloud, handler: str, files: dict[str, str], error_type: str,
        message: str) -> None:
    """A missing handler, a missing module, a malformed handler name or a failing import fails
    each invocation with Lambda's Runtime.* error type and message, logged as AWS logs it: the
    init fails (INIT_REPORT Phase: init), Lambda runs it again in the invoke phase (Phase:
    invoke), then START, END and a REPORT with Status: error and no Init Duration.

    AWS: a complete CloudWatch capture of a python3.12 function, 2026-04-22
    (/work/research/lambda-and-iam.md §2.2), and awslambdaric PR #163 (init errors are
    reported in init, so the payload's requestId is "": LocalStack's AWS snapshot
    test_lambda_runtime_error, 2025-11-24, §2.3)."""
    name = "rt-init-" + error_type.split(".")[1].lower() + ("-dep" if "not_inst" in message
                                                            else "")
    deploy_function(cloud, name, files, handler=handler)
    streams = set()
    for _ in range(2):  # the failed environment is thrown away; the next invoke fails the same
        resp = invoke_json(cloud, name)
        assert resp["FunctionError"] == "Unhandled"
        assert resp["Payload"] == {"errorMessage": message, "errorType": error_type,
                                   "requestId": "", "stackTrace": []}
        stream, messages = stream_of(cloud, name, request_id(resp))
        streams.add(stream)
        assert_failed_init_log(messages, request_id(resp), error_type, message)
    assert len(streams) == 2  # a new environment for each invocation


def assert_failed_init_log(messages: list[str], rid: str, error_type: str,
                           message: str) -> None:
    """The whole log stream of an invocation whose init failed, as AWS writes it."""
    warning = re.compile(r"^\[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t\t"
                         r"LAMBDA_WARNING: Unhandled exception\. The most likely cause is an "
                         r"issue in the function code\. .* see https://docs\.aws\.amazon\.com/"
                         r"lambda/latest/dg/runtimes-update\.html\n$")
    error = f"[ERROR] {error_type}: {message}\nTraceback (most recent call last):"
    assert len(messages) == 9, messages
    for phase, at in (("init", 0), ("invoke", 3)):
        assert warning.match(messages[at]), messages[at]
        assert messages[at + 1] == error
        assert re.fullmatch(rf"INIT_REPORT Init Duration: \d+\.\d\d ms\tPhase: {phase}\t"
                            rf"Status: error\tError Type: {re.escape(error_type)}\n",
                            messages[at + 2]), messages[at + 2]
    assert messages[6] == f"START RequestId: {rid} Version: $LATEST\n"
    assert messages[7] == f"END RequestId: {rid}\n"
    assert re.fullmatch(rf"REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: "
                        r"\d+ ms\tMemory Size: 128 MB\tMax Memory Used: \d+ MB\tStatus: error"
                        rf"\tError Type: {re.escape(error_type)}\n", messages[8]), messages[8]


def _all_messages(cloud: LocalCloud, name: str) -> list[str]:
    logs = cloud.client("logs")
    return [e["message"] for e in
            logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]]


def stream_of(cloud: LocalCloud, name: str, rid: str, timeout: float = 10 * SECOND
              ) -> tuple[str, list[str]]:
    """The log stream in which invocation ``rid`` ran, and all its messages."""
    logs = cloud.client("logs")
    deadline = time.monotonic() + timeout
    while True:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        for event in events:
            if event["message"].startswith(f"REPORT RequestId: {rid}"):
                stream = event["logStreamName"]
                return stream, [e["message"] for e in events if e["logStreamName"] == stream]
        assert time.monotonic() < deadline, f"no REPORT of {rid} in /aws/lambda/{name}"
        time.sleep(0.05 * SECOND)


STATEFUL = """
import os
COUNT = 0
print("init", os.environ.get("V", "-"))
def handler(event, context):
    global COUNT
    COUNT += 1
    return {"count": COUNT, "v": os.environ.get("V"), "stream": context.log_stream_name,
            "code": CODE}
CODE = %r
"""


def test_a_warm_environment_keeps_state_until_the_code_or_configuration_changes(
        cloud: LocalCloud) -> None:
    """A second invocation reuses the environment (module state, log stream, no Init
    Duration); new code or a new configuration starts a fresh one."""
    lam = cloud.client("lambda")
    deploy_function(cloud, "rt-warm", STATEFUL % "one")
    first = invoke_json(cloud, "rt-warm", LogType="Tail")
    second = invoke_json(cloud, "rt-warm", LogType="Tail")
    assert [first["Payload"]["count"], second["Payload"]["count"]] == [1, 2]
    assert first["Payload"]["stream"] == second["Payload"]["stream"]
    cold_log = base64.b64decode(first["LogResult"]).decode()
    warm_log = base64.b64decode(second["LogResult"]).decode()
    assert "init -\n" in cold_log and "\tInit Duration: " in cold_log
    assert "init -" not in warm_log and "Init Duration" not in warm_log
    # new code: a new environment, module state starts again
    from .kit import zip_source
    lam.update_function_code(FunctionName="rt-warm", ZipFile=zip_source({"app.py":
                                                                         STATEFUL % "two"}))
    third = invoke_json(cloud, "rt-warm")["Payload"]
    assert (third["count"], third["code"]) == (1, "two")
    assert third["stream"] != first["Payload"]["stream"]
    assert invoke_json(cloud, "rt-warm")["Payload"]["count"] == 2
    # new configuration: the same
    lam.update_function_configuration(FunctionName="rt-warm",
                                      Environment={"Variables": {"V": "x"}})
    fourth = invoke_json(cloud, "rt-warm", LogType="Tail")
    assert (fourth["Payload"]["count"], fourth["Payload"]["v"]) == (1, "x")
    assert "init x\n" in base64.b64decode(fourth["LogResult"]).decode()


def test_print_and_logging_lines_are_logged_as_lambda_formats_them(cloud: LocalCloud) -> None:
    """print lines, logging records (level, time, request id), init output and START/END/REPORT
    land in one stream in Lambda's formats, with Init Duration on the cold start only."""
    deploy_function(cloud, "rt-logs", """
import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)
print("cold")
def handler(event, context):
    print("line one\\nline two")
    logger.info("info %s", "record")
    logger.debug("not shown")
    logging.getLogger("child").error("multi\\nline")
    return None
""")
    resp = invoke_json(cloud, "rt-logs")
    assert resp["Payload"] is None
    rid = request_id(resp)
    events = events_of(cloud, "rt-logs", rid)
    messages = [e["message"] for e in events]
    assert START.match(messages[0]).group(1) == rid
    assert messages[1:3] == ["line one\n", "line two\n"]
    info = LOG_LINE.match(messages[3])
    assert info and info["level"] == "INFO" and info["rid"] == rid and info["msg"] == "info record"
    err = LOG_LINE.match(messages[4])
    assert err and err["level"] == "ERROR" and err["msg"] == "multi\nline"
    assert END.match(messages[5]).group(1) == rid
    report = REPORT.match(messages[6])
    assert report and report.group(1) == rid and report.group(2) == "128"
    assert report.group(3)  # cold start: Init Duration
    assert all(e["timestamp"] > 0 for e in events)
    logs = cloud.client("logs")
    everything = _all_messages(cloud, "rt-logs")
    assert everything.index("cold\n") < everything.index(messages[0])  # init output first
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/rt-logs")["logStreams"]
    assert len(streams) == 1 and STREAM.match(streams[0]["logStreamName"])
    # warm: no Init Duration
    warm = invoke_json(cloud, "rt-logs")
    report = REPORT.match(events_of(cloud, "rt-logs", request_id(warm))[-1]["message"])
    assert report and not report.group(3)


def test_default_log_level_is_warning(cloud: LocalCloud) -> None:
    """Without a level set by the code, the root logger writes WARNING and above, not INFO."""
    deploy_function(cloud, "rt-loglevel", """
import logging
def handler(event, context):
    logging.info("hidden")
    logging.warning("shown")
""")
    rid = request_id(invoke_json(cloud, "rt-loglevel"))
    messages = [e["message"] for e in events_of(cloud, "rt-loglevel", rid)]
    assert len(messages) == 4 and LOG_LINE.match(messages[1])["msg"] == "shown"


def test_tail_dry_run_and_event_invocations_answer_as_lambda_does(cloud: LocalCloud) -> None:
    """LogType Tail returns the invocation's log (START to REPORT), DryRun answers 204 without
    running, and an Event invocation answers 202 and runs later."""
    deploy_function(cloud, "rt-modes", """
def handler(event, context):
    print("got", event.get("n"))
    return event.get("n")
""")
    lam = cloud.client("lambda")
    resp = lam.invoke(FunctionName="rt-modes", Payload=b'{"n": 5}', LogType="Tail")
    tail = base64.b64decode(resp["LogResult"]).decode()
    assert f"START RequestId: {request_id(resp)} Version: $LATEST\n" in tail
    assert "got 5\n" in tail and f"REPORT RequestId: {request_id(resp)}" in tail
    assert resp["Payload"].read() == b"5"

    dry = lam.invoke(FunctionName="rt-modes", InvocationType="DryRun")
    assert dry["StatusCode"] == 204 and dry["Payload"].read() == b""

    event = lam.invoke(FunctionName="rt-modes", InvocationType="Event", Payload=b'{"n": 9}')
    assert event["StatusCode"] == 202 and event["Payload"].read() == b""
    messages = [e["message"] for e in events_of(cloud, "rt-modes", request_id(event))]
    assert "got 9\n" in messages


def test_unknown_functions_and_bad_payloads_get_lambda_s_errors(cloud: LocalCloud) -> None:
    """An unknown function is ResourceNotFoundException with AWS's message, a payload that is
    not JSON InvalidRequestContentException, one over 6 MB RequestTooLargeException."""
    lam = cloud.client("lambda")
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.invoke(FunctionName="rt-does-not-exist", Payload=b"{}")
    assert info.value.response["Error"]["Message"] == (
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:rt-does-not-exist")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="rt-does-not-exist", InvocationType="DryRun")
    deploy_function(cloud, "rt-bad-requests", "def handler(e, c):\n    return e\n")
    with pytest.raises(lam.exceptions.InvalidRequestContentException) as info:
        lam.invoke(FunctionName="rt-bad-requests", Payload=b"not json")
    assert info.value.response["Error"]["Message"].startswith(
        "Could not parse request body into json: ")
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(FunctionName="rt-bad-requests",
                   Payload=json.dumps({"x": "a" * (6 * 1024 * 1024)}).encode())


def test_a_function_deleted_while_warm_is_not_found(cloud: LocalCloud) -> None:
    """Deleting a function with a warm environment makes the next invoke ResourceNotFound."""
    deploy_function(cloud, "rt-deleted", "def handler(e, c):\n    return 'ok'\n")
    assert invoke_json(cloud, "rt-deleted")["Payload"] == "ok"
    lam = cloud.client("lambda")
    lam.delete_function(FunctionName="rt-deleted")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="rt-deleted")


def test_a_result_that_is_not_json_is_a_marshal_error(cloud: LocalCloud) -> None:
    """A handler returning a value json cannot encode gets Runtime.MarshalError."""
    deploy_function(cloud, "rt-marshal", "def handler(e, c):\n    return {1, 2}\n")
    resp = invoke_json(cloud, "rt-marshal")
    assert resp["FunctionError"] == "Unhandled"
    assert resp["Payload"] == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError", "requestId": request_id(resp), "stackTrace": []}
