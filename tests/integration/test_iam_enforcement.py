"""A function's execution role is enforced, as on AWS: DynamoDB, @connections and its logs.

The learner's policy (notebook 02) must be right locally for the same reason it must be right on
AWS: a missing statement fails the call with AccessDeniedException.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.timing import SECOND, whole_seconds
from workshop_utils.localcloud import LocalCloud

from . import kit

ROLE = "iam-limited"
PROBE = '''
import json
import boto3
ddb = boto3.client("dynamodb")

def attempt(call):
    try:
        call()
        return "ok"
    except ddb.exceptions.ClientError as err:
        return err.response["Error"]["Code"] + ": " + err.response["Error"]["Message"]

def handler(event, context):
    if "connection" in event:
        api = boto3.client("apigatewaymanagementapi", endpoint_url=
            f"https://{event['api']}.execute-api.us-east-1.amazonaws.com/{event['stage']}")
        calls = {
            "post": lambda: api.post_to_connection(ConnectionId=event["connection"],
                                                   Data=b"from the function"),
            "get": lambda: api.get_connection(ConnectionId=event["connection"]),
            "delete": lambda: api.delete_connection(ConnectionId=event["connection"]),
        }
        return {op: attempt(calls[op]) for op in event.get("ops", ["post"])}
    print("a line for the log")
    return {
        "put_a": attempt(lambda: ddb.put_item(TableName="iam-a", Item={"id": {"S": "1"}})),
        "scan_a": attempt(lambda: ddb.scan(TableName="iam-a")),
        "put_b": attempt(lambda: ddb.put_item(TableName="iam-b", Item={"id": {"S": "1"}})),
    }
'''


def policy(*statements: dict[str, Any]) -> str:
    """An identity policy document holding ``statements``, as put_role_policy takes it."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def table_arn(name: str) -> str:
    """The ARN of DynamoDB table ``name`` in the local cloud's account and region."""
    return f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}"


@pytest.fixture(scope="module")
def probe(cloud: LocalCloud) -> str:
    """Tables iam-a and iam-b, and the iam-probe function whose role may only PutItem on
    iam-a (and has no logs: permissions)."""
    for name in ("iam-a", "iam-b"):
        kit.create_table(cloud, name)
    role_arn = kit.ensure_role(cloud, ROLE, policy=None)
    cloud.client("iam").put_role_policy(RoleName=ROLE, PolicyName="only-put", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": table_arn("iam-a")}))
    cloud.client("lambda").create_function(
        FunctionName="iam-probe", Runtime="python3.12", Role=role_arn, Handler="app.handler",
        Code={"ZipFile": kit.zip_source({"app.py": PROBE})},
        Timeout=whole_seconds(10 * SECOND))
    return "iam-probe"


def test_dynamodb_calls_need_the_role_s_permission(cloud: LocalCloud, probe: str) -> None:
    """Allowed action and table: ok; another action or another table: AccessDeniedException
    with AWS's message naming the assumed-role session, the action and the resource."""
    result = kit.invoke_json(cloud, probe)["Payload"]
    assert result["put_a"] == "ok"
    assert result["scan_a"] == (
        "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/iam-limited/"
        "iam-probe is not authorized to perform: dynamodb:Scan on resource: "
        f"{table_arn('iam-a')} because no identity-based policy allows the dynamodb:Scan action")
    assert result["put_b"].startswith("AccessDeniedException: ")
    assert cloud.client("dynamodb").scan(TableName="iam-a")["Count"] == 1  # the notebook's key


def test_without_logs_permissions_the_logs_are_lost_but_the_tail_is_not(
        cloud: LocalCloud, probe: str) -> None:
    """A role without logs: permissions runs fine but its log group never appears, while the
    LogType Tail of the invocation still shows the output, as on AWS."""
    resp = kit.invoke_json(cloud, probe, LogType="Tail")
    assert "a line for the log" in base64.b64decode(resp["LogResult"]).decode()
    groups = cloud.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/iam-probe")
    assert groups["logGroups"] == []


def test_an_explicit_deny_wins_over_an_allow_and_its_removal_is_noticed(
        cloud: LocalCloud, probe: str) -> None:
    """A Deny statement added to the role refuses what another statement allows, with AWS's
    "explicit deny" message; once the Deny is deleted the next invocation is allowed again."""
    iam = cloud.client("iam")
    iam.put_role_policy(RoleName=ROLE, PolicyName="deny-put", PolicyDocument=policy(
        {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}))
    try:
        result = kit.invoke_json(cloud, probe)["Payload"]
        assert result["put_a"].endswith("with an explicit deny in an identity-based policy")
    finally:
        iam.delete_role_policy(RoleName=ROLE, PolicyName="deny-put")
    assert kit.invoke_json(cloud, probe)["Payload"]["put_a"] == "ok"  # the change is noticed


def test_connections_need_manage_connections(cloud: LocalCloud, probe: str) -> None:
    """SPEC @connections: with IAM enforced, the caller needs execute-api:ManageConnections on
    arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/POST/@connections/<id>."""
    api = kit.build_mock_api(cloud, "iam-api")

    async def scenario() -> list[Any]:
        async with asyncio.timeout(30 * SECOND):
            async with connect(api["url"]) as ws:
                await ws.send("no route takes this")  # the Forbidden frame names our id
                cid = json.loads(await ws.recv())["connectionId"]
                event = {"api": api["api_id"], "stage": api["stage"], "connection": cid}
                denied = await asyncio.to_thread(kit.invoke_json, cloud, probe, event)
                resource = (f"arn:aws:execute-api:us-east-1:123456789012:{api['api_id']}/"
                            f"{api['stage']}/POST/@connections/{cid}")
                cloud.client("iam").put_role_policy(
                    RoleName=ROLE, PolicyName="post", PolicyDocument=policy(
                        {"Effect": "Allow", "Action": "execute-api:ManageConnections",
                         "Resource": resource}))
                allowed = await asyncio.to_thread(kit.invoke_json, cloud, probe, event)
                return [denied["Payload"]["post"], allowed["Payload"]["post"], await ws.recv()]

    denied, allowed, received = asyncio.run(scenario())
    assert denied.startswith("AccessDeniedException: User: arn:aws:sts::123456789012:"
                             "assumed-role/iam-limited/iam-probe is not authorized to perform: "
                             "execute-api:ManageConnections on resource: arn:aws:execute-api:")
    assert allowed == "ok" and received == "from the function"


def test_manage_connections_is_checked_per_method(cloud: LocalCloud, probe: str) -> None:
    """SPEC @connections: the resource names the method (<api-id>/<stage>/<METHOD>/...): a
    policy allowing only POST on .../POST/@connections/* lets the role post, while GET and
    DELETE fail with AccessDeniedException (and DELETE does not close the connection)."""
    api = kit.build_mock_api(cloud, "iam-api-methods")
    arn = f"arn:aws:execute-api:us-east-1:123456789012:{api['api_id']}/{api['stage']}"
    iam = cloud.client("iam")
    iam.put_role_policy(RoleName=ROLE, PolicyName="post-only", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "execute-api:ManageConnections",
         "Resource": f"{arn}/POST/@connections/*"}))

    async def scenario() -> tuple[str, dict[str, str], list[str]]:
        async with asyncio.timeout(30 * SECOND):
            async with connect(api["url"]) as ws:
                await ws.send("no route takes this")  # the Forbidden frame names our id
                cid = json.loads(await ws.recv())["connectionId"]
                event = {"api": api["api_id"], "stage": api["stage"], "connection": cid,
                         "ops": ["get", "delete", "post"]}
                result = await asyncio.to_thread(kit.invoke_json, cloud, probe, event)
                received: list[str] = []
                try:
                    received.append(await ws.recv())  # the post
                    await ws.send("still open?")  # the denied DELETE closed nothing
                    received.append(json.loads(await ws.recv())["message"])
                except ConnectionClosed:
                    received.append(f"closed {ws.close_code}")
                return cid, result["Payload"], received

    try:
        cid, result, received = asyncio.run(scenario())
    finally:
        iam.delete_role_policy(RoleName=ROLE, PolicyName="post-only")
    for op, method in (("get", "GET"), ("delete", "DELETE")):
        assert result[op] == (
            "AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/iam-limited/"
            "iam-probe is not authorized to perform: execute-api:ManageConnections on resource: "
            f"{arn}/{method}/@connections/{cid}"
            " because no identity-based policy allows the execute-api:ManageConnections action")
    assert result["post"] == "ok"
    assert received == ["from the function", "Forbidden"]
