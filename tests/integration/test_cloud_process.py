"""The local cloud process: start, status, idempotence, stop, and moto behind it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud
from workshop_utils.localcloud import lifecycle as process

from . import kit


def test_status_lists_the_endpoints_a_client_needs(cloud: LocalCloud) -> None:
    """status() gives the AWS endpoint, the WebSocket and @connections URL templates (all on
    127.0.0.1) and the cloud's pid."""
    state = cloud.status()
    assert state["aws_endpoint"].startswith("http://127.0.0.1:")
    assert state["websocket_url_template"].endswith("/{api_id}/{stage}")
    assert state["management_url_template"].startswith("http://127.0.0.1:")
    assert isinstance(state["pid"], int)


def test_moto_serves_the_control_plane(cloud: LocalCloud) -> None:
    """A table created through boto3 against the cloud is listed by the cloud."""
    ddb = cloud.client("dynamodb")
    kit.create_table(cloud, "smoke-process")
    assert "smoke-process" in ddb.list_tables()["TableNames"]


def test_cli_start_is_idempotent_and_stop_finds_it_through_home(tmp_path) -> None:
    """A second `workshop cloud start` keeps the running cloud (same pid); `stop` finds it
    through --home, and then status says it is not running."""
    env_args = ["--home", str(tmp_path)]
    cli = [sys.executable, "-m", "workshop_utils.cli", *env_args]
    ports = ["--aws-port", "0", "--ws-port", "0"]
    try:
        subprocess.run([*cli, "cloud", "start", *ports], check=True, timeout=60 * SECOND)
        first = json.loads(subprocess.run([*cli, "cloud", "status", "--json"], check=True,
                                          capture_output=True, text=True,
                                          timeout=30 * SECOND).stdout)
        subprocess.run([*cli, "cloud", "start", *ports], check=True, timeout=60 * SECOND)
        second = process.status(tmp_path)
        assert second is not None and second["pid"] == first["pid"]
        assert (tmp_path / "cloud.pid").exists() and (tmp_path / "cloud.log").exists()
    finally:
        subprocess.run([*cli, "cloud", "stop"], check=True, timeout=60 * SECOND)
    assert process.status(tmp_path) is None
    gone = subprocess.run([*cli, "cloud", "status", "--json"], capture_output=True, text=True,
                          timeout=30 * SECOND)
    assert gone.returncode == 1 and json.loads(gone.stdout) == {"running": False}


def test_two_clouds_side_by_side_have_separate_state() -> None:
    """Two clouds get their own endpoints, and a resource made in one is not in the other."""
    with LocalCloud() as a, LocalCloud() as b:
        assert a.aws_endpoint != b.aws_endpoint
        a.client("sqs").create_queue(QueueName="only-in-a")
        assert "QueueUrls" not in b.client("sqs").list_queues()


def test_copies_a_scan_makes_are_not_kept() -> None:
    """moto lists every model object it ever made (``/moto-api/data.json``); the local cloud
    lets go of the item copies each Scan makes, or a chat's broadcasts grow it without end.

    A cloud of its own: moto's dashboard reads every attribute of every object, and a Lambda
    function's (left by other tests) may try to reach Docker and fail the whole listing."""
    with LocalCloud() as fresh:
        ddb = fresh.client("dynamodb")
        kit.create_table(fresh, "scan-copies")

        def items_listed() -> int:
            url = fresh.aws_endpoint + "/moto-api/data.json"
            with urllib.request.urlopen(url, timeout=10 * SECOND) as answer:
                return len(json.loads(answer.read())["dynamodb"].get("Item", []))

        for i in range(5):
            ddb.put_item(TableName="scan-copies", Item={"id": {"S": str(i)}})
        before = items_listed()
        for _ in range(20):
            assert ddb.scan(TableName="scan-copies")["Count"] == 5
        assert items_listed() < before + 20  # moto alone keeps 100 more: 5 per Scan
