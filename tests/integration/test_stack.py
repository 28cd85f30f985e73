"""Joining late, re-running, and cleaning up: the workshop's stack helpers on a local cloud."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.integration.chatstack import target_for
from tests.timing import SECOND
from workshop_utils import stack
from workshop_utils.cleanup import delete_everything, leftovers
from workshop_utils.localcloud import LocalCloud


@pytest.fixture
def target(cloud: LocalCloud, request):
    """A prefix of its own per test, so each starts from nothing on the shared cloud."""
    prefix = "wschat-" + request.node.name.split("_", 2)[-1][:12].strip("_").replace("_", "-")
    return target_for(cloud, prefix)


def test_a_notebook_opened_too_early_names_the_one_to_run(target) -> None:
    """require(n) with an earlier step missing raises MissingPrerequisite naming the notebook
    that builds it and the one call that would, and passes once that step is there."""
    with pytest.raises(stack.MissingPrerequisite, match="01_dynamodb_table.ipynb") as err:
        stack.require(4, target)
    assert "ensure_prerequisites(4)" in str(err.value)
    stack.ensure_table(target)
    with pytest.raises(stack.MissingPrerequisite, match="02_iam_role.ipynb"):
        stack.require(4, target)
    stack.require(2, target)  # what notebook 02 needs is there


def test_ensure_prerequisites_builds_what_earlier_notebooks_build_once(target) -> None:
    """ensure_prerequisites(5) builds the table, role, functions and API of notebooks 01-04,
    and calling it again duplicates no API, route, integration or permission."""
    stack.ensure_prerequisites(5, target)
    stack.require(5, target)
    stack.ensure_prerequisites(5, target)  # a second call duplicates nothing
    apigw = target.client("apigatewayv2")
    apis = [a for a in apigw.get_apis()["Items"] if a["Name"] == target.names.api]
    assert len(apis) == 1
    routes = sorted(r["RouteKey"] for r in apigw.get_routes(ApiId=apis[0]["ApiId"])["Items"])
    assert routes == ["$connect", "$default", "$disconnect", "sendmessage"]
    assert len(apigw.get_integrations(ApiId=apis[0]["ApiId"])["Items"]) == 3
    policy = target.client("lambda").get_policy(FunctionName=target.names.function("connect"))
    assert policy["Policy"].count("apigateway.amazonaws.com") == 1


def test_cleanup_leaves_nothing_and_can_run_twice(target) -> None:
    """delete_everything removes every resource of the prefix and says what it deleted; a
    second run finds nothing and does not fail."""
    stack.ensure_prerequisites(5, target)
    assert all(leftovers(target)[kind] for kind in ("apis", "functions", "roles", "tables"))
    said: list[str] = []
    delete_everything(target, say=said.append)
    assert not any(leftovers(target).values())
    assert any("deleted table" in line for line in said)
    delete_everything(target, say=said.append)  # nothing left to delete: no error
    assert not any(leftovers(target).values())


def test_cleanup_of_a_half_built_stack_leaves_nothing(target) -> None:
    """A learner who stopped after notebook 02: only the table and the role exist."""
    stack.ensure_prerequisites(3, target)
    delete_everything(target, say=lambda line: None)
    assert not any(leftovers(target).values())


def test_workshop_cleanup_command_deletes_the_learner_s_stack(cloud: LocalCloud,
                                                              target) -> None:
    """`workshop cleanup` deletes the stack of the prefix in the environment, exits 0 and
    says nothing is left."""
    stack.ensure_prerequisites(4, target)
    env = {**os.environ, "WORKSHOP_HOME": str(cloud.settings.home), "WORKSHOP_TARGET": "local",
           "WORKSHOP_PREFIX": target.prefix}
    result = subprocess.run([sys.executable, "-m", "workshop_utils.cli", "cleanup"], env=env,
                            capture_output=True, text=True, timeout=120 * SECOND)
    assert result.returncode == 0, result.stderr
    assert "nothing left" in result.stdout
    assert not any(leftovers(target).values())


def test_functions_that_run_other_code_are_updated_to_lambda_src(target) -> None:
    """A function whose deployed code differs from lambda_src/ (edited and redeployed by hand,
    or an older version of the workshop) gets the package's code again, told by CodeSha256;
    one that runs it already is left alone (no update, no new execution environments)."""
    from workshop_utils import packaging

    from .kit import zip_source

    stack.ensure_prerequisites(4, target)  # the functions exist
    lam = target.client("lambda")
    connect, broadcast = target.names.function("connect"), target.names.function("broadcast")
    lam.update_function_code(FunctionName=connect, ZipFile=zip_source(
        {"app.py": "def lambda_handler(event, context):\n    return {'statusCode': 500}\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=connect)
    untouched = lam.get_function_configuration(FunctionName=broadcast)["LastModified"]
    stack.ensure_functions(target)
    deployed = lam.get_function_configuration(FunctionName=connect)["CodeSha256"]
    assert deployed == packaging.code_sha256(packaging.build_zip("connect"))
    assert lam.get_function_configuration(FunctionName=broadcast)["LastModified"] == untouched


def test_code_sha256_is_lambda_s(target) -> None:
    """packaging.code_sha256 of a zip is the CodeSha256 Lambda reports for it (the base64 of
    its SHA-256, Lambda API reference, FunctionConfiguration)."""
    from workshop_utils import packaging

    stack.ensure_prerequisites(4, target)
    reported = target.client("lambda").get_function_configuration(
        FunctionName=target.names.function("disconnect"))["CodeSha256"]
    assert reported == packaging.code_sha256(packaging.build_zip("disconnect"))


def test_cleanup_deletes_the_api_s_execution_log_group_by_its_exact_name(
        cloud: LocalCloud, target) -> None:
    """API Gateway makes ``API-Gateway-Execution-Logs_{apiId}/{stage}`` (untagged) when a
    stage's execution logging is turned on (API Gateway Developer Guide, "Set up CloudWatch
    API logging"): it is the learner's because its API is, so ``leftovers`` lists it and
    clean-up deletes it; another API's group, with the same prefix, is left alone."""
    from tests.integration import kit

    kit.ensure_logging_role(cloud)
    stack.ensure_prerequisites(5, target)
    apigw, logs = target.client("apigatewayv2"), target.client("logs")
    api_id = stack.find_api_id(target)
    apigw.update_stage(ApiId=api_id, StageName=target.names.stage,
                       DefaultRouteSettings={"LoggingLevel": "ERROR"})
    group = f"API-Gateway-Execution-Logs_{api_id}/{target.names.stage}"
    other = apigw.create_api(Name="someone-else", ProtocolType="WEBSOCKET",
                             RouteSelectionExpression="$request.body.action")["ApiId"]
    apigw.create_stage(ApiId=other, StageName="dev",
                       DefaultRouteSettings={"LoggingLevel": "ERROR"})
    theirs = f"API-Gateway-Execution-Logs_{other}/dev"
    assert group in leftovers(target)["log groups"]
    assert theirs not in leftovers(target)["log groups"]
    said: list[str] = []
    delete_everything(target, say=said.append)
    assert f"deleted log group {group}" in said
    assert not any(leftovers(target).values())
    existing = {g["logGroupName"] for g in logs.describe_log_groups(
        logGroupNamePrefix="API-Gateway-Execution-Logs_")["logGroups"]}
    assert group not in existing and theirs in existing
    apigw.delete_api(ApiId=other)
    logs.delete_log_group(logGroupName=theirs)
