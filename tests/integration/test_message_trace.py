"""One chat message followed across its path by the ids in the logs, on the workshop's own stack.

What joins the pieces, as AWS writes them (issue 16, item 4):

- the stage's access log: ``$context.requestId`` and ``$context.messageId`` of the MESSAGE,
  and ``$context.integration.requestId``, the Lambda request id of its invocation (API Gateway
  Developer Guide, WebSocket ``$context`` variables);
- the execution log: every line of that request starts with ``(<requestId>)``, and "AWS
  Integration Endpoint RequestId : <id>" names the same invocation;
- the broadcast function's own log: START and REPORT carry that Lambda request id, and so does
  every JSON line the handler writes (``awsRequestId``); its "message" line names the gateway's
  ``requestId``, its "broadcast" line how many posts were delivered.

Not in any log, here as on AWS: the function's DynamoDB calls and its individual
``@connections`` posts (no source shows API Gateway logging ``@connections`` calls in the
execution log); the handler's fan-out summary is what there is.
"""

from __future__ import annotations

import json
import time
from typing import Any

from websockets.asyncio.client import connect

from tests.integration.chatstack import ChatStack, chat_stack_fixture
from tests.timing import SECOND
from workshop_utils.target import Target

from . import kit

chat_stack = chat_stack_fixture(prefix="wschat-trace")

ACCESS_FORMAT = json.dumps({
    "requestId": "$context.requestId", "messageId": "$context.messageId",
    "eventType": "$context.eventType", "routeKey": "$context.routeKey",
    "connectionId": "$context.connectionId", "status": "$context.status",
    "lambdaRequestId": "$context.integration.requestId",
})


def wait_for(read: Any, ready: Any, what: str, timeout: float = 15 * SECOND) -> Any:
    """``read()`` once ``ready(value)`` holds (bounded), else AssertionError naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ready(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not logged within {timeout:g} s: {value}")
        time.sleep(0.05 * SECOND)


def messages(target: Target, group: str) -> list[str]:
    """Every message of a log group, every page (none while the group does not exist)."""
    logs = target.client("logs")
    try:
        return [e["message"] for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=group) for e in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


async def chat(url: str) -> dict[str, Any]:
    """alice and bob join, alice says hi; the message frame bob received."""
    async with connect(f"{url}?name=alice", open_timeout=15 * SECOND) as alice, \
            connect(f"{url}?name=bob", open_timeout=15 * SECOND) as bob:
        for ws in (alice, bob):
            await ws.send(json.dumps({"action": "join"}))
            while json.loads(await ws.recv())["type"] != "welcome":
                pass
        await alice.send(json.dumps({"action": "sendmessage", "message": "hi"}))
        while (frame := json.loads(await bob.recv()))["type"] != "message":
            pass
        while json.loads(await alice.recv())["type"] != "message":
            pass
        return frame


def test_one_message_is_followed_from_the_gateway_into_the_function(
        chat_stack: ChatStack) -> None:
    """A chat message is traced by ids alone: the access log's MESSAGE line gives the request
    and message ids and the Lambda request id; the execution log's lines of that request end
    with the same Lambda request id; the broadcast function's START, its JSON lines and its
    REPORT carry it, and its "message" line names the gateway's request id."""
    cloud, target, api = chat_stack
    kit.ensure_logging_role(cloud)
    names = target.names
    access_group = names.access_log_group
    target.client("apigatewayv2").update_stage(
        ApiId=api.api_id, StageName=api.stage,
        AccessLogSettings={
            "DestinationArn": f"arn:aws:logs:{target.region}:{target.account_id}:log-group:"
                              f"{access_group}",
            "Format": ACCESS_FORMAT},
        DefaultRouteSettings={"LoggingLevel": "INFO"})

    frame = kit.run_async(chat(api.url))
    assert (frame["from"], frame["text"]) == ("alice", "hi")

    # 1. The access log: the one MESSAGE of route sendmessage.
    access = wait_for(lambda: [json.loads(m) for m in messages(target, access_group)],
                      lambda rows: any(r["routeKey"] == "sendmessage" for r in rows),
                      "the sendmessage access-log line")
    sent = next(r for r in access if r["routeKey"] == "sendmessage")
    request_id, lambda_id = sent["requestId"], sent["lambdaRequestId"]
    assert sent["eventType"] == "MESSAGE" and sent["status"] == "200"
    assert sent["messageId"] not in ("-", request_id)

    # 2. The execution log: that request's lines, ending with the same invocation.
    group = f"API-Gateway-Execution-Logs_{api.api_id}/{api.stage}"
    prefix = f"({request_id}) "
    lines = wait_for(lambda: [m[len(prefix):] for m in messages(target, group)
                              if m.startswith(prefix)],
                     lambda found: any("Integration Endpoint" in line for line in found),
                     "the message's execution log")
    assert "WebSocket Request Route: [sendmessage]" in lines
    assert (f"WebSocket API [{api.api_id}] received message from client "
            f"[Connection Id: {sent['connectionId']}].") in lines
    assert lines[-1] == f"AWS Integration Endpoint RequestId : {lambda_id}"

    # 3. The broadcast function's own log: the invocation, START to REPORT.
    function_log = messages(target, f"/aws/lambda/{names.function('broadcast')}")
    start = function_log.index(f"START RequestId: {lambda_id} Version: $LATEST\n")
    report = next(i for i, m in enumerate(function_log)
                  if m.startswith(f"REPORT RequestId: {lambda_id}\t"))
    own = [json.loads(m) for m in function_log[start + 1:report] if m.startswith("{")]
    assert own and all(line["awsRequestId"] == lambda_id for line in own)
    said = next(line for line in own if line["event"] == "message")
    assert said["requestId"] == request_id and said["connectionId"] == sent["connectionId"]
    fanned = next(line for line in own if line["event"] == "broadcast")
    assert (fanned["kind"], fanned["recipients"], fanned["delivered"]) == ("message", 2, 2)
