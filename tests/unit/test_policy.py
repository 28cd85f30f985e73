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

from workshop_utils.packaging import render_authorizer_policy, render_policy, trust_policy

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
    """policy.json rendered for the names every test event uses."""
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
    """Each AWS call the handlers made in a whole chat session is allowed by the policy, on
    the table and the @connections resource it named."""
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
    """Each client method lambda_src calls is allowed by the policy, and the chat session
    above makes every one of them (so the first test misses none)."""
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
    """Each function may create streams in its own log group and put events in them, but not
    create the group: notebook 03 (and ``stack.ensure_log_group``) makes it first, tagged and
    with a retention, so a group Lambda would make untagged and kept forever never appears."""
    group = f"arn:aws:logs:{settings.region}:{settings.account_id}:log-group:/aws/lambda/" \
            f"{PREFIX}-{function}"
    stream = f"{group}:log-stream:2026/11/25/[$LATEST]0123456789abcdef0123456789abcdef"
    assert not allows(policy, "logs:CreateLogGroup", group)
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
    """Another table, an index, another region, API, stage or @connections method, another
    function's logs, and actions the code never calls are all denied."""
    assert not allows(policy, action, resource)


def test_nothing_broader_than_needed(policy, settings):
    """No wildcard actions or "*" resources, one service per statement on that service's ARNs
    in this account and region, and exactly the DynamoDB actions the code calls."""
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
            assert set(actions) == {"logs:CreateLogStream", "logs:PutLogEvents"}
            groups = {f"arn:aws:logs:{settings.region}:{settings.account_id}:log-group:"
                      f"/aws/lambda/{PREFIX}-{kind}" for kind in ("connect", "disconnect",
                                                                  "broadcast")}
            assert set(resources) == groups | {f"{g}:*" for g in groups}  # exact, no prefix
    used = {f"dynamodb:{op}" for svc, op, _ in static_calls(settings.lambda_src)
            if svc == "dynamodb"}
    assert dynamodb_actions == used  # exactly the DynamoDB actions the code calls


def test_the_policies_are_valid_iam_documents(policy):
    """IAM accepts the rendered policy and the trust policy and stores them as written, while
    the same validation refuses a broken copy of each (MalformedPolicyDocument).

    moto runs IAM's policy grammar checks (AWS: "IAM JSON policy elements reference",
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html; a trust
    policy may hold only sts:AssumeRole* actions and no Resource) on create_policy and on
    update_assume_role_policy, not on create_role (which AWS does check), so the trust policy
    goes through update_assume_role_policy; the broken copies show the checks really run.
    """
    from moto import mock_aws

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        arn = iam.create_policy(PolicyName="chat", PolicyDocument=json.dumps(policy))[
            "Policy"]["Arn"]
        stored = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
        assert stored["Document"] == policy
        iam.create_role(RoleName="chat", AssumeRolePolicyDocument=json.dumps(trust_policy()))
        iam.update_assume_role_policy(RoleName="chat", PolicyDocument=json.dumps(trust_policy()))
        role = iam.get_role(RoleName="chat")["Role"]
        assert role["AssumeRolePolicyDocument"] == trust_policy()

        misspelt = json.loads(json.dumps(policy))
        misspelt["Statement"][0]["Effect"] = "Allowed"
        with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
            iam.create_policy(PolicyName="misspelt", PolicyDocument=json.dumps(misspelt))
        with_resource = trust_policy()
        with_resource["Statement"][0]["Resource"] = "*"
        with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
            iam.update_assume_role_policy(RoleName="chat",
                                          PolicyDocument=json.dumps(with_resource))


def test_the_role_trusts_lambda_only():
    """The trust policy has one statement: Lambda's service principal may assume the role."""
    (statement,) = trust_policy()["Statement"]
    assert statement == {
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }


# --- the authorizer's own role: lambda_src/authorizer-policy.json ------------------------

SECRET_PARAMETER = "wschat-chat-token-secret"


@pytest.fixture
def authorizer_policy(settings) -> dict:
    return render_authorizer_policy(
        region=settings.region, account_id=settings.account_id,
        parameter_name=SECRET_PARAMETER, function_name=f"{PREFIX}-authorizer",
    )


def parameter_arn(settings, name: str = SECRET_PARAMETER) -> str:
    """The ARN IAM checks for ssm:GetParameter on a parameter whose name has no "/"."""
    return f"arn:aws:ssm:{settings.region}:{settings.account_id}:parameter/{name}"


def authorizer_static_calls(lambda_src) -> set[tuple[str, str]]:
    """(service, operation) of every AWS call the authorizer's code can make: the services of
    its ``boto3.client("…")`` calls, and those clients' methods that the code calls."""
    trees = [ast.parse(p.read_text(encoding="utf-8"))
             for p in (lambda_src / "authorizer").glob("*.py")]
    calls = [n for tree in trees for n in ast.walk(tree)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
    services = {c.args[0].value for c in calls
                if c.func.attr == "client" and c.args and isinstance(c.args[0], ast.Constant)}
    methods = {}
    for service in services:
        client = boto3.client(service, region_name="us-east-1")
        for method, operation in client.meta.method_to_api_mapping.items():
            methods[method] = (service, operation)
    return {methods[c.func.attr] for c in calls if c.func.attr in methods}


def test_every_authorizer_call_is_allowed(authorizer, lambda_context, authorizer_policy,
                                          settings):
    """Every AWS call the authorizer makes, recorded and read from its code, is GetParameter on its
    own parameter, which its policy allows."""
    authorizer.app.lambda_handler(authorizer.request(authorizer.sign("alice")), lambda_context)
    authorizer.app.lambda_handler(authorizer.request("v1.x.1.y"), lambda_context)
    recorded = {(c.service, c.operation) for c in authorizer.recorder.calls}
    assert recorded == authorizer_static_calls(settings.lambda_src) == {("ssm", "GetParameter")}
    for call in authorizer.recorder.calls:
        assert call.params["Name"] == SECRET_PARAMETER
        assert allows(authorizer_policy, "ssm:GetParameter", parameter_arn(settings))


def test_the_authorizer_can_write_only_its_own_logs(authorizer_policy, settings):
    """The authorizer's policy allows writing log streams of its own log group only, not another
    function's or a longer name's."""
    logs_arn = f"arn:aws:logs:{settings.region}:{settings.account_id}:log-group:/aws/lambda/"
    stream = ":log-stream:2026/11/25/[$LATEST]0123456789abcdef0123456789abcdef"
    assert allows(authorizer_policy, "logs:CreateLogGroup", f"{logs_arn}{PREFIX}-authorizer")
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        assert allows(authorizer_policy, action, f"{logs_arn}{PREFIX}-authorizer{stream}")
        assert not allows(authorizer_policy, action, f"{logs_arn}{PREFIX}-connect{stream}")
        assert not allows(authorizer_policy, action,
                          f"{logs_arn}{PREFIX}-authorizer-other{stream}")


@pytest.mark.parametrize(("action", "resource"), [
    ("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/wschat2-chat-token-secret"),
    ("ssm:GetParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/wschat-chat-token-secret2"),
    ("ssm:GetParameter", "arn:aws:ssm:eu-west-1:123456789012:parameter/wschat-chat-token-secret"),
    ("ssm:GetParameters", "arn:aws:ssm:us-east-1:123456789012:parameter/wschat-chat-token-secret"),
    ("ssm:PutParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/wschat-chat-token-secret"),
    ("ssm:GetParametersByPath", "arn:aws:ssm:us-east-1:123456789012:parameter/"),
    ("dynamodb:Scan", "arn:aws:dynamodb:us-east-1:123456789012:table/wschat-connections"),
    ("execute-api:ManageConnections",
     "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/POST/@connections/X="),
    ("kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
])
def test_what_the_authorizer_does_not_need_is_denied(authorizer_policy, action, resource):
    """Other parameters, regions, SSM actions, the table, @connections and KMS are denied to the
    authorizer."""
    assert not allows(authorizer_policy, action, resource)


def test_the_authorizer_policy_is_nothing_broader(authorizer_policy, settings):
    """Every statement allows one service's actions without wildcards: GetParameter on one
    parameter, or logs on the authorizer's own group."""
    for statement in authorizer_policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions, resources = _as_list(statement["Action"]), _as_list(statement["Resource"])
        assert all("*" not in action for action in actions)
        services = {action.split(":")[0] for action in actions}
        assert len(services) == 1
        if services == {"ssm"}:
            assert actions == ["ssm:GetParameter"]
            assert resources == [parameter_arn(settings)]  # one parameter, no wildcard
        else:
            assert services == {"logs"}
            assert all(r.split(":log-group:")[1].rstrip(":*") == f"/aws/lambda/{PREFIX}-authorizer"
                       for r in resources)


def test_the_chat_functions_cannot_read_the_signing_secret(policy, settings):
    """Whoever reads the secret can mint a token for any name: the chat's role cannot."""
    assert not allows(policy, "ssm:GetParameter", parameter_arn(settings))


def test_the_authorizer_policy_is_a_valid_iam_document(authorizer_policy):
    """IAM accepts the rendered authorizer policy and stores it as written, while a broken copy is
    refused (MalformedPolicyDocument)."""
    from moto import mock_aws

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        arn = iam.create_policy(PolicyName="authorizer",
                                PolicyDocument=json.dumps(authorizer_policy))["Policy"]["Arn"]
        stored = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
        assert stored["Document"] == authorizer_policy
        misspelt = json.loads(json.dumps(authorizer_policy))
        misspelt["Statement"][0]["Effect"] = "Allowed"
        with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
            iam.create_policy(PolicyName="misspelt", PolicyDocument=json.dumps(misspelt))
