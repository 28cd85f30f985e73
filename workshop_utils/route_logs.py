"""Where to look when a chat frame got no answer: the route's function log, the execution log.

Introduced in notebook 04 (its first ``ChatRoom``), used by :mod:`workshop_utils.chat` when a
wait ends without the answer: the message then names the log groups that hold the reason, read
from the API itself (the route's integration and the stage's logging settings), so it is
right for any API, not only the workshop's.

- A route's Lambda integration writes to ``/aws/lambda/<function>`` (Lambda's log group).
- A stage with execution logging (``LoggingLevel`` ERROR or INFO, per stage in
  ``DefaultRouteSettings`` or per route in ``RouteSettings``) writes API Gateway's own account
  of each event to ``API-Gateway-Execution-Logs_<api-id>/<stage>`` (API Gateway Developer
  Guide, "Set up CloudWatch API logging in API Gateway": "the log group named
  API-Gateway-Execution-Logs_{rest-api-id}/{stage_name}"). That is where a missing invoke
  permission shows in words, since the function never ran.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from .target import Names, Target

LOGGING_ON = ("ERROR", "INFO")


def api_and_stage(url: str) -> tuple[str, str] | None:
    """``(api id, stage)`` of a stage URL: AWS's ``wss://<api>.execute-api.<region>.
    amazonaws.com/<stage>`` or the local cloud's ``ws://127.0.0.1:<port>/<api>/<stage>``."""
    parts = urlsplit(url)
    path = [p for p in parts.path.split("/") if p]
    host = parts.hostname or ""
    if ".execute-api." in host and path:
        return host.split(".", 1)[0], path[0]
    if len(path) >= 2:
        return path[0], path[1]
    return None


def execution_log_group(api_id: str, stage: str) -> str:
    """The log group of a stage's execution logs (named by API Gateway)."""
    return f"API-Gateway-Execution-Logs_{api_id}/{stage}"


def function_of_route(apigw: Any, api_id: str, route_key: str) -> str | None:
    """The name of the Lambda function behind ``route_key`` (or behind ``$default`` when no
    route has that key, as API Gateway routes it), or None."""
    routes = {r["RouteKey"]: r for page in apigw.get_paginator("get_routes").paginate(
        ApiId=api_id) for r in page.get("Items", [])}
    route = routes.get(route_key) or routes.get("$default")
    target = (route or {}).get("Target", "")
    if not target.startswith("integrations/"):
        return None
    uri = apigw.get_integration(ApiId=api_id, IntegrationId=target.split("/", 1)[1]).get(
        "IntegrationUri", "")
    # arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations
    marker = "/functions/"
    if marker not in uri:
        return None
    function_arn = uri.split(marker, 1)[1].removesuffix("/invocations")
    return function_arn.split(":function:", 1)[-1].split(":", 1)[0] or None


def logging_level(apigw: Any, api_id: str, stage: str, route_key: str) -> str:
    """The stage's execution logging level for ``route_key``: the route's own setting, else
    the stage's default (OFF when neither says)."""
    settings = apigw.get_stage(ApiId=api_id, StageName=stage)
    route = (settings.get("RouteSettings") or {}).get(route_key) or {}
    default = settings.get("DefaultRouteSettings") or {}
    return route.get("LoggingLevel") or default.get("LoggingLevel") or "OFF"


def where_to_look(target: Target | None, url: str, route_key: str) -> list[str]:
    """The log groups that say what happened to a frame sent on ``route_key`` at ``url``:
    the function's, and the execution log when the stage writes one. Without a target (or
    when the API cannot be read) a generic pointer."""
    found = api_and_stage(url)
    if target is None or found is None:
        return ["the route's function log group (/aws/lambda/<function>)"]
    api_id, stage = found
    apigw = target.client("apigatewayv2")
    places = []
    try:
        function = function_of_route(apigw, api_id, route_key)
        if function:
            places.append(f"{Names.function_log_group(function)} (the {route_key} route's "
                          "function)")
        if logging_level(apigw, api_id, stage, route_key) in LOGGING_ON:
            places.append(f"{execution_log_group(api_id, stage)} (API Gateway's execution log)")
    except (BotoCoreError, ClientError):
        pass
    return places or ["the route's function log group (/aws/lambda/<function>)"]
