"""The local cloud's moto keeps what its tables and log streams hold, and nothing more."""

from __future__ import annotations

import gc
import time

import boto3
import pytest
from moto import mock_aws
from moto.core.common_models import BaseModel
from moto.dynamodb.models.dynamo_type import Item
from moto.logs.models import LogEvent

from workshop_utils.localcloud.moto_internals import memory as moto_memory


@pytest.fixture
def live_only():
    """Install the change for the test, then give moto its own ``__new__`` back."""
    saved = BaseModel.__dict__["__new__"]
    moto_memory.apply()
    moto_memory.apply()  # twice is the same as once
    yield
    BaseModel.__new__ = saved
    classes = [BaseModel]
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        tracked = cls.__dict__.get("instances_tracked")
        if isinstance(tracked, moto_memory.LiveInstances):
            cls.instances_tracked = list(tracked)


def make_table() -> object:
    """The table ``t`` (string key ``id``) in the running moto; returns its client."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    return ddb


def tracked(cls: type) -> int:
    """How many instances of ``cls`` moto still lists, after a garbage collection."""
    gc.collect()
    return len(list(cls.instances_tracked))  # type: ignore[attr-defined]


def test_scans_leave_no_items_behind(live_only, monkeypatch) -> None:
    """What the broadcast does per message: a Scan (moto copies and projects every item)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = make_table()
        for i in range(50):
            ddb.put_item(TableName="t", Item={"id": {"S": f"c{i}"}, "name": {"S": "x"}})
        stored = tracked(Item)
        for _ in range(20):
            page = ddb.scan(TableName="t", ProjectionExpression="id, #n",
                            ExpressionAttributeNames={"#n": "name"})
            assert page["Count"] == 50
        assert tracked(Item) <= stored  # 2,000 copies made, none kept
        assert tracked(Item) >= 50  # the table's own items are still listed
        ddb.delete_item(TableName="t", Key={"id": {"S": "c0"}})
        assert ddb.get_item(TableName="t", Key={"id": {"S": "c1"}})["Item"]["name"] == {"S": "x"}


def test_without_the_change_moto_keeps_every_copy(monkeypatch) -> None:
    """The measurement behind the change (and proof that the test above can fail)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    if getattr(BaseModel.__new__, "_localcloud_live", False):
        pytest.skip("the change is installed in this process")
    with mock_aws():
        ddb = make_table()
        ddb.put_item(TableName="t", Item={"id": {"S": "c"}})
        before = tracked(Item)
        for _ in range(10):
            ddb.scan(TableName="t")
        assert tracked(Item) >= before + 10


def test_log_events_live_as_long_as_their_stream(live_only, monkeypatch) -> None:
    """Log events stay listed while their group exists and are let go with it."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        logs = boto3.client("logs", region_name="us-east-1")
        logs.create_log_group(logGroupName="g")
        logs.create_log_stream(logGroupName="g", logStreamName="s")
        now_ms = int(time.time() * 1000)
        logs.put_log_events(logGroupName="g", logStreamName="s",
                            logEvents=[{"timestamp": now_ms + i, "message": f"m{i}"}
                                       for i in range(30)])
        assert tracked(LogEvent) >= 30
        assert len(logs.get_log_events(logGroupName="g", logStreamName="s")["events"]) == 30
        logs.delete_log_group(logGroupName="g")
        assert tracked(LogEvent) == 0


def test_live_instances_behaves_like_moto_s_list() -> None:
    """LiveInstances iterates and counts like moto's list, drops objects nobody else holds, and
    keeps the ones that cannot be weakly referenced."""
    class Plain:
        pass

    class Slotted:
        __slots__ = ("x",)

    keep = [Plain() for _ in range(3)]
    slotted = Slotted()
    live = moto_memory.LiveInstances([Plain(), *keep])
    live.append(slotted)
    gc.collect()
    assert sorted(map(id, live)) == sorted(map(id, [*keep, slotted]))
    assert len(live) == 4
    del keep[:]
    gc.collect()
    assert list(live) == [slotted]  # no weak references for it: kept, as moto did
