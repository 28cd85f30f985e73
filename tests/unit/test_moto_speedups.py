"""The local cloud's moto speed-ups give exactly moto's own answers, only faster."""

from __future__ import annotations

import boto3
import pytest
from moto import backends, mock_aws
from moto.core import responses
from moto.core.serialize import BaseJSONSerializer

from workshop_utils.localcloud.moto_internals import speedups as moto_speedups

ITEM = {
    "connectionId": {"S": "AbCdEfGhIjKlMnO="},
    "name": {"S": "zoë \"quoted\" \u2603"},
    "connectedAt": {"N": "1795622400000"},
    "announced": {"BOOL": True},
    "nothing": {"NULL": True},
    "blob": {"B": b"\x00\x01binary"},
    "tags": {"SS": ["a", "b"]},
    "scores": {"NS": ["1", "2.5"]},
    "blobs": {"BS": [b"x", b"y"]},
    "nested": {"M": {"k": {"S": "v"}, "n": {"N": "3"}, "l": {"L": [{"S": "x"}, {"BOOL": False}]}}},
}


@pytest.fixture
def original_moto():
    """Undo the speed-ups after the test: they patch moto process-wide."""
    saved = (responses.method_names_from_class, BaseJSONSerializer._serialize_type_structure,
             backends.list_of_moto_modules)
    yield
    (responses.method_names_from_class, BaseJSONSerializer._serialize_type_structure,
     backends.list_of_moto_modules) = saved


def raw_bodies() -> list[bytes]:
    """The raw response bodies of the reads the chat makes, and more (a client of its own)."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    bodies: list[bytes] = []
    ddb.meta.events.register(
        "before-parse.dynamodb.*", lambda response_dict, **_: bodies.append(response_dict["body"]))
    ddb.scan(TableName="t")
    ddb.get_item(TableName="t", Key={"connectionId": ITEM["connectionId"]})
    ddb.query(TableName="t", KeyConditionExpression="connectionId = :c",
              ExpressionAttributeValues={":c": ITEM["connectionId"]})
    ddb.batch_get_item(RequestItems={"t": {"Keys": [{"connectionId": ITEM["connectionId"]}]}})
    ddb.update_item(TableName="t", Key={"connectionId": ITEM["connectionId"]},
                    UpdateExpression="SET seen = :s", ExpressionAttributeValues={":s": {"N": "1"}},
                    ReturnValues="ALL_NEW")
    return bodies


def test_dynamodb_responses_are_byte_identical(original_moto, monkeypatch) -> None:
    """The reads the chat makes (and Query, BatchGetItem, UpdateItem) answer the same bytes with
    the speed-ups applied (once or twice) as moto does without them."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "connectionId",
                                                "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}])
        ddb.put_item(TableName="t", Item=ITEM)
        before = raw_bodies()
        ddb.delete_item(TableName="t", Key={"connectionId": ITEM["connectionId"]})
        ddb.put_item(TableName="t", Item=ITEM)
        moto_speedups.apply()
        moto_speedups.apply()  # twice is the same as once
        after = raw_bodies()
    assert len(before) == 5 and after == before


def test_dispatch_cache_returns_moto_s_own_method_names(original_moto) -> None:
    """The cached dispatch table gives the same method names moto computes, computed once per
    class."""
    from moto.awslambda.responses import LambdaResponse
    from moto.dynamodb.responses import DynamoHandler

    expected = {cls: set(responses.method_names_from_class(cls))
                for cls in (DynamoHandler, LambdaResponse)}
    moto_speedups.apply()
    for cls, names in expected.items():
        assert set(responses.method_names_from_class(cls)) == names
        assert responses.method_names_from_class(cls) is responses.method_names_from_class(cls)


def test_module_list_is_moto_s_own_listing(original_moto) -> None:
    """The cached list of moto's service modules is the list moto itself makes."""
    expected = list(backends.list_of_moto_modules())
    moto_speedups.apply()
    assert list(backends.list_of_moto_modules()) == expected
    assert "dynamodb" in expected and "apigatewayv2" in expected
