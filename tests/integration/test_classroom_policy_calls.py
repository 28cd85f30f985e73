"""The learner policy (``docs/classroom/learner-policy.json``) allows every AWS call the series
makes, for a learner whose IAM user is ``ada`` (prefix ``wschat-ada``).

Two independent lists of calls:
- **recorded**: the library builds the whole stack against a local cloud (``stack.build_chat``,
  the notebooks' prerequisites), reads a function's logs, checks the environment, lists
  leftovers and cleans up, with a botocore ``before-parameter-build`` hook on every client of
  the learner's ``Target``: each call with its real parameters (tags, the boundary, the role
  passed to Lambda);
- **read from the notebooks**: every ``<client>.<method>(`` in their code cells, the client's
  service taken from ``<client> = target.client("<service>")``, on the learner's own names.

Each call is mapped to the IAM requests AWS authorizes for it (``tests.iampolicy.requests``)
and evaluated against the rendered policy. Calls on an existing API Gateway resource are
evaluated with the learner's tags as its ``aws:ResourceTag``: the create calls that put them
there are themselves checked with their real ``Tags``.
"""

from __future__ import annotations

import ast
import json
from typing import Any

import boto3
import pytest

from tests.iampolicy import (
    BOUNDARY_NAME,
    BOUNDARY_POLICY,
    LEARNER_POLICY,
    Request,
    allows,
    learner_prefix,
    learner_variables,
    load,
    render,
    requests,
)
from tests.timing import SECOND
from workshop_utils import checks, cleanup, stack, waiting
from workshop_utils import target as targets
from workshop_utils.lab import checkout as repo_root
from workshop_utils.localcloud import LocalCloud

USERNAME = "ada"
PREFIX = learner_prefix(USERNAME)
LEARNER = render(load(LEARNER_POLICY), learner_variables(USERNAME))
API_ID = "a1b2c3d4e5"  # the notebooks' calls name no real API: any id of the learner's


class Recorder:
    """Every call made through one boto3 session: (service, operation, params, model)."""

    def __init__(self, session: boto3.Session) -> None:
        self.calls: list[tuple[str, str, dict[str, Any], Any]] = []
        session.events.register("before-parameter-build", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_kwargs: Any) -> None:
        self.calls.append((model.service_model.service_name, model.name, dict(params), model))


def _evaluate(calls: list[Request], policy: dict, *,
              may_lack_boundary: bool) -> tuple[list[str], list[str]]:
    """(refused, pending): pending are CreateRole calls without a boundary, while the code
    that makes them cannot pass one yet."""
    refused, pending = [], []
    for request in calls:
        if allows(policy, request):
            continue
        no_boundary = (request.action == "iam:CreateRole"
                       and "iam:PermissionsBoundary" not in request.context)
        (pending if no_boundary and may_lack_boundary else refused).append(str(request))
    return sorted(set(refused)), sorted(set(pending))


@pytest.fixture(scope="module")
def recorded(cloud: LocalCloud) -> list[Request]:
    """The IAM requests of the library's whole run for learner ada on the local cloud."""
    boundary_arn = f"arn:aws:iam::{cloud.state['account_id']}:policy/{BOUNDARY_NAME}"
    iam = cloud.client("iam")
    iam.create_policy(PolicyName=BOUNDARY_NAME, PolicyDocument=BOUNDARY_POLICY.read_text())
    target = targets.local_target(cloud.state, PREFIX)
    target.permissions_boundary = boundary_arn  # as WORKSHOP_PERMISSIONS_BOUNDARY sets it
    recorder = Recorder(target.session)
    try:
        stack.build_secure_chat(target)  # notebooks 01-04 and 06
        stack.require(7, target)
        lam = target.client("lambda")
        lam.invoke(FunctionName=target.names.function("broadcast"), Payload=b"{}")
        waiting.wait_for_log_events(target.client("logs"),
                                    f"/aws/lambda/{target.names.function('broadcast')}",
                                    timeout_s=10 * SECOND)
        checks.environment_check(target)
        cleanup.leftovers(target)
    finally:
        cleanup.delete_everything(target, say=lambda *_: None)
        iam.delete_policy(PolicyArn=boundary_arn)
    assert not any(cleanup.leftovers(target).values())
    found = []
    for service, operation, params, model in recorder.calls:
        found += requests(service, operation, params, region=target.region,
                          account=cloud.state["account_id"], http_method=model.http["method"],
                          request_uri=model.http["requestUri"], owner_tags=target.tags)
    return found


def test_the_policy_allows_every_call_the_library_makes(recorded: list[Request]) -> None:
    """Every call the library makes while it builds, uses, lists and cleans up a learner's
    stack is allowed by the learner policy (the create_role boundary checked on its own)."""
    actions = {r.action for r in recorded}
    # the run covered the series: every kind of resource was made and deleted
    assert {"dynamodb:CreateTable", "iam:CreateRole", "iam:PassRole", "lambda:CreateFunction",
            "lambda:AddPermission", "apigateway:POST", "apigateway:DELETE",
            "dynamodb:DeleteTable", "iam:DeleteRole", "lambda:DeleteFunction",
            "ssm:PutParameter", "ssm:DeleteParameter", "apigateway:PATCH"} <= actions
    assert any(r.action == "apigateway:POST" and r.resource.endswith("/authorizers")
               for r in recorded)
    refused, _pending = _evaluate(recorded, LEARNER, may_lack_boundary=True)
    assert refused == [], "\n".join(refused)


def test_the_library_creates_the_role_with_the_boundary(recorded: list[Request]) -> None:
    """The policy allows iam:CreateRole only with the boundary (no learner mints an admin
    role), so stack.ensure_role must pass WORKSHOP_PERMISSIONS_BOUNDARY to create_role."""
    created = [r for r in recorded if r.action == "iam:CreateRole"]  # the chat's, the authorizer's
    assert len(created) == 2
    for create_role in created:
        assert create_role.context["iam:PermissionsBoundary"].endswith(
            f":policy/{BOUNDARY_NAME}")
    refused, pending = _evaluate(recorded, LEARNER, may_lack_boundary=False)
    assert refused == [] and pending == []


# --- the notebooks' own calls ----------------------------------------------------------------

def _parse(source: str) -> ast.Module:
    """A code cell as Python: top-level ``await`` allowed, shell and magic lines left out."""
    lines = ["" if line.lstrip().startswith(("!", "%")) else line
             for line in source.splitlines()]
    return compile("\n".join(lines), "<cell>", "exec",
                   flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _client_service(node: ast.AST) -> str | None:
    """``target.client("svc")`` -> "svc"; ``target.management_client(…)`` -> its service."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "client" and node.args and isinstance(node.args[0], ast.Constant):
            return node.args[0].value
        if node.func.attr == "management_client":
            return "apigatewaymanagementapi"
    return None


def _spread_name(value: ast.expr) -> str:
    """The name of what a ``**`` spreads: ``**target.role_options()`` -> ``role_options``."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
        return value.func.attr
    return ast.unparse(value)


def _keywords(call: ast.Call) -> str:
    """The call's keyword names (``**x.role_options()`` as ``role_options``), and its first
    string argument (a waiter's or paginator's name)."""
    names = [kw.arg or _spread_name(kw.value) for kw in call.keywords]
    names += [a.value for a in call.args[:1] if isinstance(a, ast.Constant)]
    return " ".join(str(n) for n in names)


def notebook_calls() -> list[tuple[str, str, str, str]]:
    """(notebook, service, boto3 method, keywords) of every client call in the series."""
    found = []
    for path in sorted((repo_root() / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        clients: dict[str, str] = {}
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            tree = _parse("".join(cell["source"]))
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        pairs = (zip(target.elts, node.value.elts, strict=False)
                                 if isinstance(target, ast.Tuple)
                                 and isinstance(node.value, ast.Tuple)
                                 else [(target, node.value)])
                        for name, value in pairs:
                            if isinstance(name, ast.Name) and (svc := _client_service(value)):
                                clients[name.id] = svc
            for node in ast.walk(tree):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and isinstance(node.func.value, ast.Name)
                        and node.func.value.id in clients):
                    found.append((path.name, clients[node.func.value.id], node.func.attr,
                                  _keywords(node)))
    return found


def _operation(client: Any, method: str, args: str) -> str | None:
    if method == "get_waiter":  # the operation the waiter polls, from botocore's waiter model
        return client.get_waiter(args.split()[-1]).config.operation
    if method == "get_paginator":
        method = args.split()[-1]
    return client.meta.method_to_api_mapping.get(method)


def _own_params(service: str, operation: str, args: str, boundary_arn: str,
                tags: dict[str, str]) -> list[dict[str, Any]]:
    """The parameters of a notebook call on the learner's own resources (one set per function
    or log group it may name)."""
    base: dict[str, Any] = {
        "TableName": f"{PREFIX}-connections", "RoleName": f"{PREFIX}-chat-role",
        "ApiId": API_ID, "StageName": "dev", "ConnectionId": "Ab1Cd2Ef3Gh=",
        "Principal": "apigateway.amazonaws.com",
    }
    if service == "ssm":
        base["Name"] = f"{PREFIX}-chat-token-secret"
    if {"Tags", "tags"} & set(args.split()):
        base["Tags"] = ([{"Key": k, "Value": v} for k, v in tags.items()]
                        if service in ("iam", "ssm") else tags)
        base["tags"] = tags
    if {"PermissionsBoundary", "role_options"} & set(args.split()):
        base["PermissionsBoundary"] = boundary_arn
    functions = [f"{PREFIX}-{kind}" for kind in targets.CHAT_FUNCTIONS + targets.LATER_FUNCTIONS]
    if service == "iam":
        return [{**base, "RoleName": role} for role in (f"{PREFIX}-chat-role",
                                                        f"{PREFIX}-authorizer-role")]
    if service == "lambda":
        return [{**base, "FunctionName": f} for f in functions]
    if service == "logs":
        groups = [f"/aws/lambda/{f}" for f in functions] + [
            f"/aws/apigateway/{PREFIX}-chat-api/access"]
        return [{**base, "logGroupName": g} for g in groups]
    return [base]


@pytest.fixture(scope="module")
def notebook_requests() -> tuple[list[Request], bool]:
    """The IAM requests of the notebooks' calls, and whether create_role passes a boundary."""
    tags = {"workshop": targets.WORKSHOP_TAG, "workshop-prefix": PREFIX}
    account, region = "111122223333", "eu-west-1"
    boundary_arn = f"arn:aws:iam::{account}:policy/{BOUNDARY_NAME}"
    management = f"https://{API_ID}.execute-api.{region}.amazonaws.com/dev"
    calls = notebook_calls()
    assert len(calls) > 40  # the series' calls were found (01 to 07)
    clients: dict[str, Any] = {}
    found: list[Request] = []
    for _notebook, service, method, args in calls:
        client = clients.setdefault(service, boto3.client(
            service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x",
            **({"endpoint_url": management} if service == "apigatewaymanagementapi" else {})))
        operation = _operation(client, method, args)
        if operation is None:
            continue  # not an API call (e.g. .exceptions, .meta)
        model = client.meta.service_model.operation_model(operation)
        for params in _own_params(service, operation, args, boundary_arn, tags):
            found += requests(service, operation, params, region=region, account=account,
                              http_method=model.http["method"],
                              request_uri=model.http["requestUri"], owner_tags=tags,
                              management_endpoint=management)
    role_calls = [args for _n, _service, method, args in calls if method == "create_role"]
    passes_boundary = bool(role_calls) and all(
        {"role_options", "PermissionsBoundary"} & set(args.split()) for args in role_calls)
    return found, passes_boundary


def test_the_policy_allows_every_call_the_notebooks_make(
        notebook_requests: tuple[list[Request], bool]) -> None:
    """Every client call in the notebooks' cells, on the learner's own names, is allowed (the
    create_role boundary checked on its own)."""
    found, _passes_boundary = notebook_requests
    services = {r.action.split(":")[0] for r in found}
    assert {"dynamodb", "iam", "lambda", "apigateway", "execute-api", "logs"} <= services
    refused, _pending = _evaluate(found, LEARNER, may_lack_boundary=True)
    assert refused == [], "\n".join(refused)


def test_notebook_02_creates_the_role_with_the_boundary(
        notebook_requests: tuple[list[Request], bool]) -> None:
    """Notebook 02's create_role carries the boundary (``**target.role_options()``, which
    holds WORKSHOP_PERMISSIONS_BOUNDARY's ARN when it is set)."""
    found, passes_boundary = notebook_requests
    assert passes_boundary
    refused, pending = _evaluate(found, LEARNER, may_lack_boundary=False)
    assert refused == [], "\n".join(refused)
    assert pending == []
