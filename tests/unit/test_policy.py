"""policy.json allows every AWS call the handlers make, and nothing broader.

Two independent lists of calls: the ones recorded (botocore ``before-call``) while the handlers
run a whole chat session, and the ones found in ``lambda_src`` by reading its code (ast). Each
call is mapped to its IAM action and resource and checked against the rendered policy with a
small evaluator of Allow statements (``*`` and ``?`` wildcards, as IAM matches them).
"""

from __future__ import annotations

import ast
import json
import re
from urllib.parse import unquote, urlsplit

import boto3
import pytest

from workshop_utils.packaging import render_policy, trust_policy

PREFIX = "wschat"


def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern
    )
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allows(policy: dict, action: str, resource: str) -> bool:
    """IAM's answer for one identity-policy request: an explicit Deny wins, then any Allow."""
    verdicts = set()
    for statement in policy["Statement"]:
        if "NotAction" in statement or "NotResource" in statement or "Condition" in statement:
            raise AssertionError("the evaluator (and the workshop) use plain statements only")
        if any(_wildcard(a, ignore_case=True).fullmatch(action)
               for a in _as_list(statement["Action"])) and any(
            _wildcard(r, ignore_case=False).fullmatch(resource)
            for r in _as_list(statement["Resource"])
        ):
            verdicts.add(statement["Effect"])
    return "Deny" not in verdicts and "Allow" in verdicts


@pytest.fixture
def policy(settings) -> dict:
    return render_policy(
        region=settings.region, account_id=settings.account_id,
        table_name=settings.table_name, api_id=settings.api_id, stage=settings.stage,
        function_prefix=PREFIX,
    )


def iam_request(call, settings) -> tuple[str, str]:
    """(action, resource) that AWS authorizes for one recorded botocore call."""
    if call.service == "dynamodb":
        table = call.params["TableName"]
        return (f"dynamodb:{call.operation}",
                f"arn:aws:dynamodb:{settings.region}:{settings.account_id}:table/{table}")
    if call.service == "apigatewaymanagementapi":
        url = urlsplit(call.url)
        api_id, _, region, *_ = url.netloc.split(".")
        stage, marker, connection_id = url.path.lstrip("/").split("/", 2)
        assert marker == "@connections"
        return ("execute-api:ManageConnections",
                f"arn:aws:execute-api:{region}:{settings.account_id}:{api_id}/{stage}/"
                f"{call.method}/@connections/{unquote(connection_id)}")
    raise AssertionError(f"a call to {call.service} that the policy does not plan for")


def run_a_chat_session(chat, events, lambda_context) -> list:
    """Every path that calls AWS: connect (named, guest, refused), join, messages (with a
    stale and a failing recipient), a bad frame, disconnects (known and unknown)."""
    lam = lambda_context
    chat.connect.lambda_handler(events.load("connect"), lam)
    chat.connect.lambda_handler(events.load("connect_no_query"), lam)
    refused = events.load("connect")
    refused["queryStringParameters"] = {"name": "x" * 40}
    chat.connect.lambda_handler(refused, lam)
    chat.add("GONE=", "gone", announced=True)
    chat.add("DENIED=", "denied", announced=True)
    chat.gateway.gone.add("GONE=")
    chat.gateway.errors["DENIED="] = (403, "ForbiddenException")
    chat.broadcast.lambda_handler(events.load("join"), lam)
    chat.broadcast.lambda_handler(events.load("message"), lam)
    chat.broadcast.lambda_handler(events.message("Vx3kTe8aoAMCJ2g=", "{oops"), lam)
    chat.disconnect.lambda_handler(events.load("disconnect"), lam)
    chat.disconnect.lambda_handler(events.disconnect("NEVER-SEEN="), lam)
    return chat.recorder.calls


def test_every_recorded_call_is_allowed(chat, events, lambda_context, policy, settings):
    calls = run_a_chat_session(chat, events, lambda_context)
    used = {(c.service, c.operation) for c in calls}
    assert used == {
        ("dynamodb", "PutItem"), ("dynamodb", "GetItem"), ("dynamodb", "UpdateItem"),
        ("dynamodb", "Scan"), ("dynamodb", "DeleteItem"),
        ("apigatewaymanagementapi", "PostToConnection"),
    }
    for call in calls:
        action, resource = iam_request(call, settings)
        assert allows(policy, action, resource), f"{action} on {resource} is denied"


def static_calls(lambda_src) -> set[tuple[str, str, str]]:
    """(service, operation, HTTP method) of every client method that ``lambda_src`` calls."""
    clients = [boto3.client("dynamodb", region_name="us-east-1"),
               boto3.client("apigatewaymanagementapi", region_name="us-east-1",
                            endpoint_url="https://x.execute-api.us-east-1.amazonaws.com/s")]
    methods = {}
    for client in clients:
        model = client.meta.service_model
        for method, operation in client.meta.method_to_api_mapping.items():
            http_method = model.operation_model(operation).http["method"]
            methods[method] = (model.service_name, operation, http_method)
    found = set()
    for path in lambda_src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in methods:
                    found.add(methods[node.func.attr])
    return found


def test_every_call_in_the_code_is_allowed_and_was_exercised(
    chat, events, lambda_context, policy, settings
):
    in_code = static_calls(settings.lambda_src)
    recorded = {(c.service, c.operation, c.method)
                for c in run_a_chat_session(chat, events, lambda_context)}
    assert in_code == recorded  # the session above reaches every call the code can make
    for service, operation, method in in_code:
        if service == "dynamodb":
            action = f"dynamodb:{operation}"
            resource = (f"arn:aws:dynamodb:us-east-1:{settings.account_id}:table/"
                        f"{settings.table_name}")
        else:
            action = "execute-api:ManageConnections"
            resource = (f"arn:aws:execute-api:us-east-1:{settings.account_id}:"
                        f"{settings.api_id}/{settings.stage}/{method}/@connections/ID=")
        assert allows(policy, action, resource)


@pytest.mark.parametrize("function", ["connect", "disconnect", "broadcast"])
def test_the_functions_can_write_their_own_logs(policy, settings, function):
    group = f"arn:aws:logs:{settings.region}:{settings.account_id}:log-group:/aws/lambda/" \
            f"{PREFIX}-{function}"
    stream = f"{group}:log-stream:2026/11/25/[$LATEST]0123456789abcdef0123456789abcdef"
    assert allows(policy, "logs:CreateLogGroup", group)
    assert allows(policy, "logs:CreateLogStream", stream)
    assert allows(policy, "logs:PutLogEvents", stream)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:123456789012:table/other-table"),
        ("dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/wschat-connections"),
        ("dynamodb:DeleteTable",
         "arn:aws:dynamodb:us-east-1:123456789012:table/wschat-connections"),
        ("dynamodb:Scan",
         "arn:aws:dynamodb:us-east-1:123456789012:table/wschat-connections/index/byName"),
        ("dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/wschat-connections"),
        ("execute-api:ManageConnections",
         "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/DELETE/@connections/X="),
        ("execute-api:ManageConnections",
         "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/@connections/X="),
        ("execute-api:ManageConnections",
         "arn:aws:execute-api:us-east-1:123456789012:zzzzzzzzzz/prod/POST/@connections/X="),
        ("execute-api:ManageConnections",
         "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/POST/@connections/X="),
        ("execute-api:Invoke",
         "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/X="),
        ("logs:PutLogEvents",
         "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/someone-else:log-stream:s"),
        ("logs:DeleteLogGroup",
         "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/wschat-connect"),
        # prefix wschat-alice extends wschat: wschat's functions must not write her logs
        ("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:"
         "/aws/lambda/wschat-alice-connect:log-stream:s"),
        ("logs:CreateLogGroup",
         "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/wschat-alice-broadcast"),
    ],
)
def test_what_the_code_does_not_need_is_denied(policy, action, resource):
    assert not allows(policy, action, resource)


def test_nothing_broader_than_needed(policy, settings):
    dynamodb_actions = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = _as_list(statement["Action"])
        resources = _as_list(statement["Resource"])
        assert all("*" not in action for action in actions), actions
        assert all(resource != "*" for resource in resources), resources
        services = {action.split(":")[0] for action in actions}
        assert len(services) == 1, "one service per statement, on that service's ARNs only"
        (service,) = services
        for resource in resources:
            assert resource.startswith(
                f"arn:aws:{service}:{settings.region}:{settings.account_id}:"
            ), resource
        if service == "dynamodb":
            dynamodb_actions |= set(actions)
            assert resources == [
                f"arn:aws:dynamodb:{settings.region}:{settings.account_id}:table/"
                f"{settings.table_name}"
            ]
        elif service == "execute-api":
            assert actions == ["execute-api:ManageConnections"]
            assert all("/POST/@connections/" in r for r in resources)
        else:
            assert service == "logs"
            assert set(actions) == {"logs:CreateLogGroup", "logs:CreateLogStream",
                                    "logs:PutLogEvents"}
            groups = {f"arn:aws:logs:{settings.region}:{settings.account_id}:log-group:"
                      f"/aws/lambda/{PREFIX}-{kind}" for kind in ("connect", "disconnect",
                                                                  "broadcast")}
            assert set(resources) == groups | {f"{g}:*" for g in groups}  # exact, no prefix
    used = {f"dynamodb:{op}" for svc, op, _ in static_calls(settings.lambda_src)
            if svc == "dynamodb"}
    assert dynamodb_actions == used  # exactly the DynamoDB actions the code calls


def test_the_policies_are_valid_iam_documents(policy):
    from moto import mock_aws

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_policy(PolicyName="chat", PolicyDocument=json.dumps(policy))
        iam.create_role(RoleName="chat", AssumeRolePolicyDocument=json.dumps(trust_policy()))


def test_the_role_trusts_lambda_only():
    (statement,) = trust_policy()["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
