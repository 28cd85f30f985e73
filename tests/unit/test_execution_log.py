"""Execution logging's rules that need no cloud: which level a route logs at, what an event's log
keeps at each level, API Gateway's 1 KB cut, and the trust and settings checks logging needs.

Sources are in the modules' docstrings (``gateway/execution_log.py``, ``apigateway/models.py``,
``iam/trust_policies.py``); the running gateway is checked in
``tests/integration/test_execution_logs.py``.
"""

from __future__ import annotations

import asyncio
import json
from types import MappingProxyType, SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from moto.core.exceptions import JsonRESTError

from tests.timing import SECOND
from workshop_utils.localcloud.apigatewayv2.models import turns_logging_on
from workshop_utils.localcloud.apigatewayv2.stages import IntegrationView, RouteView, StageView
from workshop_utils.localcloud.gateway.execution_log import (
    ERROR,
    INFO,
    OFF,
    EventLog,
    ExecutionLog,
    java_map,
    truncated,
)
from workshop_utils.localcloud.gateway.info import ConnectionInfo
from workshop_utils.localcloud.gateway.integrations import Integrations
from workshop_utils.localcloud.iam.trust_policies import service_may_assume

APIGATEWAY = "apigateway.amazonaws.com"
INFO_CONN = ConnectionInfo(connection_id="BFHPhfCWIAMCKlQ=", api_id="a1b2c3d4e5", stage="prod",
                           region="us-east-1", account_id="123456789012", connected_at_ms=0,
                           source_ip="127.0.0.1", user_agent=None, headers=(), query=None)


def view(default: dict[str, Any] | None = None,
         per_route: dict[str, dict[str, Any]] | None = None) -> StageView:
    """A stage view with these DefaultRouteSettings and RouteSettings (botocore's names), its
    ``execution_logging`` flag set as the deployment store sets it."""
    levels = [s.get("LoggingLevel") for s in [default or {}, *(per_route or {}).values()]]
    return StageView(
        api_id="a1b2c3d4e5", api_name="chat", stage_name="prod",
        route_selection_expression="$request.body.action", routes=MappingProxyType({}),
        deployment_id="of9zuj",
        default_route_settings=MappingProxyType(default or {}),
        route_settings=MappingProxyType({k: MappingProxyType(v)
                                         for k, v in (per_route or {}).items()}),
        execution_logging=any(level in ("ERROR", "INFO") for level in levels))


def test_a_route_logs_at_its_own_level_else_at_the_stage_default() -> None:
    """RouteSettings[routeKey] overrides DefaultRouteSettings key by key; no setting, an
    unknown value or OFF log nothing."""
    stage = view({"LoggingLevel": "ERROR", "DataTraceEnabled": True},
                 {"loud": {"LoggingLevel": "INFO"}, "quiet": {"LoggingLevel": "OFF"},
                  "traced": {"DataTraceEnabled": False}})
    assert ExecutionLog.level_of(stage, "loud") == INFO
    assert ExecutionLog.level_of(stage, "quiet") == OFF
    assert ExecutionLog.level_of(stage, "traced") == ERROR  # its level comes from the default
    assert ExecutionLog.level_of(stage, "$default") == ERROR
    assert ExecutionLog.level_of(stage, None) == ERROR  # no route selected: the default
    assert ExecutionLog.level_of(view(), "$default") == OFF
    assert ExecutionLog.level_of(view({"LoggingLevel": "VERBOSE"}), "$default") == OFF
    loud = ExecutionLog(parts=None).begin(stage, "loud", INFO_CONN, "R", "MESSAGE")  # type: ignore[arg-type]
    assert loud is not None and loud.data_trace  # DataTraceEnabled from the default
    traced = ExecutionLog(parts=None).begin(  # type: ignore[arg-type]
        view({"LoggingLevel": "INFO", "DataTraceEnabled": True},
             {"traced": {"DataTraceEnabled": False}}), "traced", INFO_CONN, "R", "MESSAGE")
    assert traced is not None and not traced.data_trace


def test_with_logging_off_no_event_log_is_made() -> None:
    """OFF (the default of every WebSocket stage) costs a level check: begin() returns None,
    so nothing is formatted or kept for the event."""
    off = ExecutionLog(parts=None)  # type: ignore[arg-type]
    stage = view({"DataTraceEnabled": False, "DetailedMetricsEnabled": False,
                  "LoggingLevel": "OFF"})
    assert off.begin(stage, "$default", INFO_CONN, "R", "MESSAGE") is None
    assert off.begin(stage, None, INFO_CONN, "R", "MESSAGE") is None


def test_the_opening_lines_name_the_request_the_route_and_the_client() -> None:
    """INFO opens an event with its request id, route and client, each line prefixed with the
    request id in parentheses (REST's observed lines, the WebSocket ones emulator-claimed)."""
    trace = ExecutionLog(parts=None).begin(  # type: ignore[arg-type]
        view({"LoggingLevel": "INFO"}), "$connect", INFO_CONN, "VwU2MGFUrPEFV_g=", "CONNECT")
    assert trace is not None
    assert [line for _, line in trace.lines] == [
        "(VwU2MGFUrPEFV_g=) Extended Request Id: VwU2MGFUrPEFV_g=",
        "(VwU2MGFUrPEFV_g=) Starting execution for request: VwU2MGFUrPEFV_g=",
        "(VwU2MGFUrPEFV_g=) WebSocket Request Route: [$connect]",
        "(VwU2MGFUrPEFV_g=) Client [UserAgent: null, SourceIp: 127.0.0.1] is connecting to "
        "WebSocket API [a1b2c3d4e5].",
    ]


def test_error_level_keeps_only_a_failed_event_s_error_lines() -> None:
    """ERROR writes a failing event's error lines and its Lambda request id, nothing of a
    successful one; INFO writes both kinds; data-trace lines need INFO."""
    ok = EventLog("R", "a1b2c3d4e5", ERROR, data_trace=True)
    ok.info("Sending request to https://lambda.us-east-1.amazonaws.com/…")
    ok.data("Endpoint request body after transformations: {}")
    ok.endpoint_request_id = "7195-lambda"
    ok.endpoint_request_id_line()
    assert ok.lines == [] and not ok.data_trace
    failed = EventLog("R", "a1b2c3d4e5", ERROR, data_trace=False)
    failed.info("Received response. Status: 200, Integration latency: 3 ms")
    failed.endpoint_request_id = "7195-lambda"
    failed.error("Lambda execution failed with status 200 due to customer function error: x. "
                 "Lambda request id: 7195-lambda")
    failed.endpoint_request_id_line()
    assert [line for _, line in failed.lines] == [
        "(R) Lambda execution failed with status 200 due to customer function error: x. "
        "Lambda request id: 7195-lambda",
        "(R) AWS Integration Endpoint RequestId : 7195-lambda",
    ]
    verbose = EventLog("R", "a1b2c3d4e5", INFO, data_trace=True)
    verbose.info("Sending request to x")
    verbose.data("Endpoint request body after transformations: {}")
    assert len(verbose.lines) == 2


def test_a_line_is_cut_at_1_kb_on_a_character_boundary() -> None:
    """API Gateway truncated execution-log events to 1 KB (AWS What's New, 2026-09-10) and marks
    the cut with ' [TRUNCATED]'; a multi-byte character is never split."""
    assert truncated("x" * 1024) == "x" * 1024
    assert truncated("x" * 3000) == "x" * 1024 + " [TRUNCATED]"
    cut = truncated("x" * 1023 + "é" * 10)  # 'é' is two bytes: the first would straddle 1024
    assert cut == "x" * 1023 + " [TRUNCATED]"
    assert len(truncated("é" * 1000).removesuffix(" [TRUNCATED]").encode()) == 1024


def test_headers_are_printed_as_java_maps() -> None:
    """Headers appear as API Gateway prints them: {K=V, K=V} (the observed REST lines)."""
    assert java_map([("Accept", "application/json"), ("X-Amz-Executed-Version", "$LATEST")]) == (
        "{Accept=application/json, X-Amz-Executed-Version=$LATEST}")


def _trust(principal: Any, action: Any = "sts:AssumeRole", effect: str = "Allow",
           condition: dict | None = None) -> dict:
    statement = {"Effect": effect, "Principal": principal, "Action": action}
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.mark.parametrize(("document", "expected"), [
    (_trust({"Service": APIGATEWAY}), True),
    (_trust({"Service": ["lambda.amazonaws.com", APIGATEWAY]}), True),
    (_trust({"Service": APIGATEWAY}, action=["sts:AssumeRole", "sts:TagSession"]), True),
    (_trust({"Service": APIGATEWAY}, action="sts:*"), True),
    (_trust("*"), True),
    (_trust({"Service": "lambda.amazonaws.com"}), False),
    (_trust({"Service": APIGATEWAY}, action="sts:AssumeRoleWithWebIdentity"), False),
    (_trust({"AWS": "arn:aws:iam::123456789012:root"}), False),
    ({"Version": "2012-10-17", "Statement": [
        _trust({"Service": APIGATEWAY})["Statement"][0],
        _trust({"Service": APIGATEWAY}, effect="Deny")["Statement"][0]]}, False),
    (quote(json.dumps(_trust({"Service": APIGATEWAY}))), True),  # moto may keep it URL-encoded
    ("not json", False),
    (_trust({"Service": APIGATEWAY},
            condition={"StringEquals": {"aws:SourceAccount": "123456789012"}}), True),
    (_trust({"Service": APIGATEWAY},
            condition={"StringEquals": {"aws:SourceAccount": "111122223333"}}), False),
    (_trust({"Service": APIGATEWAY},
            condition={"ArnLike": {"aws:SourceArn": "arn:aws:execute-api:*"}}), False),
], ids=["service", "one-of-services", "actions-list", "sts-wildcard", "anyone", "other-service",
        "other-action", "account-principal", "deny-wins", "url-encoded", "garbage",
        "own-account-condition", "other-account-condition", "source-arn-condition"])
def test_a_trust_policy_lets_api_gateway_assume_the_role(document: Any, expected: bool) -> None:
    """A role is API Gateway's to assume when an Allow statement names its service principal
    (or anyone) with sts:AssumeRole and its conditions hold, and no Deny statement does (IAM
    User Guide). For the account's CloudWatch role API Gateway acts for the account: an
    aws:SourceAccount condition of that account holds, one on aws:SourceArn does not (chosen:
    the role serves every API, so no one source ARN)."""
    raw = document if isinstance(document, str) else json.dumps(document)
    assert service_may_assume(raw, APIGATEWAY, account_id="123456789012") is expected


@pytest.mark.parametrize(("body", "expected"), [
    ({"accessLogSettings": {"destinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:a",
                            "format": "$context.requestId"}}, True),
    ({"accessLogSettings": {}}, False),
    ({"defaultRouteSettings": {"loggingLevel": "INFO"}}, True),
    ({"defaultRouteSettings": {"loggingLevel": "ERROR"}}, True),
    ({"defaultRouteSettings": {"loggingLevel": "OFF", "dataTraceEnabled": True}}, False),
    ({"routeSettings": {"sendmessage": {"loggingLevel": "ERROR"}}}, True),
    ({"routeSettings": {"sendmessage": {"throttlingBurstLimit": 10}}}, False),
    ({"description": "no logging here"}, False),
], ids=["access-log", "access-log-cleared", "info", "error", "off-with-data-trace",
        "per-route", "per-route-no-logging", "unrelated"])
def test_what_counts_as_turning_logging_on(body: dict[str, Any], expected: bool) -> None:
    """Access logging (a destination) and execution logging (LoggingLevel ERROR or INFO, on the
    stage or on a route) need the account's role; OFF, even with data trace, does not (chosen)."""
    assert turns_logging_on(body) is expected


class _TooManyRequests(JsonRESTError):
    """Lambda's answer to an Invoke past the function's concurrency (botocore's model:
    TooManyRequestsException, 429; observed body message "Rate Exceeded.")."""

    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")


class _RefusingRuntime:
    async def invoke(self, function: str, payload: bytes) -> Any:
        raise _TooManyRequests()


def test_an_invoke_lambda_refuses_is_logged_as_rest_logs_a_throttle() -> None:
    """Lambda refuses the Invoke (a throttle's 429, or any error the runtime raises in Lambda's
    wire form): "Lambda invocation failed with status: 429. Lambda request id: <id>" then
    "Execution failed due to configuration error: Rate Exceeded." (a 2025 REST capture,
    find_string id 31159485353); the client gets the integration failure."""
    parts = SimpleNamespace(
        settings=SimpleNamespace(region="us-east-1",
                                 limits=SimpleNamespace(integration_timeout_s=29 * SECOND)),
        runtime=_RefusingRuntime())
    integrations = Integrations(parts)  # type: ignore[arg-type]
    integrations.permissions = SimpleNamespace(check=lambda fn, arn: None)  # type: ignore[assignment]
    fn = "arn:aws:lambda:us-east-1:123456789012:function:chat-broadcast"
    route = RouteView(route_id="r1", route_key="$default", integration=IntegrationView(
        integration_id="i1", integration_type="AWS_PROXY", integration_uri="uri",
        function_arn=fn))
    trace = EventLog("R", "a1b2c3d4e5", ERROR, data_trace=False)
    outcome = asyncio.run(integrations.call(route, "arn:aws:execute-api:…", {}, trace))
    assert outcome.error is not None and outcome.request_id is not None
    trace.endpoint_request_id_line()
    assert [line for _, line in trace.lines] == [
        f"(R) Lambda invocation failed with status: 429. Lambda request id: "
        f"{outcome.request_id}",
        "(R) Execution failed due to configuration error: Rate Exceeded.",
        f"(R) AWS Integration Endpoint RequestId : {outcome.request_id}",
    ]
