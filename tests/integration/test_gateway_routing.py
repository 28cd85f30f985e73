"""SPEC-gateway "Route selection (messages)" and "What is served" (deployments)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud

from . import kit

FORBIDDEN = re.compile(r'^\{"message": "Forbidden", "connectionId":"[A-Za-z0-9_-]{15}=", '
                       r'"requestId":"[A-Za-z0-9_-]{15}="\}$')
INTERNAL = re.compile(r'^\{"message": "Internal server error", "connectionId":"'
                      r'[A-Za-z0-9_-]{15}=", "requestId":"[A-Za-z0-9_-]{15}="\}$')

TAGGED_SOURCE = """
import json, os

def handler(event, context):
    return {"statusCode": int(os.environ.get("STATUS", "200")),
            "body": os.environ["TAG"] + ":" + str(event.get("body"))}
"""

RAISE_SOURCE = """
def handler(event, context):
    raise ValueError("nope")
"""


def tagged(cloud: LocalCloud, tag: str, status: int = 200) -> str:
    """A function answering ``<tag>:<body>`` with ``status``: which route ran shows in the
    answer."""
    return kit.deploy_function(cloud, f"gwr-{tag}", TAGGED_SOURCE,
                               environment={"TAG": tag, "STATUS": str(status)})


async def answers(url: str, messages: list[str],
                  quiet: float = 0.4 * SECOND) -> list[str | None]:
    """Send each message and collect its answer (None when nothing comes within ``quiet``)."""
    out: list[str | None] = []
    async with connect(url, open_timeout=20 * SECOND) as ws:
        for message in messages:
            await ws.send(message)
            try:
                async with asyncio.timeout(quiet if "quiet" in message else 10 * SECOND):
                    out.append(await ws.recv())
            except TimeoutError:
                out.append(None)
    return out


@pytest.fixture(scope="module")
def chat_api(cloud: LocalCloud) -> dict[str, Any]:
    """Routes send/Send/$default by $request.body.action, all two-way."""
    return kit.build_websocket_api(
        cloud, "gwr-chat", {"send": tagged(cloud, "send"), "Send": tagged(cloud, "Send"),
                            "$default": tagged(cloud, "default")},
        two_way=("send", "Send", "$default"))


def test_route_selection_by_body_path_is_exact_and_case_sensitive(
        cloud: LocalCloud, chat_api: dict[str, Any]) -> None:
    """Rule: $request.body.<path>, exact case-sensitive match against route keys."""
    got = kit.run_async(answers(chat_api["url"], [
        '{"action": "send"}', '{"action": "Send"}', '{"action": "SEND"}',
        '{"action": "send "}']))
    assert [g.split(":", 1)[0] for g in got] == ["send", "Send", "default", "default"]


def test_missing_key_non_json_or_no_match_go_to_default(
        cloud: LocalCloud, chat_api: dict[str, Any]) -> None:
    """Rule: no match, a missing key, or a body that is not JSON: the $default route."""
    got = kit.run_async(answers(chat_api["url"], [
        '{"other": 1}', "not json at all", '["send"]', '"send"', '{"action": {"a": 1}}']))
    assert all(g and g.startswith("default:") for g in got), got


def test_nested_paths_braces_and_static_text_select_the_route(cloud: LocalCloud) -> None:
    """Rules: ${request.body.<path>} and several variables with static text; a missing path
    gives ""; a non-scalar value is stringified."""
    api = kit.build_websocket_api(
        cloud, "gwr-multi", {"chat/send": tagged(cloud, "cs"), "x/": tagged(cloud, "empty"),
                             '[1,2]/': tagged(cloud, "list"), "$default": tagged(cloud, "d2")},
        route_selection_expression="${request.body.kind}/$request.body.meta.op",
        two_way=("chat/send", "x/", "[1,2]/", "$default"))
    got = kit.run_async(answers(api["url"], [
        '{"kind": "chat", "meta": {"op": "send"}}', '{"kind": "x"}', '{"kind": [1, 2]}',
        '{"kind": "chat", "meta": {"op": "Send"}}']))
    assert [g.split(":", 1)[0] for g in got] == ["cs", "empty", "list", "d2"]


def test_no_route_and_no_default_sends_the_forbidden_frame_and_keeps_the_connection(
        cloud: LocalCloud) -> None:
    """Rule: no $default either: the exact Forbidden frame, nothing invoked, connection kept."""
    api = kit.build_websocket_api(cloud, "gwr-nodefault", {"send": tagged(cloud, "send")},
                                  two_way=("send",))
    first, second = kit.run_async(answers(api["url"], ['{"action": "nope"}',
                                                       '{"action": "send"}']))
    assert FORBIDDEN.match(first), first
    assert second == 'send:{"action": "send"}'


def test_an_api_with_no_routes_serves_nothing(cloud: LocalCloud) -> None:
    """Rules: an API with no routes cannot be deployed (an AutoDeploy stage has nothing
    deployed), so its handshake is refused with 403, and the gateway keeps serving others."""
    from websockets.exceptions import InvalidStatus

    empty = kit.build_mock_api(cloud, "gwr-empty", ())
    other = kit.build_mock_api(cloud, "gwr-not-empty")

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(empty["url"]):
                pass
        assert refused.value.response.status_code == 403

    kit.run_async(scenario())
    got = kit.run_async(answers(other["url"], ["hello"]))
    assert FORBIDDEN.match(got[0])


def test_integration_failure_sends_internal_server_error_and_keeps_the_connection(
        cloud: LocalCloud) -> None:
    """Rule: the integration raises or cannot be invoked: the exact Internal server error
    frame; the connection stays open."""
    raises = kit.deploy_function(cloud, "gwr-raise", RAISE_SOURCE)
    no_perm = tagged(cloud, "noperm")
    api = kit.build_websocket_api(cloud, "gwr-errors", {"boom": raises,
                                                        "$default": tagged(cloud, "ok")},
                                  two_way=("$default",))
    kit.build_websocket_api(cloud, "gwr-errors-noperm", {"x": no_perm}, permit=False)
    apigw = cloud.client("apigatewayv2")  # a route on api whose function forbids it
    integ = apigw.create_integration(ApiId=api["api_id"], IntegrationType="AWS_PROXY",
                                     IntegrationUri=kit.lambda_integration_uri(cloud.region,
                                                                               no_perm))
    apigw.create_route(ApiId=api["api_id"], RouteKey="denied",
                       Target=f"integrations/{integ['IntegrationId']}")
    deployment = apigw.create_deployment(ApiId=api["api_id"])["DeploymentId"]
    apigw.update_stage(ApiId=api["api_id"], StageName="test", DeploymentId=deployment)
    got = kit.run_async(answers(api["url"], ['{"action": "boom"}', '{"action": "denied"}',
                                             "still here"]))
    assert INTERNAL.match(got[0]) and INTERNAL.match(got[1]), got
    assert got[2] == "ok:still here"


def test_non_2xx_status_sends_nothing_and_one_way_routes_send_no_body(
        cloud: LocalCloud) -> None:
    """Rules: a returned non-2xx statusCode sends nothing; the body goes back only on a
    two-way route (RouteResponseSelectionExpression $default + a $default route response)."""
    api = kit.build_websocket_api(
        cloud, "gwr-bodies", {"bad": tagged(cloud, "bad", 400), "oneway": tagged(cloud, "one"),
                              "$default": tagged(cloud, "two")},
        two_way=("bad", "$default"))
    got = kit.run_async(answers(api["url"], ['{"action": "bad", "quiet": 1}',
                                             '{"action": "oneway", "quiet": 1}', "two-way"]))
    assert got == [None, None, "two:two-way"]


def test_a_body_goes_back_only_with_both_the_expression_and_the_route_response(
        cloud: LocalCloud) -> None:
    """Rule: two-way needs RouteResponseSelectionExpression $default AND a $default route
    response; a route with only one of them is one-way."""
    api = kit.build_websocket_api(cloud, "gwr-half", {"$default": tagged(cloud, "two")},
                                  two_way=("$default",), auto_deploy=True)
    apigw, lam = cloud.client("apigatewayv2"), cloud.client("lambda")
    half = tagged(cloud, "half")
    kit.allow_invoke_from_api(lam, half.rsplit(":", 1)[-1], cloud.region, "123456789012",
                              api["api_id"], statement_id=f"apigw-{api['api_id']}")
    target = "integrations/" + apigw.create_integration(
        ApiId=api["api_id"], IntegrationType="AWS_PROXY",
        IntegrationUri=kit.lambda_integration_uri(cloud.region, half))["IntegrationId"]
    response_only = apigw.create_route(ApiId=api["api_id"], RouteKey="responseonly",
                                       Target=target)
    apigw.create_route_response(ApiId=api["api_id"], RouteId=response_only["RouteId"],
                                RouteResponseKey="$default")
    apigw.create_route(ApiId=api["api_id"], RouteKey="expressiononly", Target=target,
                       RouteResponseSelectionExpression="$default")
    got = kit.run_async(answers(api["url"], ['{"action": "responseonly", "quiet": 1}',
                                             '{"action": "expressiononly", "quiet": 1}',
                                             "two-way"]))
    assert got == [None, None, "two:two-way"]


def test_messages_cannot_select_the_connect_and_disconnect_routes(cloud: LocalCloud) -> None:
    """$connect and $disconnect are called by the connection's life (AWS: "API Gateway calls
    the $disconnect route when the client or the server disconnects"); a message whose
    selection value is "$disconnect" goes to $default and disconnects nobody."""
    api = kit.build_websocket_api(
        cloud, "gwr-lifecycle",
        {"$connect": tagged(cloud, "life-connect"), "$disconnect": tagged(cloud, "life-gone"),
         "$default": tagged(cloud, "life-default")},
        two_way=("$default",))
    got = kit.run_async(answers(api["url"], ['{"action": "$disconnect"}',
                                             '{"action": "$connect"}', '{"action": "$default"}']))
    assert [g.split(":", 1)[0] for g in got] == ["life-default"] * 3, got


def test_routes_added_after_a_deployment_are_not_live_until_redeployed(
        cloud: LocalCloud) -> None:
    """Rule (What is served): a stage with a DeploymentId serves that deployment's routes."""
    api = kit.build_websocket_api(cloud, "gwr-deploy", {"$default": tagged(cloud, "old")},
                                  two_way=("$default",))
    apigw = cloud.client("apigatewayv2")
    fn = tagged(cloud, "new")
    integ = apigw.create_integration(ApiId=api["api_id"], IntegrationType="AWS_PROXY",
                                     IntegrationUri=kit.lambda_integration_uri(cloud.region, fn))
    route = apigw.create_route(ApiId=api["api_id"], RouteKey="new",
                               RouteResponseSelectionExpression="$default",
                               Target=f"integrations/{integ['IntegrationId']}")
    apigw.create_route_response(ApiId=api["api_id"], RouteId=route["RouteId"],
                                RouteResponseKey="$default")
    cloud.client("lambda").add_permission(
        FunctionName="gwr-new", StatementId=f"apigw-{api['api_id']}",
        Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{cloud.region}:123456789012:{api['api_id']}/*")
    [before] = kit.run_async(answers(api["url"], ['{"action": "new"}']))
    assert before.startswith("old:")
    deployment = apigw.create_deployment(ApiId=api["api_id"])["DeploymentId"]
    apigw.update_stage(ApiId=api["api_id"], StageName="test", DeploymentId=deployment)
    [after] = kit.run_async(answers(api["url"], ['{"action": "new"}']))
    assert after.startswith("new:")


def test_messages_of_one_connection_all_get_answers(cloud: LocalCloud,
                                                     chat_api: dict[str, Any]) -> None:
    """Each message is integrated on its own (AWS does not order concurrent invocations):
    a burst of messages gets one answer each, none lost."""

    async def scenario() -> list[str]:
        async with connect(chat_api["url"], open_timeout=20 * SECOND) as ws:
            for i in range(40):
                await ws.send(json.dumps({"action": "send", "n": i}))
            return [await ws.recv() for _ in range(40)]

    got = kit.run_async(scenario())
    numbers = sorted(json.loads(g.split(":", 1)[1])["n"] for g in got)
    assert numbers == list(range(40))
