"""API Gateway's own log deliveries: a stage's access and execution logs, with the account's role.

API Gateway writes both through the account-level CloudWatch role (``apigateway
update_account``, :mod:`..apigateway.models`): it assumes the role and writes with its
permissions. So here, as for a function's own logs (:mod:`..awslambda.runtime.logdelivery`): a
role that is unset, gone or without ``logs:`` permissions loses the lines and the API works on.

Where they go:
- the execution log: group ``API-Gateway-Execution-Logs_{apiId}/{stageName}`` (documented for
  REST APIs, API Gateway Developer Guide ``set-up-logging.md``; the WebSocket logging page
  sends readers there), created when logging is turned on ("After you turn on logging, API
  Gateway automatically creates a CloudWatch log group", Knowledge Center
  ``api-gateway-logs``);
- the access log: the group of the stage's ``AccessLogSettings.DestinationArn``.

Stream names are 32 lower-case hex characters, as observed in REST execution logs
(``e369853df766fa44e1ed0ff613f563bd``); one stream per stage, stable across restarts (chosen:
AWS writes several, one per host).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..apigateway.models import SESSION_NAME, cloudwatch_role_arn

if TYPE_CHECKING:
    from ..parts import CloudParts

log = logging.getLogger(__name__)


def execution_log_group(api_id: str, stage_name: str) -> str:
    """The execution log group of a stage, named as API Gateway names it."""
    return f"API-Gateway-Execution-Logs_{api_id}/{stage_name}"


def stream_of(api_id: str, stage_name: str) -> str:
    """The stage's log stream: 32 lower-case hex characters, like AWS's."""
    return hashlib.md5(f"{api_id}/{stage_name}".encode()).hexdigest()


def _denial(parts: CloudParts, group: str, stream: str, region: str) -> str | None:
    role_arn = cloudwatch_role_arn(parts, region)
    if role_arn is None:
        return "the account has no API Gateway CloudWatch role (apigateway update_account)"
    return parts.identity_policies.log_delivery_denial(
        role_arn, SESSION_NAME, group, stream, region,
        group_exists=parts.logs.has_group(group, region))


def deliver(parts: CloudParts, group: str, stream: str, region: str,
            events: Sequence[tuple[int, str]]) -> None:
    """Append ``events`` to ``stream`` of ``group`` with the account's role; lost (and said so
    in the cloud's own log) when the role may not write them."""
    if not events:
        return
    denied = _denial(parts, group, stream, region)
    if denied is not None:
        log.warning("API Gateway logs for %s not delivered: %s", group, denied)
        return
    parts.logs.put(group, stream, events, region=region)


def create_execution_log(parts: CloudParts, api_id: str, stage_name: str, region: str) -> None:
    """Make the stage's execution log group and stream, as API Gateway does when logging is
    turned on (so a learner's first ``filter_log_events`` finds the group, empty)."""
    group = execution_log_group(api_id, stage_name)
    stream = stream_of(api_id, stage_name)
    denied = _denial(parts, group, stream, region)
    if denied is not None:
        log.warning("API Gateway could not create %s: %s", group, denied)
        return
    parts.logs.ensure_stream(group, stream, region)
