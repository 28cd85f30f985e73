"""SPEC-gateway "Frames": every data frame before the client's close frame is routed.

Whatever the read boundaries: ``await ws.send(x); await ws.close()`` often reaches the gateway
in one read, and websockets parses the close (and leaves OPEN) before the gateway looks at
``x``. Only frames after a close are dropped. AWS's own Python chat sample
(awsdocs/aws-doc-sdk-examples, python/cross_service/apigateway_websocket_chat/, see
/work/research/frames.md) sends "Bye!" and closes at once, and its receivers wait for it.

The raw tests write their frames with websockets' Sans-I/O client and frame classes in one
``sendall`` on a socket with Nagle off: one segment on loopback, so the gateway gets the frames
and the close in one read, every run.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import CONNECTING
from websockets.uri import parse_uri

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud

from . import kit

TABLE = "gwf-seq"
# Every invocation takes the next number of one counter before anything else, so the numbers
# say in which order the handlers ran (no clock involved).
# A body starting with "slow" makes the handler wait first.
SLOW_S = 0.5 * SECOND
SEQUENCE_SOURCE = f"""
import json
import os
import time

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE"])


def handler(event, context):
    ctx = event["requestContext"]
    if (event.get("body") or "").startswith("slow"):
        time.sleep({SLOW_S!r})
    seq = table.update_item(
        Key={{"id": "seq"}}, UpdateExpression="ADD n :one",
        ExpressionAttributeValues={{":one": 1}}, ReturnValues="UPDATED_NEW",
    )["Attributes"]["n"]
    print("EVENT " + json.dumps({{"connectionId": ctx["connectionId"],
                                  "eventType": ctx["eventType"], "body": event.get("body"),
                                  "seq": int(seq)}}))
    return {{"statusCode": 200}}
"""


@pytest.fixture(scope="module")
def api(cloud: LocalCloud) -> dict[str, Any]:
    """$default and $disconnect on one function that numbers its invocations."""
    kit.create_table(cloud, TABLE)
    fn = kit.deploy_function(cloud, "gwf-seq", SEQUENCE_SOURCE, environment={"TABLE": TABLE},
                             timeout=10 * SECOND)
    return kit.build_websocket_api(cloud, "gwf", {"$default": fn, "$disconnect": fn})


def events_of(cloud: LocalCloud, where: Any, count: int = 1) -> list[dict[str, Any]]:
    return kit.logged_events(cloud, "gwf-seq", count=count, where=where)


def connection_of(cloud: LocalCloud, body: str) -> str:
    """The connection id of the message whose body is ``body`` (once it has been routed)."""
    return events_of(cloud, lambda e: e["body"] == body)[0]["connectionId"]


def after_disconnect(cloud: LocalCloud, connection_id: str) -> list[dict[str, Any]]:
    """Every event of ``connection_id``, read once its $disconnect has run: nothing of that
    connection is routed after its $disconnect (see test_disconnect_runs_after_...), so what
    is missing then was dropped."""
    events_of(cloud, lambda e: e["connectionId"] == connection_id
              and e["eventType"] == "DISCONNECT")
    return sorted(events_of(cloud, lambda e: e["connectionId"] == connection_id),
                  key=lambda e: e["seq"])


def text(data: str, *, fin: bool = True) -> Frame:
    return Frame(Opcode.TEXT, data.encode(), fin=fin)


def continuation(data: str, *, fin: bool = True) -> Frame:
    return Frame(Opcode.CONT, data.encode(), fin=fin)


def close(code: int = 1000, reason: str = "") -> Frame:
    return Frame(Opcode.CLOSE, Close(code, reason).serialize())


def send_in_one_segment(url: str, frames: list[Frame]) -> Close | None:
    """Open a WebSocket to ``url``, write ``frames`` (masked, as a client must) in one
    ``sendall``, then read until the gateway closes TCP; returns the gateway's close."""
    protocol = ClientProtocol(parse_uri(url))
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10 * SECOND) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        protocol.send_request(protocol.connect())
        sock.sendall(b"".join(protocol.data_to_send()))
        while protocol.state is CONNECTING:
            chunk = sock.recv(65536)
            assert chunk, "the gateway closed during the handshake"
            protocol.receive_data(chunk)
        assert protocol.handshake_exc is None, protocol.handshake_exc
        sock.sendall(b"".join(frame.serialize(mask=True) for frame in frames))
        while chunk := sock.recv(65536):
            protocol.receive_data(chunk)
        protocol.receive_eof()
    return protocol.close_rcvd


def test_a_message_sent_right_before_close_is_routed(cloud: LocalCloud,
                                                     api: dict[str, Any]) -> None:
    """Rule: ``await ws.send(x); await ws.close()`` (what AWS's sample does with "Bye!"):
    ``x`` is routed, on every one of several connections."""
    bodies = [f"last words {n}" for n in range(5)]

    async def scenario() -> None:
        for body in bodies:
            async with connect(api["url"], open_timeout=10 * SECOND) as ws:
                await ws.send(body)
                await ws.close()

    kit.run_async(scenario())
    for body in bodies:
        assert [e["body"] for e in after_disconnect(cloud, connection_of(cloud, body))] == [
            body, None]


def test_frames_and_the_close_in_one_segment_are_all_routed(cloud: LocalCloud,
                                                           api: dict[str, Any]) -> None:
    """Rule: several text frames and then the close frame in one TCP segment (one read):
    every frame before the close is routed, and the client's close code reaches
    $disconnect."""
    bodies = ["segment one", "segment two", "segment three"]
    answer = send_in_one_segment(api["url"], [*map(text, bodies), close(4001, "done")])
    assert answer is not None and answer.code == 4001  # the gateway echoed our close
    got = after_disconnect(cloud, connection_of(cloud, "segment one"))
    assert sorted(e["body"] for e in got if e["eventType"] == "MESSAGE") == sorted(bodies)


def test_a_fragmented_message_completed_before_the_close_is_routed(
        cloud: LocalCloud, api: dict[str, Any]) -> None:
    """Rule: a message in three fragments, completed just before the close, in one segment,
    is routed as one message; one left incomplete by a close is not (it never was one)."""
    send_in_one_segment(api["url"], [text("frag", fin=False), continuation("men", fin=False),
                                     continuation("ted"), close()])
    got = after_disconnect(cloud, connection_of(cloud, "fragmented"))
    assert [e["body"] for e in got] == ["fragmented", None]

    send_in_one_segment(api["url"], [text("first whole"), text("never ", fin=False),
                                     continuation("finished", fin=False), close()])
    got = after_disconnect(cloud, connection_of(cloud, "first whole"))
    assert [e["body"] for e in got] == ["first whole", None]


def test_frames_after_a_close_are_dropped(cloud: LocalCloud, api: dict[str, Any]) -> None:
    """Rule: only frames after the client's close are dropped, in the same segment too."""
    send_in_one_segment(api["url"], [text("before the close"), close(),
                                     text("after the close")])
    got = after_disconnect(cloud, connection_of(cloud, "before the close"))
    assert [e["body"] for e in got] == ["before the close", None]


def test_disconnect_runs_after_the_messages_before_the_close_were_handled(
        cloud: LocalCloud, api: dict[str, Any]) -> None:
    """Rule (chosen; AWS documents no order): $disconnect is invoked once the integrations
    of the messages that arrived before the close have returned, even a slow one. AWS's
    Python sample needs it: its "Bye!" handler reads the sender's row, which its
    $disconnect deletes. Invoking $disconnect as soon as the message's invocation had
    started was not enough (measured here: the $disconnect's DynamoDB call came first in 5 of
    6 runs of test_a_message_sent_right_before_close_is_routed, and the sample test below
    lost its "Bye!" in 1 of 11)."""
    send_in_one_segment(api["url"], [text("slow goodbye"), text("quick goodbye"), close()])
    got = after_disconnect(cloud, connection_of(cloud, "slow goodbye"))
    assert [e["eventType"] for e in got] == ["MESSAGE", "MESSAGE", "DISCONNECT"]


# The server side of AWS's Python chat sample (awsdocs/aws-doc-sdk-examples,
# python/cross_service/apigateway_websocket_chat/lambda_chat.py), rewritten with the calls
# that matter here: one function for the three routes, a table keyed on connection_id, and a
# message handler that reads the *sender's* row first, so it fails (KeyError) when the
# sender's $disconnect has already deleted it.
SAMPLE_CHAT_SOURCE = """
import json
import os

import boto3
from botocore.exceptions import ClientError


def lambda_handler(event, context):
    ctx = event.get("requestContext", {})
    route, connection_id = ctx.get("routeKey"), ctx.get("connectionId")
    table = boto3.resource("dynamodb").Table(os.environ["table_name"])
    if route == "$connect":
        name = event.get("queryStringParameters", {"name": "guest"}).get("name")
        table.put_item(Item={"connection_id": connection_id, "user_name": name})
    elif route == "$disconnect":
        table.delete_item(Key={"connection_id": connection_id})
    elif route == "sendmessage":
        user = table.get_item(Key={"connection_id": connection_id})["Item"]["user_name"]
        items = table.scan(ProjectionExpression="connection_id")["Items"]
        text = json.loads(event.get("body") or '{"msg": ""}')["msg"]
        client = boto3.client("apigatewaymanagementapi",
                              endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")
        for item in items:
            if item["connection_id"] != connection_id:
                try:
                    client.post_to_connection(Data=f"{user}: {text}".encode(),
                                              ConnectionId=item["connection_id"])
                except ClientError:
                    pass
    else:
        return {"statusCode": 404}
    return {"statusCode": 200}
"""
SAMPLE_PAUSE_S = 1 * SECOND  # as the sample: 1 s before each message


async def sample_chat_demo(uri: str) -> list[Any]:
    """The client logic of the sample's ``chat_demo``: three receivers read until a message
    contains "Bye"; the sender sends three messages, the last "Bye!", and its ``async with``
    closes right after it."""

    async def receiver(name: str) -> str:
        async with connect(f"{uri}?name={name}", open_timeout=10 * SECOND) as socket:
            msg = ""
            while "Bye" not in msg:
                msg = await socket.recv()
            return msg

    async def sender(name: str) -> None:
        async with connect(f"{uri}?name={name}", open_timeout=10 * SECOND) as socket:
            for msg in ("Hey everyone!", "Not much to say...", "Bye!"):
                await asyncio.sleep(SAMPLE_PAUSE_S)
                await socket.send(json.dumps({"action": "sendmessage", "msg": msg}))

    return await asyncio.gather(*(receiver(user) for user in ("Bill", "Jeff", "Steve")),
                                sender("DemoDude"))


def test_aws_python_chat_sample_gets_its_bye_to_every_receiver(cloud: LocalCloud) -> None:
    """AWS's Python chat sample, client logic as published and its handler's calls: the URI
    is f"{ApiEndpoint}/test" with the API found by name through the get_apis paginator, the
    sender's "Bye!" is followed at once by its close, and every receiver gets "DemoDude:
    Bye!" (bounded: a lost message fails the test instead of hanging it)."""
    kit.create_table(cloud, "gwf-sample-chat", key="connection_id")
    fn = kit.deploy_function(cloud, "gwf-sample-chat", {"lambda_chat.py": SAMPLE_CHAT_SOURCE},
                             handler="lambda_chat.lambda_handler", timeout=10 * SECOND,
                             environment={"table_name": "gwf-sample-chat"})
    kit.build_websocket_api(cloud, "gwf-sample-chat",
                            {"$connect": fn, "$disconnect": fn, "sendmessage": fn},
                            stage="test", auto_deploy=True)
    endpoints = [item["ApiEndpoint"]
                 for page in cloud.client("apigatewayv2").get_paginator("get_apis").paginate()
                 for item in page["Items"] if item["Name"] == "gwf-sample-chat"]
    assert len(endpoints) == 1 and endpoints[0].startswith("ws://127.0.0.1:")

    got = kit.run_async(sample_chat_demo(f"{endpoints[0]}/test"), timeout=30 * SECOND)
    assert got == ["DemoDude: Bye!"] * 3 + [None]
