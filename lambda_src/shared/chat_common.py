"""What the chat's three Lambda functions share: clients, JSON logging, the fan-out.

Packaging copies this file next to each function's ``app.py``, so ``import chat_common`` works
the same in Lambda, in the local cloud and in the unit tests (which put ``lambda_src/shared`` on
``sys.path``). Plain Python and boto3 only: nothing here may know where it runs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Bounded concurrency for @connections posts: enough to fan out to a classroom in well under a
# second, few enough not to trip the management API's per-account rate limit.
MAX_FANOUT_WORKERS = 16

# Every call must give up before Lambda stops the function at its timeout (10 s, set where the
# function is created: workshop_utils/stack.py). botocore's worst case for one call is
# total_max_attempts x (connect_timeout + read_timeout) plus the waits between attempts.
# total_max_attempts counts every attempt, the first included (botocore's Config docs; its
# max_attempts would count the retries only, one more call than the number says). In
# "standard" mode the wait before a second attempt is rand(0, 1) x 1 s at most (throttling's
# base; botocore/retries/standard.py ExponentialBackoff), and botocore raises it to what an
# x-amz-retry-after header asks, by at most 5 s more (the SDKs' retry behaviour of 2026;
# botocore 1.44 does it). So one call takes at most 2 x (0.5 + 1.2) + 1 + 5 = 9.4 s, within
# the 10 s. The gateway answers @connections calls in milliseconds and DynamoDB its
# single-item calls and a 1 MB Scan page in well under a second: a slower answer is a sick
# connection, and the retry gets a new one.
SDK_TIMEOUTS = {"connect_timeout": 0.5, "read_timeout": 1.2}
RETRIES = {"mode": "standard", "total_max_attempts": 2}  # the first call and one retry
MANAGEMENT_CONFIG = Config(**SDK_TIMEOUTS, retries=RETRIES,
                           max_pool_connections=MAX_FANOUT_WORKERS)
# Stale ids are deleted from inside the fan-out workers, so DynamoDB needs as many pooled
# connections as there are workers (botocore's default is 10 and warns when it overflows).
DYNAMODB_CONFIG = Config(**SDK_TIMEOUTS, retries=RETRIES,
                         max_pool_connections=MAX_FANOUT_WORKERS)
MAX_RETRY_BACKOFF_MS = 1000  # botocore's own wait before the one retry (see above)
MAX_RETRY_AFTER_MS = 5000  # what an x-amz-retry-after header may add to it (see above)
# Time left that a fan-out needs to start one more call: that call's worst case when AWS sends
# no x-amz-retry-after, plus a margin for the summary log line. Below it, the fan-out stops
# posting (the rest are counted as skipped and logged) instead of being killed mid-way by the
# timeout, which would lose the log. The header's extra 5 s is left out of the reserve: it
# comes only with a throttled answer, and keeping 9.9 s in reserve would stop every fan-out
# after its first tenth of a second; the call itself still ends within the function's time.
FINISH_MARGIN_MS = 500


def worst_case_ms(config: Config, *, retry_after: bool = True) -> int:
    """The longest one call with ``config`` can take before botocore gives up; without
    ``retry_after``, when the service asks for no longer wait (no x-amz-retry-after)."""
    attempts = config.retries["total_max_attempts"]
    per_attempt_ms = (config.connect_timeout + config.read_timeout) * 1000
    wait_ms = MAX_RETRY_BACKOFF_MS + (MAX_RETRY_AFTER_MS if retry_after else 0)
    return int(attempts * per_attempt_ms + (attempts - 1) * wait_ms)


POST_RESERVE_MS = worst_case_ms(MANAGEMENT_CONFIG, retry_after=False) + FINISH_MARGIN_MS
DELETE_RESERVE_MS = worst_case_ms(DYNAMODB_CONFIG, retry_after=False) + FINISH_MARGIN_MS

# The DNS suffix of the AWS partitions, for the execute-api host of the @connections API.
DNS_SUFFIXES = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn",
                "aws-us-gov": "amazonaws.com"}

DELIVERED = "delivered"
STALE_REMOVED = "stale_removed"
FAILED = "failed"
SKIPPED = "skipped"


# The invocation in progress (its Lambda context) and its request id. An execution environment
# runs one invocation at a time, so a module global (unlike a ContextVar) is also right in the
# fan-out threads.
_invocation: Any = None
_request_id: str | None = None


def bind_request(context: Any) -> None:
    """Remember this invocation's context: every log line is tagged with its request id (one
    filter on the id then finds the invocation's own lines together with Lambda's START, END
    and REPORT), and the fan-out watches its remaining time."""
    global _invocation, _request_id
    _invocation = context
    _request_id = getattr(context, "aws_request_id", None)


def remaining_ms() -> int | None:
    """Milliseconds before Lambda stops this invocation (None when no context is bound)."""
    remaining = getattr(_invocation, "get_remaining_time_in_millis", None)
    return remaining() if callable(remaining) else None


def has_time_for(reserve_ms: int) -> bool:
    """True if a call that may take ``reserve_ms`` still ends before the timeout."""
    left = remaining_ms()
    return left is None or left > reserve_ms


def partition() -> str:
    """The AWS partition this function runs in, from its own ARN (``arn:aws-cn:lambda:…``);
    ``aws`` when no invocation is bound."""
    arn = getattr(_invocation, "invoked_function_arn", "") or ""
    parts = arn.split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "arn" else "aws"


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line, so CloudWatch Logs Insights discovers every field by itself.

    Log calls pass a dict (``logger.info({"event": "connect", ...})``); a traceback goes into the
    same object as ``stackTrace`` so that one failure stays one log event.
    """

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {"level": record.levelname}
        if _request_id:
            payload["awsRequestId"] = _request_id
        if isinstance(record.msg, dict):
            payload.update(record.msg)
        else:
            payload["message"] = record.getMessage()
        if record.exc_info:
            payload["error"] = repr(record.exc_info[1])
            payload["stackTrace"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class StdoutHandler(logging.Handler):
    """Write to whatever ``sys.stdout`` is at the time of the call.

    Lambda sends stdout to CloudWatch Logs line by line; looking ``sys.stdout`` up late means a
    runtime or test that swaps it still sees our lines.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
            sys.stdout.flush()
        except Exception:  # logging must never break the handler; report it the logging way
            self.handleError(record)


# The level names of Lambda's advanced logging controls (ApplicationLogLevel: TRACE, DEBUG,
# INFO, WARN, ERROR, FATAL) as Python's logging names them.
LAMBDA_LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO,
                 "WARN": logging.WARNING, "WARNING": logging.WARNING,
                 "ERROR": logging.ERROR, "FATAL": logging.CRITICAL,
                 "CRITICAL": logging.CRITICAL}


def log_level(environ: dict[str, str] | None = None) -> int:
    """The chat's log level, read once per execution environment (a change of it is a
    configuration change, so the next invocation starts a new environment and reads it).

    ``AWS_LAMBDA_LOG_LEVEL`` first: Lambda sets it from ``LoggingConfig.ApplicationLogLevel``
    when a function uses its advanced logging controls (JSON log format; Lambda Developer
    Guide, "Log-level filtering"), and then drops lines above that level itself, by their
    ``"level"`` key. Else the function's own ``LOG_LEVEL`` environment variable, for a
    function in the default text format. Anything else, or nothing: INFO.
    """
    environ = os.environ if environ is None else environ
    for variable in ("AWS_LAMBDA_LOG_LEVEL", "LOG_LEVEL"):
        value = (environ.get(variable) or "").strip().upper()
        if value in LAMBDA_LEVELS:
            return LAMBDA_LEVELS[value]
    return logging.INFO


def _configure_logger() -> logging.Logger:
    """The "chat" logger: INFO (or :func:`log_level`), JSON lines, not propagated (the
    runtime's root handler would prefix each line with text and make it invisible to Logs
    Insights' JSON discovery)."""
    chat_logger = logging.getLogger("chat")
    chat_logger.setLevel(log_level())
    chat_logger.propagate = False
    handler = StdoutHandler()
    handler.setFormatter(JsonLineFormatter())
    chat_logger.handlers[:] = [handler]  # idempotent if this module is imported again
    return chat_logger


logger = _configure_logger()

# Created once per execution environment: warm invocations reuse the connections. The region
# is Lambda's AWS_REGION, the one the management endpoint is built from (boto3 itself reads
# only AWS_DEFAULT_REGION); None falls back to boto3's usual chain.
dynamodb = boto3.client(
    "dynamodb", region_name=os.environ.get("AWS_REGION"), config=DYNAMODB_CONFIG
)


def _call_started(context: dict, model: Any, **_kwargs: Any) -> None:
    """botocore's ``before-call``: which call this is and when it started (its ``context``
    is per call; ``after-call-error`` is given no model, so the name is kept here)."""
    context["chat_operation"] = model.name
    context["chat_started"] = time.perf_counter()


def _call_finished(context: dict, parsed: dict | None = None,
                   http_response: Any = None, exception: Exception | None = None,
                   **_kwargs: Any) -> None:
    """botocore's ``after-call`` and ``after-call-error``: one DEBUG line per DynamoDB call,
    retries included in its ``ms``. Neither the function's log nor any AWS log lists the
    calls a function makes (CloudTrail logs DynamoDB's item calls only as opt-in data
    events), so at DEBUG the handler says them itself."""
    if not logger.isEnabledFor(logging.DEBUG):
        return
    started = context.get("chat_started")
    operation = context.get("chat_operation", "?")
    line: dict[str, Any] = {"event": "dynamodb", "operation": operation}
    if exception is not None:
        line["errorCode"] = _error_code(exception)
    else:
        parsed = parsed or {}
        line["status"] = getattr(http_response, "status_code", None)
        error = parsed.get("Error", {}).get("Code")
        if error:
            line["errorCode"] = error
        elif "Count" in parsed:  # Scan, Query: the items of this page
            line["count"] = parsed["Count"]
            line["scanned"] = parsed.get("ScannedCount", parsed["Count"])
            line["morePages"] = "LastEvaluatedKey" in parsed
        elif operation == "GetItem":
            line["count"] = 1 if "Item" in parsed else 0
    if started is not None:
        line["ms"] = round((time.perf_counter() - started) * 1000, 1)
    logger.debug(line)


dynamodb.meta.events.register("before-call.dynamodb", _call_started)
dynamodb.meta.events.register("after-call.dynamodb", _call_finished)
dynamodb.meta.events.register("after-call-error.dynamodb", _call_finished)
_management_clients: dict[str, Any] = {}
_executor = ThreadPoolExecutor(max_workers=MAX_FANOUT_WORKERS, thread_name_prefix="fanout")


def table_name() -> str:
    """The connections table, read per call so that importing this module needs no config."""
    return os.environ["TABLE_NAME"]


def iso_time(epoch_ms: float | None = None) -> str:
    """UTC ISO-8601 with milliseconds and a ``Z`` (what browsers' ``Date`` parses), e.g.
    ``2026-11-25T16:00:00.123Z``; ``epoch_ms`` defaults to now."""
    seconds = time.time() if epoch_ms is None else epoch_ms / 1000
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_time(event: dict) -> str:
    """When the gateway received this event: the same instant for every recipient, and
    ordered the way the gateway saw frames, not the way invocations happened to run."""
    return iso_time(event.get("requestContext", {}).get("requestTimeEpoch"))


def management_endpoint(request_context: dict) -> str:
    """The @connections endpoint of the stage that sent the event, built the AWS way.

    ``domainName`` may be a custom domain, which does not serve @connections; the execute-api
    host always does. ``AWS_REGION`` is set by Lambda (and by the local cloud's runtime); the
    domain is the partition's (``amazonaws.com.cn`` in China).
    """
    region = os.environ["AWS_REGION"]
    current = partition()
    if current not in DNS_SUFFIXES:
        raise ValueError(f"no execute-api domain known for partition {current!r}")
    return (
        f"https://{request_context['apiId']}.execute-api.{region}.{DNS_SUFFIXES[current]}"
        f"/{request_context['stage']}"
    )


def management_client(endpoint: str):
    """One apigatewaymanagementapi client per endpoint, cached for the environment's life.

    Its requests are signed for AWS_REGION, the region in the endpoint's host name (a
    signature for another region is refused with 403).
    """
    client = _management_clients.get(endpoint)
    if client is None:
        client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=endpoint,
            region_name=os.environ.get("AWS_REGION"),
            config=MANAGEMENT_CONFIG,
        )
        _management_clients[endpoint] = client
    return client


def encode(payload: dict) -> bytes:
    """The frame as clients receive it: JSON text, UTF-8, names and text left readable."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


# Items whose TTL (``expiresAt``, epoch seconds) has passed are not live: DynamoDB deletes
# expired items only eventually ("typically within a few days") and until then reads return
# them (DynamoDB Developer Guide, "Working with time to live"). Items without ``expiresAt``
# stay. The Scan filters with LIVE_FILTER, and a single-item read checks is_live(): the same
# rule (an ``expiresAt`` that is not a number never compares greater than a number, so the
# filter drops such an item, and so does is_live).
TTL_ATTRIBUTE = "expiresAt"
LIVE_FILTER = f"attribute_not_exists({TTL_ATTRIBUTE}) OR {TTL_ATTRIBUTE} > :now"


def ttl_now() -> dict[str, str]:
    """The time the TTL is compared with, as a DynamoDB number (whole epoch seconds)."""
    return {"N": str(int(time.time()))}


def is_live(item: dict[str, Any], now: dict[str, str] | None = None) -> bool:
    """True if an item read from the table has not passed its TTL (see LIVE_FILTER)."""
    if TTL_ATTRIBUTE not in item:
        return True
    expires = item[TTL_ATTRIBUTE]
    if not (isinstance(expires, dict) and isinstance(expires.get("N"), str)):
        return False
    try:
        return float(expires["N"]) > float((now or ttl_now())["N"])
    except ValueError:
        return False


def scan_connections() -> dict[str, str]:
    """Every live connection in the table as ``{connection id: name}``, following
    ``LastEvaluatedKey`` page by page.

    A single Scan stops at 1 MB; without the loop a busy chat silently skips people. Items
    past their TTL are left out (see LIVE_FILTER).
    """
    connections: dict[str, str] = {}
    request = {
        "TableName": table_name(),
        "ProjectionExpression": "connectionId, #name",
        "FilterExpression": LIVE_FILTER,
        "ExpressionAttributeNames": {"#name": "name"},  # NAME is a DynamoDB reserved word
        "ExpressionAttributeValues": {":now": ttl_now()},
    }
    while True:
        page = dynamodb.scan(**request)
        for item in page.get("Items", []):
            connections[item["connectionId"]["S"]] = item.get("name", {}).get("S", "")
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return connections
        request["ExclusiveStartKey"] = last_key


def scan_connection_ids() -> list[str]:
    """Every connection id in the table (see :func:`scan_connections`)."""
    return list(scan_connections())


def delete_connection_item(connection_id: str) -> None:
    """Forget one connection id (no error if it is already gone)."""
    dynamodb.delete_item(
        TableName=table_name(), Key={"connectionId": {"S": connection_id}}
    )


def _error_code(err: Exception) -> str:
    if isinstance(err, ClientError):
        return err.response.get("Error", {}).get("Code", "Unknown")
    return type(err).__name__


def _deliver(client, connection_id: str, data: bytes) -> str:
    """Post one frame (see :func:`_post`) and, at DEBUG, log one line for it: the
    connection, the outcome and how long it took (removing a gone id included). API
    Gateway's logs do not list ``@connections`` calls; this line is how a trace sees them."""
    started = time.perf_counter()
    outcome = _post(client, connection_id, data)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug({"event": "post", "connectionId": connection_id, "outcome": outcome,
                      "ms": round((time.perf_counter() - started) * 1000, 1)})
    return outcome


def _post(client, connection_id: str, data: bytes) -> str:
    """Post one frame; on 410 remove exactly that id. Never raises for an AWS error, so one
    bad recipient cannot stop the others. Skips the post (and a stale id's removal) when the
    invocation has no time left to finish it."""
    if not has_time_for(POST_RESERVE_MS):
        return SKIPPED
    try:
        client.post_to_connection(ConnectionId=connection_id, Data=data)
        return DELIVERED
    # GoneException is a ClientError subclass: it must come first or it is never reached.
    except client.exceptions.GoneException:
        if not has_time_for(DELETE_RESERVE_MS):  # TTL, or the next broadcast, removes it
            logger.warning({"event": "stale_remove_skipped", "connectionId": connection_id,
                            "remainingMs": remaining_ms()})
            return FAILED
        try:
            delete_connection_item(connection_id)
        except (ClientError, BotoCoreError) as err:
            logger.warning(
                {"event": "stale_remove_failed", "connectionId": connection_id,
                 "errorCode": _error_code(err)}
            )
            return FAILED
        logger.info({"event": "stale_removed", "connectionId": connection_id})
        return STALE_REMOVED
    except (ClientError, BotoCoreError) as err:
        logger.warning(
            {"event": "post_failed", "connectionId": connection_id,
             "errorCode": _error_code(err)}
        )
        return FAILED


@dataclass
class FanOutResult:
    """What a fan-out did; the counts are also logged as one JSON line."""

    recipients: int = 0
    delivered: int = 0
    stale_removed: int = 0
    failed: int = 0
    skipped: int = 0  # not posted: the invocation was running out of time
    duration_ms: float = 0.0
    stale_ids: set[str] = field(default_factory=set)


def fan_out(
    endpoint: str, payload: dict, recipients: Iterable[str], *, kind: str, source: str
) -> FanOutResult:
    """Send ``payload`` to every id in ``recipients`` concurrently (bounded by the module's
    thread pool), drop ids the gateway reports gone, and log one summary line. Posts that
    could not finish before the invocation's timeout are not started (``skipped``).

    ``kind`` ("message", "presence" or "error") and ``source`` (the connection that caused
    it) only label the log line.
    """
    started = time.perf_counter()
    client = management_client(endpoint)
    data = encode(payload)
    targets = list(dict.fromkeys(recipients))  # de-duplicated, order kept
    result = FanOutResult(recipients=len(targets))
    futures = {_executor.submit(_deliver, client, cid, data): cid for cid in targets}
    for future in as_completed(futures):
        try:
            outcome = future.result()
        except Exception:  # a bug in _deliver: log it fully, still count the others
            logger.exception({"event": "post_crashed", "connectionId": futures[future]})
            outcome = FAILED
        if outcome == DELIVERED:
            result.delivered += 1
        elif outcome == STALE_REMOVED:
            result.stale_removed += 1
            result.stale_ids.add(futures[future])
        elif outcome == SKIPPED:
            result.skipped += 1
        else:
            result.failed += 1
    result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    logger.info(
        {"event": "broadcast", "kind": kind, "connectionId": source,
         "recipients": result.recipients, "delivered": result.delivered,
         "stale_removed": result.stale_removed, "failed": result.failed,
         "skipped": result.skipped, "duration_ms": result.duration_ms}
    )
    return result


def send_to_one(endpoint: str, connection_id: str, payload: dict) -> bool:
    """Best-effort reply to a single connection (an error frame to its sender)."""
    client = management_client(endpoint)
    outcome = _deliver(client, connection_id, encode(payload))
    return outcome == DELIVERED


def presence(event_name: str, name: str, at: str) -> dict:
    """The presence frame: ``{"type": "presence", "event": "join"|"leave", ...}``."""
    return {"type": "presence", "event": event_name, "name": name, "at": at}
