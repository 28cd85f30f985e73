"""The classroom's IAM policies (``docs/classroom/``): real actions, scoped to the learner, no
way to mint an admin role, and learners whose prefixes extend one another kept apart.

Sources for what AWS authorizes (also cited in ``docs/classroom/README.md``):
- action names: botocore's service models (operation names), where IAM's action has the API
  operation's name; the exceptions are listed with their source in ``RENAMED`` below;
- actions without resource-level permissions: the Service Authorization Reference's Actions
  tables (no resource type for ``dynamodb:ListTables``, ``lambda:ListFunctions``,
  ``iam:ListRoles``, ``tag:GetResources``);
- ``iam:PermissionsBoundary`` on ``iam:CreateRole``: IAM User Guide, "Permissions boundaries for
  IAM entities" (delegating role creation to a boundary);
- API Gateway V2 child resources (routes, integrations, authorizers, deployments) carry no
  tags (CreateAuthorizer, like CreateRoute, has no ``Tags`` in the apigatewayv2 model) and, unlike
  V1's, do not inherit the API's for attribute-based access control: API Gateway developer
  guide, "API Gateway resources that can be tagged";
- a managed policy holds at most 6,144 characters, whitespace not counted: IAM User Guide, "IAM
  and AWS STS quotas".
"""

from __future__ import annotations

import json

import botocore.session
import pytest

from tests.iampolicy import (
    BOUNDARY_NAME,
    BOUNDARY_POLICY,
    EXECUTION_LOGS_POLICY,
    FUNCTION_KINDS,
    LEARNER_POLICY,
    Request,
    allows,
    allows_together,
    learner_prefix,
    learner_variables,
    load,
    render,
)
from workshop_utils.packaging import render_authorizer_policy, render_policy

REGION, ACCOUNT = "eu-west-1", "111122223333"
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/{BOUNDARY_NAME}"
API_ID = "a1b2c3d4e5"
SERVICES = {"dynamodb": "dynamodb", "iam": "iam", "lambda": "lambda", "logs": "logs",
            "ssm": "ssm", "tag": "resourcegroupstaggingapi", "sts": "sts"}
RENAMED = {
    # Lambda API reference, Invoke: "requires permission for the lambda:InvokeFunction action"
    "lambda:InvokeFunction": ("lambda", "Invoke"),
}
HTTP_ACTIONS = {"apigateway:GET", "apigateway:POST", "apigateway:PATCH", "apigateway:PUT",
                "apigateway:DELETE"}  # Service Authorization Reference: API Gateway V2 actions
# API Gateway developer guide, "Use @connections commands in your backend service"
EXECUTE_API = {"execute-api:ManageConnections"}
# Permission-only actions, with no API operation of their own: IAM User Guide, "Grant a user
# permissions to pass a role to an AWS service"
PERMISSION_ONLY = {"iam:PassRole"}
NO_RESOURCE_LEVEL = {"dynamodb:ListTables", "lambda:ListFunctions", "iam:ListRoles",
                     "tag:GetResources",
                     # metadata of the account's parameters, never a value (the inventory's
                     # exact-name look-up of the token secret); Systems Manager user guide,
                     # "Restricting access to Parameter Store parameters using IAM policies"
                     "ssm:DescribeParameters"}
# Allowed, on purpose, without the learner's prefix in the resource or a tag condition; each
# with the reason it cannot be scoped. A new unscoped grant fails test_every_grant_is_scoped.
KNOWN_UNSCOPED = {
    ("apigateway:GET", "arn:aws:apigateway:*::/apis"): "lists APIs (read only)",
    ("apigateway:GET", "arn:aws:apigateway:*::/apis/*"): "reads an API's configuration",
    ("apigateway:GET", "arn:aws:apigateway:*::/account"): "notebook 07 checks the CloudWatch role",
    ("apigateway:GET", "arn:aws:apigateway:*::/tags/*"): "reads tags (ownership checks)",
    ("apigateway:POST", "arn:aws:apigateway:*::/apis/*/integrations"): "V2 children: no tags",
    ("apigateway:POST", "arn:aws:apigateway:*::/apis/*/routes"): "V2 children: no tags",
    ("apigateway:POST", "arn:aws:apigateway:*::/apis/*/authorizers"): "V2 children: no tags",
    ("apigateway:POST", "arn:aws:apigateway:*::/apis/*/deployments"): "V2 children: no tags",
    ("execute-api:ManageConnections", "arn:aws:execute-api:*:*:*/dev/*/@connections/*"):
        "API ids are assigned by AWS; execute-api documents no tag conditions",
    ("logs:DescribeLogGroups", "arn:aws:logs:*:*:log-group:*"): "lists log groups (read only)",
}


def learner(username: str) -> dict:
    return render(load(LEARNER_POLICY), learner_variables(username))


def own_resources(prefix: str) -> dict[str, list[str]]:
    """Every ARN of one learner's stack (names-and-tags-14.md, and the authorizer's role and
    token secret), by kind."""
    functions = [f"{prefix}-{k}" for k in (*FUNCTION_KINDS, "authorizer")]
    groups = [f"/aws/lambda/{f}" for f in functions] + [f"/aws/apigateway/{prefix}-chat-api/access"]
    return {
        "table": [f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{prefix}-connections"],
        "role": [f"arn:aws:iam::{ACCOUNT}:role/{prefix}-chat-role",
                 f"arn:aws:iam::{ACCOUNT}:role/{prefix}-authorizer-role"],
        "parameter": [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/{prefix}-chat-token-secret"],
        "function": [f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{f}" for f in functions],
        "log group": [a for g in groups for a in (
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{g}",
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{g}:*")],
    }


def stack_requests(prefix: str) -> list[Request]:
    """What one learner does to their own stack: every write the series makes, with the
    context a correct call carries (own tags, the boundary, lambda as the passed-to service)."""
    tags = {"aws:RequestTag/workshop-prefix": prefix,
            "aws:TagKeys": ["workshop", "workshop-owner", "workshop-prefix"]}
    res = own_resources(prefix)
    found = [Request(f"dynamodb:{op}", res["table"][0]) for op in (
        "CreateTable", "TagResource", "DescribeTable", "UpdateTimeToLive", "PutItem", "GetItem",
        "UpdateItem", "DeleteItem", "Scan", "DeleteTable")]
    for role in res["role"]:
        found += [
            Request("iam:CreateRole", role, {**tags, "iam:PermissionsBoundary": BOUNDARY_ARN}),
            Request("iam:TagRole", role, tags),
            Request("iam:PassRole", role, {"iam:PassedToService": "lambda.amazonaws.com"})]
        found += [Request(f"iam:{op}", role) for op in (
            "GetRole", "PutRolePolicy", "ListRolePolicies", "DeleteRolePolicy",
            "ListAttachedRolePolicies", "DetachRolePolicy", "DeleteRole")]
    found += [Request(f"ssm:{op}", res["parameter"][0]) for op in (
        "PutParameter", "AddTagsToResource", "GetParameter", "ListTagsForResource",
        "DeleteParameter")]
    for function in res["function"]:
        found += [Request(f"lambda:{op}", function) for op in (
            "CreateFunction", "TagResource", "GetFunction", "UpdateFunctionCode",
            "InvokeFunction", "RemovePermission", "DeleteFunction")]
        found.append(Request("lambda:AddPermission", function,
                             {"lambda:Principal": "apigateway.amazonaws.com"}))
    for group in res["log group"]:
        found += [Request(f"logs:{op}", group) for op in (
            "CreateLogGroup", "PutRetentionPolicy", "TagResource", "FilterLogEvents",
            "DeleteLogGroup")]
    api = f"arn:aws:apigateway:{REGION}::/apis"
    owned = {"aws:ResourceTag/workshop-prefix": prefix}
    found += [Request("apigateway:POST", api, tags),
              Request("apigateway:POST", f"{api}/{API_ID}/stages", tags),
              Request("apigateway:PATCH", f"{api}/{API_ID}/stages/dev", owned),
              Request("apigateway:DELETE", f"{api}/{API_ID}", owned)]
    return found


def test_the_policies_are_valid_json_and_fit_a_managed_policy() -> None:
    """The policies are version 2012-10-17 with unique Sids and known elements, within a
    managed policy's 6,144 characters."""
    for path in (LEARNER_POLICY, BOUNDARY_POLICY, EXECUTION_LOGS_POLICY):
        policy = json.loads(path.read_text())
        assert policy["Version"] == "2012-10-17"  # policy variables need this version
        sids = [s["Sid"] for s in policy["Statement"]]
        assert len(sids) == len(set(sids))
        for statement in policy["Statement"]:
            assert set(statement) <= {"Sid", "Effect", "Action", "Resource", "Condition"}
            assert statement["Effect"] in ("Allow", "Deny")
        compact = "".join(path.read_text().split())
        assert len(compact) <= 6144, f"{path.name}: {len(compact)} characters"


def _actions(path) -> set[str]:
    return {a for s in load(path)["Statement"] for a in
            ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}


@pytest.mark.parametrize("path", [LEARNER_POLICY, BOUNDARY_POLICY, EXECUTION_LOGS_POLICY],
                         ids=lambda p: p.name)
def test_every_action_is_a_real_action_of_its_service(path) -> None:
    """Every action names an operation of its service's botocore model, or a documented
    renamed, HTTP-verb or permission-only action."""
    session = botocore.session.get_session()
    operations = {prefix: set(session.get_service_model(service).operation_names)
                  for prefix, service in SERVICES.items()}
    http_methods = {op.http["method"] for name in ("apigatewayv2", "apigateway")
                    for op in (session.get_service_model(name).operation_model(o)
                               for o in session.get_service_model(name).operation_names)}
    for action in _actions(path):
        assert "*" not in action, f"{action}: name every action"
        prefix, name = action.split(":", 1)
        if action in RENAMED:
            service, operation = RENAMED[action]
            assert operation in operations[prefix], action
        elif action in HTTP_ACTIONS:
            assert name in http_methods, action
        elif action in EXECUTE_API | PERMISSION_ONLY:
            continue
        else:
            assert name in operations[prefix], f"{action} is no {SERVICES[prefix]} operation"


def test_every_grant_is_scoped_to_the_learner() -> None:
    """No Allow on "*" but the listings AWS offers no resource-level permission for; every
    other grant names the learner's prefix, or is conditioned on its tag, or is known."""
    for statement in load(LEARNER_POLICY)["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else \
            statement["Action"]
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else \
            statement["Resource"]
        tag_scoped = any("workshop-prefix" in key and value == "wschat-${aws:username}"
                         for keys in statement.get("Condition", {}).values()
                         for key, value in keys.items())
        for resource in resources:
            if resource == "*":
                assert set(actions) <= NO_RESOURCE_LEVEL, statement["Sid"]
                continue
            for action in actions:
                scoped = "wschat-${aws:username}" in resource or tag_scoped
                assert scoped or (action, resource) in KNOWN_UNSCOPED, (
                    f"{statement['Sid']}: {action} on {resource} is not scoped to the learner")


@pytest.mark.parametrize("username", ["ada", "learner07", "sam-lee"])
def test_a_learner_may_build_and_delete_their_own_stack(username: str) -> None:
    """Every write of the series on the learner's own stack (the authorizer's role and token
    secret included) is allowed, with the tags and boundary a correct call carries."""
    policy = learner(username)
    refused = [str(r) for r in stack_requests(learner_prefix(username)) if not allows(policy, r)]
    assert refused == []


@pytest.mark.parametrize(("me", "other"), [("ada", "ada-lee"), ("ada-lee", "ada"),
                                           ("sam", "sam-lee"), ("wschat", "alice")])
def test_no_learner_touches_another_learners_stack(me: str, other: str) -> None:
    """Prefixes that extend one another (wschat-ada, wschat-ada-lee) stay apart: every
    request on the other learner's stack is refused, but what is known to be unscoped."""
    policy = learner(me)
    theirs = stack_requests(learner_prefix(other))
    allowed = [r for r in theirs if allows(policy, r)]
    assert allowed == []


ESCALATIONS = {
    "a role without the boundary": Request(
        "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/wschat-ada-chat-role",
        {"aws:RequestTag/workshop-prefix": "wschat-ada", "aws:TagKeys": ["workshop-prefix"]}),
    "a role with another boundary": Request(
        "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/wschat-ada-chat-role",
        {"aws:RequestTag/workshop-prefix": "wschat-ada", "aws:TagKeys": ["workshop-prefix"],
         "iam:PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    "a role of another name": Request(
        "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/admin",
        {"aws:RequestTag/workshop-prefix": "wschat-ada", "aws:TagKeys": ["workshop-prefix"],
         "iam:PermissionsBoundary": BOUNDARY_ARN}),
    "a role tagged as another learner's": Request(
        "iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/wschat-ada-chat-role",
        {"aws:RequestTag/workshop-prefix": "wschat-bob", "aws:TagKeys": ["workshop-prefix"],
         "iam:PermissionsBoundary": BOUNDARY_ARN}),
    "re-tagging the role as another learner's": Request(
        "iam:TagRole", f"arn:aws:iam::{ACCOUNT}:role/wschat-ada-chat-role",
        {"aws:RequestTag/workshop-prefix": "wschat-bob", "aws:TagKeys": ["workshop-prefix"]}),
    "an admin policy on the role": Request(
        "iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/wschat-ada-chat-role"),
    "removing the role's boundary": Request(
        "iam:DeleteRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/wschat-ada-chat-role"),
    "replacing the role's boundary": Request(
        "iam:PutRolePermissionsBoundary", f"arn:aws:iam::{ACCOUNT}:role/wschat-ada-chat-role",
        {"iam:PermissionsBoundary": BOUNDARY_ARN}),
    "editing the boundary": Request("iam:CreatePolicyVersion", BOUNDARY_ARN),
    "passing the role to EC2": Request(
        "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/wschat-ada-chat-role",
        {"iam:PassedToService": "ec2.amazonaws.com"}),
    "passing another role to Lambda": Request(
        "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole",
        {"iam:PassedToService": "lambda.amazonaws.com"}),
    "opening a function to everyone": Request(
        "lambda:AddPermission", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:wschat-ada-connect",
        {"lambda:Principal": "*"}),
    "an API tagged as another learner's": Request(
        "apigateway:POST", f"arn:aws:apigateway:{REGION}::/apis",
        {"aws:RequestTag/workshop-prefix": "wschat-bob", "aws:TagKeys": ["workshop-prefix"]}),
    "an API without the workshop's tags": Request(
        "apigateway:POST", f"arn:aws:apigateway:{REGION}::/apis"),
    "re-tagging an API": Request(
        "apigateway:POST", f"arn:aws:apigateway:{REGION}::/tags/arn%3Aaws%3Aapigateway",
        {"aws:RequestTag/workshop-prefix": "wschat-ada", "aws:TagKeys": ["workshop-prefix"]}),
    "any other service": Request("s3:ListAllMyBuckets", "*"),
}


@pytest.mark.parametrize("what", list(ESCALATIONS))
def test_the_learner_policy_refuses(what: str) -> None:
    """Each escalation a learner might try (roles without the boundary, other names, other
    services, re-tagging) is refused."""
    assert not allows(learner("ada"), ESCALATIONS[what]), what


IAM_ADMIN = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}


@pytest.mark.parametrize("what", ["removing the role's boundary", "replacing the role's boundary",
                                  "editing the boundary"])
def test_the_boundary_stays_even_beside_a_broader_policy(what: str) -> None:
    """An instructor may give learners more (e.g. an IAM-wide grant for another course): the
    policy's own Deny statements still keep every role's boundary in place."""
    assert not allows_together([learner("ada"), IAM_ADMIN], ESCALATIONS[what])


def boundary_for(prefix: str) -> dict:
    """The boundary as IAM reads it for a role tagged ``workshop-prefix=prefix``."""
    return render(load(BOUNDARY_POLICY), {"aws:PrincipalTag/workshop-prefix": prefix})


def _concrete(resource: str) -> str:
    return resource.replace("@connections/*", "@connections/Ab1Cd2Ef3Gh=").replace(":*", ":x")


def test_the_boundary_keeps_what_the_functions_own_policy_grants() -> None:
    """Under the boundary the chat's role keeps every grant of lambda_src/policy.json, and the
    authorizer's role every grant of lambda_src/authorizer-policy.json."""
    prefix = learner_prefix("ada")
    functions_policy = render_policy(region=REGION, account_id=ACCOUNT,
                                     table_name=f"{prefix}-connections", api_id=API_ID,
                                     stage="dev", function_prefix=prefix)
    needed = []
    for statement in functions_policy["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else \
            statement["Action"]
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else \
            statement["Resource"]
        for resource in resources:
            # the functions' own groups, named exactly ("…-*" patterns are tried per function)
            concrete = [resource.replace(f"{prefix}-*", f"{prefix}-{k}") for k in FUNCTION_KINDS]
            needed += [Request(a, _concrete(r)) for a in actions for r in set(concrete)]
    authorizer_policy = render_authorizer_policy(
        REGION, ACCOUNT, f"{prefix}-chat-token-secret", f"{prefix}-authorizer")
    for statement in authorizer_policy["Statement"]:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else \
            statement["Action"]
        resources = [statement["Resource"]] if isinstance(statement["Resource"], str) else \
            statement["Resource"]
        needed += [Request(a, _concrete(r)) for a in actions for r in resources]
    assert {r.action for r in needed} >= {"ssm:GetParameter", "dynamodb:Scan"}
    boundary = boundary_for(prefix)
    assert [str(r) for r in needed if not allows(boundary, r)] == []


TABLES = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table"


@pytest.mark.parametrize("request_", [
    Request("dynamodb:Scan", f"{TABLES}/wschat-ada-lee-connections"),
    Request("dynamodb:DeleteTable", f"{TABLES}/wschat-ada-connections"),
    Request("logs:PutLogEvents",
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/wschat-ada-lee-connect:x"),
    Request("iam:CreateRole", f"arn:aws:iam::{ACCOUNT}:role/x"),
    Request("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/wschat-ada-chat-role"),
    Request("lambda:InvokeFunction",
            f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:wschat-ada-connect"),
    Request("s3:GetObject", "arn:aws:s3:::any-bucket/any-key"),
    Request("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"),
    Request("ssm:GetParameter",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wschat-ada-lee-chat-token-secret"),
    Request("ssm:PutParameter",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/wschat-ada-chat-token-secret"),
], ids=str)
def test_the_boundary_caps_a_role_at_the_chat(request_: Request) -> None:
    """Whatever inline policy a learner writes, their role does no more than the chat does,
    on their own table and log groups (the role's ``workshop-prefix`` tag is theirs: the
    learner policy allows creating and tagging it only so)."""
    assert not allows(boundary_for("wschat-ada"), request_)


def _execution_log_requests(api_id: str) -> list[Request]:
    """What notebook 07 reads and notebook 08 deletes of an API's execution log group."""
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:API-Gateway-Execution-Logs_{api_id}/dev"
    return [Request("logs:FilterLogEvents", group), Request("logs:GetLogEvents", f"{group}:*"),
            Request("logs:DescribeLogStreams", group), Request("logs:DeleteLogGroup", group)]


def test_execution_logs_need_the_optional_policy_and_it_grants_only_them() -> None:
    """API Gateway names a stage's execution log group from the API's random id, untagged
    (API Gateway developer guide, "Set up CloudWatch API logging": "the log group named
    API-Gateway-Execution-Logs_{rest-api-id}/{stage_name}"), so the learner policy cannot grant
    it per learner and does not. learner-execution-logs.json grants reading and deleting those
    groups, and nothing else: no other log group, no writes into them."""
    ada = learner("ada")
    optional = load(EXECUTION_LOGS_POLICY)
    for request in _execution_log_requests(API_ID):
        assert not allows(ada, request), request
        assert allows_together([ada, optional], request), request
    other_groups = [f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}" for name in (
        "/aws/lambda/wschat-alice-connect", "/aws/apigateway/wschat-alice-chat-api/access",
        "API-Gateway-Execution-Logs", "/aws/API-Gateway-Execution-Logs_x/dev")]
    for group in other_groups:
        assert not allows(optional, Request("logs:DeleteLogGroup", group)), group
    group = _execution_log_requests(API_ID)[0].resource
    for action in ("logs:PutLogEvents", "logs:CreateLogStream", "logs:PutRetentionPolicy",
                   "logs:PutSubscriptionFilter"):
        assert not allows(optional, Request(action, group)), action
