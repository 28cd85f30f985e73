"""IAM's answer to one request, for the classroom policies in ``docs/classroom/``.

Actions and resources are matched by moto's own evaluator (``moto.iam.access_control``, the
one the local cloud enforces with); moto checks conditions only for ``StringEquals`` and treats
an Allow whose condition fails as a Deny, so conditions are evaluated here, as IAM documents
them (IAM User Guide, "IAM JSON policy elements: Condition operators" and "Policy evaluation
logic"): an explicit Deny wins, then any Allow; several keys in a block must all hold, several
values of one key are alternatives; ``…IfExists`` and the negated operators hold when the key is
absent, ``ForAllValues`` holds for an absent key, ``ForAnyValue`` does not. Policy variables
(``${aws:username}``, ``${aws:PrincipalTag/…}``) are resolved first, as IAM resolves them.

``requests`` maps one boto3 call (service, operation, parameters) to the IAM requests AWS
authorizes for it, with their condition context (request tags, the passed role's service,
the permissions boundary, ``lambda:Principal``).
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.iam.access_control import IAMPolicyStatement, PermissionResult

REPO = Path(__file__).resolve().parents[1]
CLASSROOM = REPO / "docs" / "classroom"
LEARNER_POLICY = CLASSROOM / "learner-policy.json"
BOUNDARY_POLICY = CLASSROOM / "learner-boundary.json"
EXECUTION_LOGS_POLICY = CLASSROOM / "learner-execution-logs.json"
BOUNDARY_NAME = "workshop-learner-boundary"
VARIABLE = re.compile(r"\$\{([^}]+)\}")

# The workshop's names for a prefix (workshop_utils.target.Names, names-and-tags-14.md).
FUNCTION_KINDS = ("connect", "disconnect", "broadcast")


@dataclass(frozen=True)
class Request:
    """What IAM authorizes: one action on one resource, with the request's condition keys."""

    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __str__(self) -> str:
        extra = f" {json.dumps(self.context, sort_keys=True)}" if self.context else ""
        return f"{self.action} on {self.resource}{extra}"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def render(policy: dict[str, Any], variables: dict[str, str]) -> dict[str, Any]:
    """The policy with its ``${…}`` variables replaced, as IAM does for one principal."""

    def substitute(value: Any) -> Any:
        if isinstance(value, str):
            return VARIABLE.sub(lambda m: variables[m[1]], value)
        if isinstance(value, list):
            return [substitute(v) for v in value]
        if isinstance(value, dict):
            return {substitute(k): substitute(v) for k, v in value.items()}
        return value

    return substitute(policy)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _string_match(operator: str, expected: str, actual: str) -> bool:
    base = operator.removeprefix("ForAllValues:").removeprefix("ForAnyValue:")
    base = base.removesuffix("IfExists").replace("Not", "")
    if base in ("StringEquals", "ArnEquals"):
        return actual == expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if base in ("StringLike", "ArnLike"):
        return fnmatch.fnmatchcase(actual, expected)
    if base == "Bool":
        return actual.lower() == expected.lower()
    raise AssertionError(f"condition operator {operator} is not supported by this evaluator")


def condition_holds(operator: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    expected_values = [str(v) for v in _as_list(expected)]
    present = key in context and context[key] not in (None, [])
    if operator == "Null":
        return expected_values[0].lower() == ("false" if present else "true")
    negated = "Not" in operator
    if operator.startswith("ForAllValues:"):
        return (not present) or all(
            any(_string_match(operator, e, str(a)) for e in expected_values) != negated
            for a in _as_list(context[key]))
    if operator.startswith("ForAnyValue:"):
        return present and any(
            any(_string_match(operator, e, str(a)) for e in expected_values) != negated
            for a in _as_list(context[key]))
    if not present:
        return operator.endswith("IfExists") or negated
    actual = context[key]
    if isinstance(actual, list):
        raise AssertionError(f"{key} is multivalued: use ForAllValues/ForAnyValue")
    matched = any(_string_match(operator, e, str(actual)) for e in expected_values)
    return matched != negated


def _statement_matches(statement: dict[str, Any], request: Request) -> bool:
    """Action and resource matched by moto's evaluator, then the condition block here."""
    bare = {k: v for k, v in statement.items() if k != "Condition"}
    if moto_verdict(bare, request) == PermissionResult.NEUTRAL:
        return False
    return all(
        condition_holds(operator, key, expected, request.context)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def moto_verdict(statement: dict[str, Any], request: Request) -> PermissionResult:
    return IAMPolicyStatement(statement).is_action_permitted(request.action, request.resource)


def allows(policy: dict[str, Any], request: Request) -> bool:
    """IAM's answer for an identity policy alone: an explicit Deny wins, then any Allow."""
    verdicts = {s["Effect"] for s in policy["Statement"] if _statement_matches(s, request)}
    return "Deny" not in verdicts and "Allow" in verdicts


def allows_together(policies: list[dict[str, Any]], request: Request) -> bool:
    """IAM's answer for several identity policies of one principal (a Deny in any wins)."""
    verdicts = {s["Effect"] for policy in policies for s in policy["Statement"]
                if _statement_matches(s, request)}
    return "Deny" not in verdicts and "Allow" in verdicts


def learner_variables(username: str) -> dict[str, str]:
    return {"aws:username": username}


def learner_prefix(username: str) -> str:
    """The prefix the learner policy gives an IAM user (names-and-tags-14.md)."""
    return f"wschat-{username}"


# --- boto3 calls -> IAM requests -------------------------------------------------------------

def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def _log_group_arns(region: str, account: str, name: str) -> list[str]:
    """CloudWatch Logs authorizes a group as ``…:log-group:NAME`` or ``…:log-group:NAME:*``
    depending on the action; the policy must allow both forms."""
    base = _arn("logs", region, account, f"log-group:{name}")
    return [base, base + ":*"]


def _tags_context(tags: Any) -> dict[str, Any]:
    if not tags:
        return {}
    pairs = ({t["Key"]: t["Value"] for t in tags} if isinstance(tags, list) else dict(tags))
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in pairs.items()}
    context["aws:TagKeys"] = sorted(pairs)
    return context


def _apigateway_path(model_uri: str, params: dict[str, Any]) -> str:
    path = model_uri.split("?", 1)[0].removeprefix("/v2")
    names = {"apiId": "ApiId", "stageName": "StageName", "integrationId": "IntegrationId",
             "routeId": "RouteId", "deploymentId": "DeploymentId", "resource-arn": "ResourceArn"}
    return re.sub(r"\{([^}+]+)\+?\}",
                  lambda m: str(params.get(names.get(m[1], m[1]), "*")), path)


def requests(service: str, operation: str, params: dict[str, Any], *, region: str,
             account: str, http_method: str = "", request_uri: str = "",
             owner_tags: dict[str, str] | None = None,
             management_endpoint: str = "") -> list[Request]:
    """The IAM requests AWS authorizes for one call. Calls on an existing API Gateway
    resource carry ``owner_tags`` as its ``aws:ResourceTag/…`` (the tags its create call was
    checked with); sts:GetCallerIdentity needs no permission (STS API reference)."""
    owner_tags = owner_tags or {}
    found: list[Request] = []
    if service == "sts" and operation == "GetCallerIdentity":
        return []
    if service == "dynamodb":
        resource = ("*" if operation == "ListTables" else params.get("ResourceArn") or
                    _arn("dynamodb", region, account, f"table/{params['TableName']}"))
        found.append(Request(f"dynamodb:{operation}", resource))
        if operation == "CreateTable" and params.get("Tags"):
            found.append(Request("dynamodb:TagResource", resource))
    elif service == "iam":
        if operation == "ListRoles":
            return [Request("iam:ListRoles", "*")]
        role = f"arn:aws:iam::{account}:role/{params['RoleName']}"
        context = _tags_context(params.get("Tags")) if operation in ("CreateRole",
                                                                       "TagRole") else {}
        if operation == "CreateRole" and params.get("PermissionsBoundary"):
            context["iam:PermissionsBoundary"] = params["PermissionsBoundary"]
        found.append(Request(f"iam:{operation}", role, context))
        if operation == "CreateRole" and params.get("Tags"):
            found.append(Request("iam:TagRole", role, _tags_context(params["Tags"])))
    elif service == "lambda":
        if operation == "ListFunctions":
            return [Request("lambda:ListFunctions", "*")]
        name = params.get("FunctionName") or params.get("Resource", "")
        function = name if name.startswith("arn:") else _arn(
            "lambda", region, account, f"function:{name}")
        action = "lambda:InvokeFunction" if operation == "Invoke" else f"lambda:{operation}"
        context = ({"lambda:Principal": params["Principal"]} if operation == "AddPermission"
                   else {})
        found.append(Request(action, function, context))
        if operation in ("CreateFunction", "UpdateFunctionConfiguration") and params.get("Role"):
            found.append(Request("iam:PassRole", params["Role"],
                                 {"iam:PassedToService": "lambda.amazonaws.com"}))
        if operation == "CreateFunction" and params.get("Tags"):
            found.append(Request("lambda:TagResource", function))
    elif service == "logs":
        if operation == "DescribeLogGroups":
            return [Request("logs:DescribeLogGroups", _arn("logs", region, account,
                                                           "log-group:*"))]
        arns = ([params["resourceArn"]] if "resourceArn" in params else
                _log_group_arns(region, account, params["logGroupName"]))
        found.extend(Request(f"logs:{operation}", arn) for arn in arns)
        if operation == "CreateLogGroup" and params.get("tags"):
            found.extend(Request("logs:TagResource", arn) for arn in arns)
    elif service in ("apigatewayv2", "apigateway"):
        resource = f"arn:aws:apigateway:{region}::" + _apigateway_path(request_uri, params)
        context = _tags_context(params.get("Tags"))
        if http_method in ("PATCH", "DELETE", "PUT"):
            context.update({f"aws:ResourceTag/{k}": v for k, v in owner_tags.items()})
        found.append(Request(f"apigateway:{http_method}", resource, context))
    elif service == "apigatewaymanagementapi":
        api, stage = _endpoint_api_stage(management_endpoint)
        cid = params.get("ConnectionId", "*")
        found.append(Request("execute-api:ManageConnections", _arn(
            "execute-api", region, account, f"{api}/{stage}/{http_method}/@connections/{cid}")))
    elif service == "ssm":
        # SSM authorizes a parameter as parameter/<name> (a leading "/" dropped); its tag calls
        # name it by ResourceId; DescribeParameters has no resource type
        if operation == "DescribeParameters":
            return [Request("ssm:DescribeParameters", "*")]
        name = str(params.get("Name") or params.get("ResourceId", "")).removeprefix("/")
        parameter = _arn("ssm", region, account, f"parameter/{name}")
        found.append(Request(f"ssm:{operation}", parameter))
        if operation == "PutParameter" and params.get("Tags"):
            found.append(Request("ssm:AddTagsToResource", parameter))
    elif service == "resourcegroupstaggingapi":
        found.append(Request(f"tag:{operation}", "*"))
    else:
        raise AssertionError(f"no IAM mapping for {service}.{operation}")
    return found


def _endpoint_api_stage(endpoint: str) -> tuple[str, str]:
    """``https://{api}.execute-api.{region}.amazonaws.com/{stage}`` (or the local cloud's
    ``http://127.0.0.1:PORT/{api}/{stage}``) -> (api, stage)."""
    host, _, path = endpoint.split("://", 1)[-1].partition("/")
    parts = [p for p in path.split("/") if p]
    if ".execute-api." in host:
        return host.split(".", 1)[0], parts[0]
    return parts[0], parts[1]
