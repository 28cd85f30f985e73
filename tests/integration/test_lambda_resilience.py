"""The local cloud survives what a function does, and the SDK inside a function reaches it."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import re
import time

import pytest

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud

from .kit import build_websocket_api, create_table, deploy_function, invoke_json
from .test_lambda_runtime import events_of, request_id


def test_a_worker_that_exits_mid_invoke_is_a_runtime_exit_error_and_is_replaced(
        cloud: LocalCloud) -> None:
    """A handler that kills its process gets Runtime.ExitError with the exit status, logged as
    Lambda logs it, and the next invocation runs in a new environment."""
    deploy_function(cloud, "rs-exit", """
import os
def handler(event, context):
    if event.get("die"):
        print("bye")
        os._exit(3)
    return "alive"
""")
    resp = invoke_json(cloud, "rs-exit", {"die": True})
    rid = request_id(resp)
    assert resp["FunctionError"] == "Unhandled"
    assert resp["Payload"] == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3",
    }
    messages = [e["message"] for e in events_of(cloud, "rs-exit", rid)]
    assert "bye\n" in messages
    assert (f"RequestId: {rid} Error: Runtime exited with error: exit status 3\n"
            "Runtime.ExitError\n") in messages
    assert messages[-1].endswith("Status: error\tError Type: Runtime.ExitError\n")
    assert invoke_json(cloud, "rs-exit")["Payload"] == "alive"


def test_raw_huge_or_garbage_output_harms_neither_the_invocation_nor_the_cloud(
        cloud: LocalCloud) -> None:
    """Output straight to fd 1, 20,000 lines (the tail stays within 4 KB) or bytes written to
    the runtime's own descriptors break at most that invocation; the cloud keeps answering."""
    deploy_function(cloud, "rs-garbage", """
import os, sys
def handler(event, context):
    if event.get("raw"):
        os.write(1, b"straight to fd 1\\n")
        return "raw"
    if event.get("huge"):
        for i in range(20000):
            print("x" * 100, i)
        return "huge"
    if event.get("garbage"):
        fds = [int(x) for x in os.listdir("/proc/self/fd")]
        for fd in fds:
            if fd > 2:
                try:
                    os.write(fd, b"\\xff" * 64)
                except OSError:
                    pass
        return "never"
    return "fine"
""", timeout=10 * SECOND)
    assert invoke_json(cloud, "rs-garbage", {"raw": True})["Payload"] == "raw"
    huge = invoke_json(cloud, "rs-garbage", {"huge": True}, LogType="Tail")
    assert huge["Payload"] == "huge" and len(huge["LogResult"]) <= 4096 * 4 // 3 + 4
    garbage = invoke_json(cloud, "rs-garbage", {"garbage": True})
    assert garbage["FunctionError"] == "Unhandled"
    assert garbage["Payload"]["errorType"] == "Runtime.ExitError"
    assert invoke_json(cloud, "rs-garbage")["Payload"] == "fine"
    assert cloud.client("lambda").list_functions()["Functions"]  # the cloud still answers


def test_a_response_over_6_mb_is_a_response_size_error(cloud: LocalCloud) -> None:
    """A result larger than Lambda's 6 MB synchronous response limit is
    Function.ResponseSizeTooLarge, not a truncated payload."""
    deploy_function(cloud, "rs-big", "def handler(e, c):\n    return 'a' * 7_000_000\n")
    resp = invoke_json(cloud, "rs-big")
    assert resp["FunctionError"] == "Unhandled"
    assert resp["Payload"]["errorType"] == "Function.ResponseSizeTooLarge"


def test_concurrent_invokes_scale_out_to_environments_of_their_own(cloud: LocalCloud) -> None:
    """Three invocations at once run side by side in three environments (three log streams);
    one after another they go back to the most recently used one."""
    handler_s = 0.5 * SECOND
    deploy_function(cloud, "rs-concurrent", f"""
import time
def handler(event, context):
    time.sleep({handler_s!r})
    return context.log_stream_name
""", timeout=5 * SECOND)
    invoke_json(cloud, "rs-concurrent")  # one warm environment first
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        streams = list(pool.map(lambda _: invoke_json(cloud, "rs-concurrent")["Payload"],
                                range(3)))
    assert time.monotonic() - t0 < 5 * handler_s  # in parallel, not one after the other
    assert len(set(streams)) == 3
    # sequential use goes back to one environment: the most recently used
    assert len({invoke_json(cloud, "rs-concurrent")["Payload"] for _ in range(3)}) == 1


def test_sdk_inside_the_function_reaches_the_local_cloud(cloud: LocalCloud) -> None:
    """boto3 in a handler, with no endpoint configured, reads and writes the local cloud's
    DynamoDB, and a Decimal it returns is marshalled as a JSON number."""
    create_table(cloud, "rs-connections", key="connectionId")
    deploy_function(cloud, "rs-ddb", """
import os
import boto3
table = boto3.resource("dynamodb").Table(os.environ["TABLE"])
def handler(event, context):
    table.put_item(Item={"connectionId": event["id"], "n": 7})
    return table.get_item(Key={"connectionId": event["id"]})["Item"]
""", environment={"TABLE": "rs-connections"})
    resp = invoke_json(cloud, "rs-ddb", {"id": "abc="})
    assert "FunctionError" not in resp, resp["Payload"]
    assert resp["Payload"] == {"connectionId": "abc=", "n": 7}  # Decimal marshalled as a number
    item = cloud.client("dynamodb").get_item(TableName="rs-connections",
                                             Key={"connectionId": {"S": "abc="}})
    assert item["Item"]["n"] == {"N": "7"}


POST = """
import boto3
def handler(event, context):
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"https://{event['api']}.execute-api.us-east-1.amazonaws.com/prod",
    )
    try:
        client.post_to_connection(ConnectionId="NopeNopeNopeNo0=", Data=b"hi")
    except client.exceptions.GoneException as exc:
        return {"gone": True, "status": exc.response["ResponseMetadata"]["HTTPStatusCode"]}
    except Exception as exc:
        return {"other": type(exc).__name__, "text": str(exc)}
    return {"gone": False}
"""


def _gateway_is_placeholder() -> bool:
    from workshop_utils.localcloud import gateway

    return "placeholder" in (gateway.__doc__ or "")


@pytest.mark.skipif(_gateway_is_placeholder(), reason="needs the gateway")
def test_management_api_from_a_function_reaches_the_gateway(cloud: LocalCloud) -> None:
    """An apigatewaymanagementapi client built for the execute-api URL, as on AWS, reaches the
    local gateway and gets its GoneException for an unknown connection."""
    arn = deploy_function(cloud, "rs-post", POST, timeout=10 * SECOND)
    api = build_websocket_api(cloud, "rs-mgmt", {"$default": arn}, stage="prod")
    resp = invoke_json(cloud, "rs-post", {"api": api["api_id"]})
    assert resp["Payload"] == {"gone": True, "status": 410}


def test_execute_api_requests_are_routed_to_the_ws_port(cloud: LocalCloud) -> None:
    """A request to an execute-api host is sent, signed, to the local cloud's ws port (checked
    without the gateway: the function captures the request instead of sending it)."""
    deploy_function(cloud, "rs-route", """
import botocore.session
def handler(event, context):
    seen = {}
    def capture(request, **kwargs):
        seen["url"] = request.url
        seen["auth"] = request.headers.get("Authorization", b"")[:16]
        from botocore.awsrequest import AWSResponse
        class Raw:
            def stream(self, **kw):
                yield b""
        return AWSResponse(request.url, 200, {}, Raw())
    session = botocore.session.get_session()
    client = session.create_client(
        "apigatewaymanagementapi", region_name="us-east-1",
        endpoint_url="https://abc123.execute-api.us-east-1.amazonaws.com/prod")
    client.meta.events.register_last("before-send", capture)
    client.post_to_connection(ConnectionId="x=", Data=b"hi")
    seen["auth"] = seen["auth"].decode() if isinstance(seen["auth"], bytes) else seen["auth"]
    return seen
""")
    resp = invoke_json(cloud, "rs-route")
    assert "FunctionError" not in resp, resp["Payload"]
    port = cloud.state["management_url_template"].split(":")[2].split("/")[0]
    assert resp["Payload"]["url"] == f"http://127.0.0.1:{port}/abc123/prod/@connections/x%3D"
    assert resp["Payload"]["auth"].startswith("AWS4-HMAC-SHA256")


def test_a_json_string_result_is_returned_as_that_string(cloud: LocalCloud) -> None:
    """A handler that returns JSON text (a str) gets exactly that text JSON-encoded back, not
    the text parsed, as Lambda marshals every result with json.dumps."""
    deploy_function(cloud, "rs-json", """
import json
def handler(event, context):
    return json.dumps({"statusCode": 200, "body": event})
""")
    resp = invoke_json(cloud, "rs-json", {"a": "é"})
    assert json.loads(resp["Payload"]) == {"statusCode": 200, "body": {"a": "é"}}
    assert re.fullmatch(r"[0-9a-f-]{36}", request_id(resp))


def test_a_statement_id_can_be_used_once_per_policy(cloud) -> None:
    """AWS answers 409 ResourceConflictException for a second add_permission with the same
    StatementId (moto alone appends a duplicate), so re-running an idempotent cell is safe."""
    deploy_function(cloud, "perm-once", "def handler(event, context):\n    return 1\n")
    lam = cloud.client("lambda")
    kwargs = dict(FunctionName="perm-once", StatementId="apigw", Action="lambda:InvokeFunction",
                  Principal="apigateway.amazonaws.com")
    lam.add_permission(**kwargs)
    with pytest.raises(lam.exceptions.ResourceConflictException, match="already exists"):
        lam.add_permission(**kwargs)
    assert json.loads(lam.get_policy(FunctionName="perm-once")["Policy"])["Statement"][0][
        "Sid"] == "apigw"
    assert len(json.loads(lam.get_policy(FunctionName="perm-once")["Policy"])["Statement"]) == 1


def test_an_idle_environment_is_reclaimed_and_the_next_invoke_is_cold() -> None:
    """AWS reclaims execution environments that sat idle; the next invocation starts cold,
    with a new log stream, and a long session's idle workers do not keep their memory."""
    from .test_lambda_runtime import STATEFUL

    idle_timeout = 0.5 * SECOND
    with LocalCloud(lambda_idle_timeout_s=idle_timeout) as cloud:
        deploy_function(cloud, "rt-idle", STATEFUL % "one")
        first = invoke_json(cloud, "rt-idle")["Payload"]
        warm = invoke_json(cloud, "rt-idle")["Payload"]
        assert (first["count"], warm["count"], warm["stream"]) == (1, 2, first["stream"])
        time.sleep(2.4 * idle_timeout)
        cold = invoke_json(cloud, "rt-idle", LogType="Tail")
        assert cold["Payload"]["count"] == 1 and cold["Payload"]["stream"] != first["stream"]
        assert "Init Duration" in base64.b64decode(cold["LogResult"]).decode()
