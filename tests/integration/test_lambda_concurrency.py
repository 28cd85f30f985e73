"""Reserved concurrency is honoured: over it an invocation is throttled, as on AWS.

AWS: "To throttle a function, set the reserved concurrency to zero. This stops any events from
being processed until you remove the limit" (Lambda Developer Guide, configuration-concurrency);
a throttled RequestResponse invoke is 429 TooManyRequestsException with
``{"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message":
"Rate Exceeded."}``, and an Event invoke is accepted (202) and not run (LocalStack's AWS
snapshots TestLambdaConcurrency::test_reserved_concurrency and
test_reserved_concurrency_async_queue, 2025-11: /work/research/lambda-and-iam.md §5).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from botocore.config import Config
from websockets.asyncio.client import connect

from tests.timing import SECOND, whole_seconds
from workshop_utils.localcloud import LocalCloud

from . import kit
from .test_gateway_handshake import refused_status
from .test_gateway_routing import INTERNAL

TABLE = "conc-marks"
# Marks each invocation in a table (its role may write it), then sleeps as long as asked.
MARKING = f"""
import time
import boto3
table = boto3.resource("dynamodb").Table({TABLE!r})

def handler(event, context):
    table.put_item(Item={{"id": event["mark"]}})
    time.sleep(event.get("sleep", 0))
    return event["mark"]
"""


@pytest.fixture(scope="module")
def marks(cloud: LocalCloud) -> Any:
    """The table the functions of this module mark their invocations in."""
    kit.create_table(cloud, TABLE)
    return cloud.client("dynamodb")


def lambda_once(cloud: LocalCloud) -> Any:
    """A Lambda client that does not retry: the throttle itself is what is checked (boto3
    retries a 429 by default, on AWS too)."""
    return cloud.client("lambda", config=Config(retries={"mode": "standard",
                                                         "total_max_attempts": 1},
                                                read_timeout=whole_seconds(30 * SECOND)))


def wait_for_mark(marks: Any, mark: str, timeout: float = 15 * SECOND) -> None:
    deadline = time.monotonic() + timeout
    while "Item" not in marks.get_item(TableName=TABLE, Key={"id": {"S": mark}}):
        assert time.monotonic() < deadline, f"{mark} never ran"
        time.sleep(0.05 * SECOND)


def has_mark(marks: Any, mark: str) -> bool:
    return "Item" in marks.get_item(TableName=TABLE, Key={"id": {"S": mark}})


def test_reserved_concurrency_zero_throttles_every_invocation_until_it_is_lifted(
        cloud: LocalCloud, marks: Any) -> None:
    """With ReservedConcurrentExecutions 0 a RequestResponse invoke is 429
    TooManyRequestsException (AWS's body) every time, an Event invoke is 202 and never runs;
    delete_function_concurrency lifts it."""
    kit.deploy_function(cloud, "conc-zero", MARKING, timeout=10 * SECOND)
    lam = lambda_once(cloud)
    lam.put_function_concurrency(FunctionName="conc-zero", ReservedConcurrentExecutions=0)
    assert lam.get_function(FunctionName="conc-zero")["Concurrency"] == {
        "ReservedConcurrentExecutions": 0}
    for n in range(2):
        with pytest.raises(lam.exceptions.TooManyRequestsException) as throttled:
            lam.invoke(FunctionName="conc-zero", Payload=json.dumps({"mark": f"zero-{n}"}))
        response = throttled.value.response
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert response["Error"] == {"Code": "TooManyRequestsException",
                                     "Message": "Rate Exceeded."}
        assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert response["Type"] == "User"
    event = lam.invoke(FunctionName="conc-zero", InvocationType="Event",
                       Payload=json.dumps({"mark": "zero-event"}))
    assert event["StatusCode"] == 202
    lam.delete_function_concurrency(FunctionName="conc-zero")
    assert "Concurrency" not in lam.get_function(FunctionName="conc-zero")
    assert kit.invoke_json(cloud, "conc-zero", {"mark": "zero-lifted"})["Payload"] == (
        "zero-lifted")
    time.sleep(1.5 * SECOND)  # longer than the runtime waits before it looks at a limit again
    assert [has_mark(marks, m) for m in ("zero-0", "zero-1", "zero-event", "zero-lifted")] == [
        False, False, False, True]  # the Event was dropped, not deferred


def test_concurrency_counts_invocations_in_flight_across_environments(
        cloud: LocalCloud, marks: Any) -> None:
    """With ReservedConcurrentExecutions 2, two invocations run at once (in two
    environments); a third while both are in flight is throttled, an Event one waits and runs
    once one of them ends."""
    kit.deploy_function(cloud, "conc-two", MARKING, timeout=20 * SECOND)
    lam = lambda_once(cloud)
    lam.put_function_concurrency(FunctionName="conc-two", ReservedConcurrentExecutions=2)
    results: dict[str, Any] = {}

    def invoke(mark: str) -> None:
        results[mark] = kit.invoke_json(cloud, "conc-two",
                                        {"mark": mark, "sleep": 3 * SECOND})["Payload"]

    threads = [threading.Thread(target=invoke, args=(f"two-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        wait_for_mark(marks, "two-0")
        wait_for_mark(marks, "two-1")  # both running at once
        with pytest.raises(lam.exceptions.TooManyRequestsException):
            lam.invoke(FunctionName="conc-two", Payload=json.dumps({"mark": "two-third"}))
        assert lam.invoke(FunctionName="conc-two", InvocationType="Event",
                          Payload=json.dumps({"mark": "two-event"}))["StatusCode"] == 202
        assert not has_mark(marks, "two-event")  # waits for a slot
    finally:
        for thread in threads:
            thread.join(30 * SECOND)
    assert results == {"two-0": "two-0", "two-1": "two-1"}
    wait_for_mark(marks, "two-event")  # ran once a slot was free
    assert not has_mark(marks, "two-third")
    lam.delete_function_concurrency(FunctionName="conc-two")


def test_reserving_more_than_the_account_leaves_unreserved_is_refused(
        cloud: LocalCloud) -> None:
    """The account's 1,000 concurrent executions keep 100 unreserved: reserving 901 is refused
    with AWS's message (LocalStack's AWS snapshot TestLambdaReservedConcurrency; quota in the
    Lambda Developer Guide, gettingstarted-limits)."""
    kit.deploy_function(cloud, "conc-quota", "def handler(e, c):\n    return 1\n")
    lam = cloud.client("lambda")
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as refused:
        lam.put_function_concurrency(FunctionName="conc-quota",
                                     ReservedConcurrentExecutions=901)
    assert refused.value.response["Error"]["Message"] == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100].")
    assert lam.put_function_concurrency(FunctionName="conc-quota",
                                        ReservedConcurrentExecutions=800)[
        "ReservedConcurrentExecutions"] == 800  # other tests' functions reserve a few
    lam.delete_function_concurrency(FunctionName="conc-quota")


def test_a_throttled_integration_refuses_connect_and_answers_a_message_with_an_error(
        cloud: LocalCloud) -> None:
    """Through the gateway: a $connect whose function is throttled is refused with 502; a
    message whose route's function is throttled gets the Internal server error frame and the
    connection stays open.

    AWS: unknown for WebSocket APIs (no capture found). A REST API answers a throttled Lambda
    integration with 500 Internal server error (re:Post QUfI6bsdd0SOiPeyimzxSkfQ; Knowledge
    Center api-gateway-internal-server-error). Chosen: the throttle is an integration that
    cannot be invoked, which SPEC-gateway.md answers with 502 on $connect and the Internal
    server error frame on a message route (research: /work/research/apigateway.md §6)."""
    ok = kit.deploy_function(cloud, "conc-gw-ok", kit.ECHO_SOURCE)
    throttled = kit.deploy_function(cloud, "conc-gw-throttled", kit.ECHO_SOURCE)
    lam = cloud.client("lambda")
    lam.put_function_concurrency(FunctionName="conc-gw-throttled",
                                 ReservedConcurrentExecutions=0)
    refused_api = kit.build_websocket_api(cloud, "conc-gw-connect", {"$connect": throttled})
    messages_api = kit.build_websocket_api(cloud, "conc-gw-messages", {
        "$connect": ok, "busy": throttled, "$default": ok}, two_way=("$default",))
    assert kit.run_async(refused_status(refused_api["url"]))[0] == 502

    async def scenario() -> list[str]:
        async with connect(messages_api["url"]) as ws:
            await ws.send('{"action": "busy"}')
            first = await ws.recv()
            await ws.send('{"action": "other"}')
            return [first, await ws.recv()]

    answers = kit.run_async(scenario())
    assert INTERNAL.match(answers[0]), answers
    assert json.loads(answers[1])["requestContext"]["routeKey"] == "$default"  # still open
    lam.delete_function_concurrency(FunctionName="conc-gw-throttled")

    async def connects() -> bool:
        async with connect(refused_api["url"]):
            return True

    assert kit.run_async(connects())  # lifted: $connect runs again
