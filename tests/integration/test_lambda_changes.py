"""Changes to a function take effect at once, as on AWS: permissions, deletes, re-creation.

- remove_permission: the next invocation through API Gateway is decided without the statement
  (AWS documents no propagation delay for Lambda resource policies; chosen: the next
  invocation, /work/research/lambda-and-iam.md §7);
- delete_function: "all versions and aliases are deleted … A deleted Lambda function cannot be
  recovered" (botocore's DeleteFunction documentation): its execution environments end with it;
- a function created again under the same name is a new function: new environment (a cold
  start, a new log stream), its own code, no resource policy of the old one (§7, inferred).
"""

from __future__ import annotations

import base64
import os
import time

from websockets.asyncio.client import connect

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud

from . import kit
from .test_gateway_routing import INTERNAL

PID_SOURCE = """
import os
CODE = %r
def handler(event, context):
    return {"pid": os.getpid(), "code": CODE, "stream": context.log_stream_name,
            "statusCode": 200, "body": CODE}
"""


def process_gone(pid: int) -> bool:
    """The process has exited (gone, or a zombie its parent has not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][:1] in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return True


def test_a_removed_permission_denies_the_next_message(cloud: LocalCloud) -> None:
    """After a route has been used (its Allow decision made), remove_permission makes the next
    message fail with the Internal server error frame; add_permission again lets it through."""
    fn = kit.deploy_function(cloud, "chg-perm", PID_SOURCE % "perm")
    api = kit.build_websocket_api(cloud, "chg-perm", {"$default": fn}, two_way=("$default",))
    lam = cloud.client("lambda")
    statement = f"apigw-{api['api_id']}"

    async def scenario() -> list[str]:
        answers = []
        async with connect(api["url"]) as ws:
            await ws.send("first")
            answers.append(await ws.recv())
            lam.remove_permission(FunctionName="chg-perm", StatementId=statement)
            await ws.send("second")
            answers.append(await ws.recv())
            kit.allow_invoke_from_api(lam, "chg-perm", cloud.region, "123456789012",
                                      api["api_id"], statement_id=statement)
            await ws.send("third")
            answers.append(await ws.recv())
        return answers

    first, second, third = kit.run_async(scenario())
    assert first == "perm"
    assert INTERNAL.match(second), second
    assert third == "perm"


def test_deleting_a_function_ends_its_environments_at_once(cloud: LocalCloud) -> None:
    """delete_function returns once the function's warm environment has ended (its process is
    gone), not at some later invocation."""
    kit.deploy_function(cloud, "chg-delete", PID_SOURCE % "one")
    pid = kit.invoke_json(cloud, "chg-delete")["Payload"]["pid"]
    assert not process_gone(pid)  # warm
    cloud.client("lambda").delete_function(FunctionName="chg-delete")
    deadline = time.monotonic() + 5 * SECOND  # reaped by the cloud's child watcher
    while not process_gone(pid):
        assert time.monotonic() < deadline, f"environment {pid} outlived its function"
        time.sleep(0.02 * SECOND)
    assert os.getpid() != pid


def test_a_function_created_again_under_its_name_starts_cold_with_its_own_code(
        cloud: LocalCloud) -> None:
    """Deleted and created again with the same name (and the same zip, or another), the
    function starts cold: a new environment, a new log stream, Init Duration, its own code;
    the old function's permission is gone with it."""
    lam = cloud.client("lambda")
    runs = []
    for code in ("same", "same", "other"):
        kit.deploy_function(cloud, "chg-again", PID_SOURCE % code)
        first = kit.invoke_json(cloud, "chg-again", LogType="Tail")
        warm = kit.invoke_json(cloud, "chg-again", LogType="Tail")
        assert first["Payload"]["code"] == code
        assert "Init Duration" in base64.b64decode(first["LogResult"]).decode(), code
        assert "Init Duration" not in base64.b64decode(warm["LogResult"]).decode()
        assert warm["Payload"]["pid"] == first["Payload"]["pid"]
        runs.append(first["Payload"])
        # raises ResourceConflictException if the old function's statement had survived
        lam.add_permission(FunctionName="chg-again", StatementId="apigw",
                           Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com")
        lam.delete_function(FunctionName="chg-again")
    assert len({run["pid"] for run in runs}) == 3
    assert len({run["stream"] for run in runs}) == 3
