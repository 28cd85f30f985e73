"""The fan-out shared by broadcast and disconnect: pagination, 410 clean-up, isolation, logs."""

from __future__ import annotations

import importlib.util
import json
import re
import sys

from botocore.exceptions import EndpointConnectionError

SENDER = "Vx3kQfGSoAMCJ1A="  # tests/events/message.json
PADDING = "p" * 1000  # ~1 KB an item: 2,500 of them cannot fit one 1 MB Scan page


def add_many(chat, count: int) -> list[str]:
    """``count`` announced connections of about 1 KB each, written in batches of 25."""
    ids = [f"conn-{n:010d}=" for n in range(count)]
    for start in range(0, count, 25):
        chat.ddb.batch_write_item(
            RequestItems={
                chat.common.table_name(): [
                    {"PutRequest": {"Item": {
                        "connectionId": {"S": cid}, "name": {"S": cid[:10]},
                        "announced": {"BOOL": True}, "padding": {"S": PADDING},
                    }}}
                    for cid in ids[start:start + 25]
                ]
            }
        )
    return ids


def test_scan_follows_every_page(chat):
    """A table larger than one 1 MB Scan page is read whole: every id once, each page after the
    first started from LastEvaluatedKey, projecting only id and name."""
    ids = add_many(chat, 2500)
    found = chat.common.scan_connection_ids()
    assert sorted(found) == ids  # all of them, each once
    scans = [c for c in chat.recorder.calls if c.operation == "Scan"]
    assert len(scans) >= 3  # ~2.5 MB read in pages of 1 MB
    assert all(c.params["ProjectionExpression"] == "connectionId, #name" for c in scans)
    assert "ExclusiveStartKey" not in scans[0].params
    assert all("ExclusiveStartKey" in c.params for c in scans[1:])


def test_a_message_reaches_all_2500_connections(chat, events, logs, lambda_context):
    """A message reaches each of 2,500 connections once, and the summary counts every one."""
    ids = add_many(chat, 2500)
    chat.add(SENDER, "alice", announced=True)
    chat.broadcast.lambda_handler(events.load("message"), lambda_context)
    assert chat.gateway.posted_to == {*ids, SENDER}
    assert all(len(chat.gateway.frames[cid]) == 1 for cid in ids)
    assert chat.recorder.count("Scan") >= 3
    (summary,) = [line for line in logs() if line["event"] == "broadcast"]
    assert summary["recipients"] == summary["delivered"] == 2501
    assert summary["stale_removed"] == summary["failed"] == 0


def test_gone_ids_are_removed_and_no_other(chat, events, logs, lambda_context):
    """Recipients answering 410 GoneException are deleted, exactly those, and counted as stale;
    the sender and the others stay."""
    for cid, name in [(SENDER, "alice"), ("BOB000000000000=", "bob"),
                      ("GONE10000000000=", "g1"), ("GONE20000000000=", "g2")]:
        chat.add(cid, name, announced=True)
    chat.gateway.gone.update({"GONE10000000000=", "GONE20000000000="})
    assert chat.broadcast.lambda_handler(events.load("message"), lambda_context) == {
        "statusCode": 200
    }
    assert chat.ids() == {SENDER, "BOB000000000000="}  # the sender's own id survives
    assert chat.gateway.posted_to == {SENDER, "BOB000000000000="}
    deletes = [c.params["Key"]["connectionId"]["S"]
               for c in chat.recorder.calls if c.operation == "DeleteItem"]
    assert sorted(deletes) == ["GONE10000000000=", "GONE20000000000="]
    lines = logs()
    assert sorted(line["connectionId"] for line in lines if line["event"] == "stale_removed") \
        == ["GONE10000000000=", "GONE20000000000="]
    (summary,) = [line for line in lines if line["event"] == "broadcast"]
    assert (summary["recipients"], summary["delivered"], summary["stale_removed"],
            summary["failed"]) == (4, 2, 2, 0)


def test_a_gone_sender_is_removed_when_its_error_reply_bounces(chat, events, lambda_context):
    """A sender whose error reply answers 410 is removed like any stale connection."""
    chat.add(SENDER, "alice")
    chat.gateway.gone.add(SENDER)
    chat.broadcast.lambda_handler(events.message(SENDER, "not json"), lambda_context)
    assert chat.ids() == set()


def test_a_stale_id_is_not_posted_twice_after_the_join(chat, events, lambda_context):
    """A recipient found gone while the join is sent is not posted the message as well."""
    chat.add(SENDER, "alice")  # not announced: this message also sends the join
    chat.add("BOB000000000000=", "bob")
    chat.add("GONE00000000000=", "gone")
    chat.gateway.gone.add("GONE00000000000=")
    chat.broadcast.lambda_handler(events.load("message"), lambda_context)
    assert chat.gateway.attempts["GONE00000000000="] == 1
    assert chat.ids() == {SENDER, "BOB000000000000="}


def test_another_error_for_one_recipient_does_not_stop_the_others(
    chat, events, logs, lambda_context
):
    """A 403 for one recipient is logged and counted as failed, not retried and not deleted,
    and every other recipient still gets the message."""
    for cid in (SENDER, "BOB000000000000=", "CAROL0000000000=", "DENIED000000000="):
        chat.add(cid, cid.lower(), announced=True)
    chat.gateway.errors["DENIED000000000="] = (403, "ForbiddenException")
    chat.broadcast.lambda_handler(events.load("message"), lambda_context)
    assert chat.gateway.posted_to == {SENDER, "BOB000000000000=", "CAROL0000000000="}
    assert "DENIED000000000=" in chat.ids()  # only a 410 means gone
    assert chat.gateway.attempts["DENIED000000000="] == 1  # 403 is not retried
    lines = logs()
    (warning,) = [line for line in lines if line["event"] == "post_failed"]
    assert warning == {"level": "WARNING", "event": "post_failed",
                       "connectionId": "DENIED000000000=",
                       "errorCode": "ForbiddenException",
                       "awsRequestId": "6f3c1b8e-2d4a-4b7e-9a51-0c2e8d7f1a23"}
    (summary,) = [line for line in lines if line["event"] == "broadcast"]
    assert (summary["delivered"], summary["failed"], summary["stale_removed"]) == (3, 1, 0)


def test_a_network_error_for_one_recipient_is_a_failure_not_a_crash(chat):
    """An endpoint that cannot be reached makes that delivery FAILED instead of raising."""
    real = chat.common.management_client(chat.endpoint)

    class Unreachable:
        exceptions = real.exceptions

        def post_to_connection(self, **_kwargs):
            raise EndpointConnectionError(endpoint_url=chat.endpoint)

    assert chat.common._deliver(Unreachable(), "X00000000000000=", b"{}") == chat.common.FAILED


def test_a_bug_in_one_delivery_is_logged_and_counted(chat, logs, monkeypatch):
    """An unexpected exception in one delivery is logged with its traceback and counted as
    failed; the other deliveries complete."""
    real = chat.common._deliver

    def buggy(client, connection_id, data):
        if connection_id == "B00000000000000=":
            raise KeyError("bug")
        return real(client, connection_id, data)

    monkeypatch.setattr(chat.common, "_deliver", buggy)
    result = chat.common.fan_out(chat.endpoint, {"type": "x"},
                                 ["A00000000000000=", "B00000000000000=", "C00000000000000="],
                                 kind="message", source="A00000000000000=")
    assert (result.delivered, result.failed) == (2, 1)
    (crash,) = [line for line in logs() if line["event"] == "post_crashed"]
    assert crash["connectionId"] == "B00000000000000=" and "KeyError" in crash["stackTrace"]


def test_a_failed_stale_delete_counts_as_failed(chat, logs, monkeypatch):
    """A gone recipient whose delete fails is counted as failed, not as removed, and logged."""
    chat.gateway.gone.add("GONE00000000000=")
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    result = chat.common.fan_out(chat.endpoint, {"type": "x"}, ["GONE00000000000="],
                                 kind="message", source="A00000000000000=")
    assert (result.stale_removed, result.failed) == (0, 1)
    (line,) = [entry for entry in logs() if entry["event"] == "stale_remove_failed"]
    assert line["errorCode"] == "ResourceNotFoundException"


def test_recipients_are_deduplicated(chat):
    """An id listed twice is posted once."""
    result = chat.common.fan_out(chat.endpoint, {"type": "x"},
                                 ["A00000000000000=", "B00000000000000=", "A00000000000000="],
                                 kind="message", source="A00000000000000=")
    assert result.recipients == 2
    assert chat.gateway.attempts == {"A00000000000000=": 1, "B00000000000000=": 1}


def test_summary_line_has_the_fields_logs_insights_queries(chat, logs):
    """The broadcast summary is one JSON line with exactly the fields a Logs Insights query of
    notebook 07 filters and reads (event, recipients, delivered, ...), the duration a float."""
    chat.common.fan_out(chat.endpoint, {"type": "x"}, ["A00000000000000="], kind="presence",
                        source="Z00000000000000=")
    (line,) = logs()
    assert set(line) == {"level", "event", "kind", "connectionId", "recipients", "delivered",
                         "stale_removed", "failed", "skipped", "duration_ms"}
    assert isinstance(line["duration_ms"], float)


def test_clients_and_pool_are_configured_once_per_environment(chat):
    """Both clients retry in standard mode, the first call and one retry (total_max_attempts
    counts both; botocore's max_attempts would count retries only), and their pools are as
    large as the 16 fan-out workers."""
    for client in (chat.common.management_client(chat.endpoint), chat.common.dynamodb):
        config = client.meta.config
        assert config.retries == {"mode": "standard", "total_max_attempts": 2}
        assert config.max_pool_connections >= chat.common.MAX_FANOUT_WORKERS
    assert chat.common._executor._max_workers == chat.common.MAX_FANOUT_WORKERS == 16


def test_management_endpoint_is_built_from_api_id_region_and_stage(chat, monkeypatch):
    """The @connections endpoint is https://<apiId>.execute-api.<AWS_REGION>.amazonaws.com/<stage>,
    whatever domain the client connected to."""
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    context = {"apiId": "abc123", "stage": "dev", "domainName": "chat.example.com"}
    assert chat.common.management_endpoint(context) == (
        "https://abc123.execute-api.eu-west-3.amazonaws.com/dev"
    )


def test_clients_use_lambdas_aws_region_not_the_sdk_default(settings, monkeypatch):
    """The clients use AWS_REGION (what Lambda sets) even when AWS_DEFAULT_REGION says otherwise."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")  # what boto3 alone would pick
    monkeypatch.delitem(sys.modules, "chat_common", raising=False)
    spec = importlib.util.spec_from_file_location(
        "_region_check", settings.lambda_src / "shared" / "chat_common.py"
    )
    common = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, common)
    spec.loader.exec_module(common)
    assert common.dynamodb.meta.region_name == settings.region
    assert common.management_client(settings.endpoint).meta.region_name == settings.region
    common._executor.shutdown()


def test_iso_time_is_utc_with_milliseconds():
    """iso_time gives UTC ISO-8601 with milliseconds and a Z, for a given epoch ms or now."""
    import chat_common

    assert chat_common.iso_time(1795622400123) == "2026-11-25T16:00:00.123Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", chat_common.iso_time())


def test_non_dict_log_messages_still_come_out_as_json(chat, logs):
    """A plain-text log record is still written as one JSON line with level and message."""
    chat.common.logger.info("plain %s", "text")
    assert logs() == [{"level": "INFO", "message": "plain text"}]


def test_importing_the_handlers_needs_no_aws_and_no_table(settings, monkeypatch):
    """Importing each handler outside moto, with every endpoint unreachable and no TABLE_NAME,
    makes no AWS call and reads no configuration (either would fail here): only clients are
    created."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("TABLE_NAME")
    monkeypatch.delitem(sys.modules, "chat_common", raising=False)
    for function in ("connect", "disconnect", "broadcast"):
        path = settings.lambda_src / function / "app.py"
        spec = importlib.util.spec_from_file_location(f"_import_check_{function}", path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
        assert callable(module.lambda_handler)
    common = sys.modules["chat_common"]
    assert common.dynamodb.meta.service_model.service_name == "dynamodb"
    common._executor.shutdown()
    assert json.loads(common.encode({"a": "é"})) == {"a": "é"}
