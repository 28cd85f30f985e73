"""CreateFunction and UpdateFunctionConfiguration refuse what AWS refuses, with AWS's errors.

moto accepted all of these (NOTES-moto.md, "Found later"); on AWS each is a 400
InvalidParameterValueException, and the function is not created or not changed. Sources:
/work/research/lambda-and-iam.md §4, cited per test.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from workshop_utils.localcloud import LocalCloud

from . import kit

HANDLER = {"app.py": "def handler(event, context):\n    return 'ok'\n"}
RESERVED = ("Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not "
            "supported for modification. Reserved keys used in this request: ")
CANNOT_ASSUME = "The role defined for the function cannot be assumed by Lambda."


def create(cloud: LocalCloud, name: str, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "FunctionName": name, "Runtime": "python3.12", "Role": kit.ensure_role(cloud),
        "Handler": "app.handler", "Code": {"ZipFile": kit.zip_source(HANDLER)}}
    kwargs.update(overrides)
    return cloud.client("lambda").create_function(**kwargs)


def refused(call: Any) -> dict[str, Any]:
    """The error of a call that must be refused with a 400 InvalidParameterValueException."""
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "InvalidParameterValueException"
    assert response.get("Type") == "User"
    return response["Error"]


def exists(cloud: LocalCloud, name: str) -> bool:
    lam = cloud.client("lambda")
    try:
        lam.get_function(FunctionName=name)
        return True
    except lam.exceptions.ResourceNotFoundException:
        return False


@pytest.mark.parametrize("variables, named", [
    ({"AWS_REGION": "eu-west-1"}, "AWS_REGION"),
    ({"TABLE": "chat", "AWS_DEFAULT_REGION": "eu-west-1"}, "AWS_DEFAULT_REGION"),
    ({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"},
     "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"),
    ({"AWS_SESSION_TOKEN": "x"}, "AWS_SESSION_TOKEN"),
    ({"AWS_LAMBDA_FUNCTION_NAME": "x", "LAMBDA_TASK_ROOT": "/x", "_HANDLER": "a.b"},
     "AWS_LAMBDA_FUNCTION_NAME, LAMBDA_TASK_ROOT, _HANDLER"),
])
def test_reserved_environment_keys_are_refused_on_create_and_update(
        cloud: LocalCloud, variables: dict[str, str], named: str) -> None:
    """A reserved key (the developer guide's list, configuration-envvars, plus
    AWS_DEFAULT_REGION, observed refused in aws/aws-cdk#28048) is refused, naming the keys in
    the order given (observed: serverless-dotenv-plugin#28); the function is not created, and
    an update leaves the variables as they were."""
    name = "val-env-" + named.split(",")[0].lower().replace("_", "-").strip("-")
    error = refused(lambda: create(cloud, name, Environment={"Variables": variables}))
    assert error["Message"] == RESERVED + named
    assert not exists(cloud, name)
    create(cloud, name, Environment={"Variables": {"TABLE": "chat"}})
    lam = cloud.client("lambda")
    error = refused(lambda: lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": variables}))
    assert error["Message"] == RESERVED + named
    assert lam.get_function_configuration(FunctionName=name)["Environment"] == {
        "Variables": {"TABLE": "chat"}}


def test_unreserved_runtime_variables_may_be_set(cloud: LocalCloud) -> None:
    """The variables the developer guide lists as unreserved (PATH, LANG, TZ, PYTHONPATH,
    LD_LIBRARY_PATH, AWS_LAMBDA_EXEC_WRAPPER is not reserved either) are accepted."""
    variables = {"LANG": "C.UTF-8", "TZ": "UTC", "LD_LIBRARY_PATH": "/opt/lib",
                 "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "PYTHONUTF8": "1"}
    config = create(cloud, "val-env-ok", Environment={"Variables": variables})
    assert config["Environment"]["Variables"] == variables


def trusting(principal: Any, **statement: Any) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole", **statement}]})


@pytest.mark.parametrize("role, trust", [
    ("val-trusts-ec2", trusting({"Service": "ec2.amazonaws.com"})),
    ("val-trusts-list-without-lambda",
     trusting({"Service": ["ec2.amazonaws.com", "apigateway.amazonaws.com"]})),
    ("val-trusts-an-account", trusting({"AWS": "arn:aws:iam::123456789012:root"})),
    ("val-trusts-lambda-other-action",
     json.dumps({"Version": "2012-10-17", "Statement": [
         {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
          "Action": "sts:TagSession"}]})),
    ("val-trusts-lambda-other-account", trusting(
        {"Service": "lambda.amazonaws.com"},
        Condition={"StringEquals": {"aws:SourceAccount": "999999999999"}})),
    ("val-trusts-lambda-but-denies", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"},
        {"Effect": "Deny", "Principal": "*", "Action": "sts:*"}]})),
])
def test_a_role_lambda_cannot_assume_is_refused(cloud: LocalCloud, role: str,
                                                trust: str) -> None:
    """A trust policy that does not let lambda.amazonaws.com assume the role (another service,
    a list without Lambda, an account principal, another action, a condition that fails, a
    Deny) is refused on create and on update with AWS's text (observed since 2016,
    nficano/python-lambda#28, apex/up#189)."""
    arn = cloud.client("iam").create_role(RoleName=role,
                                          AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    name = role.replace("val-trusts", "val-role")
    error = refused(lambda: create(cloud, name, Role=arn))
    assert error["Message"] == CANNOT_ASSUME
    assert not exists(cloud, name)
    create(cloud, name)
    lam = cloud.client("lambda")
    error = refused(lambda: lam.update_function_configuration(FunctionName=name, Role=arn))
    assert error["Message"] == CANNOT_ASSUME
    assert lam.get_function_configuration(FunctionName=name)["Role"] == kit.ensure_role(cloud)


@pytest.mark.parametrize("role, trust", [
    ("val-trusts-lambda-in-a-list",
     trusting({"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]})),
    ("val-trusts-lambda-wildcard-action", json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": ["sts:Assume*", "sts:TagSession"]}]})),
    ("val-trusts-lambda-this-account", trusting(
        {"Service": "lambda.amazonaws.com"},
        Condition={"StringEquals": {"aws:SourceAccount": "123456789012"}})),
    ("val-trusts-lambda-this-function", trusting(
        {"Service": "lambda.amazonaws.com"},
        Condition={"ArnLike": {"aws:SourceArn":
                               "arn:aws:lambda:us-east-1:123456789012:function:val-ok-*"}})),
])
def test_a_role_lambda_may_assume_is_accepted(cloud: LocalCloud, role: str, trust: str) -> None:
    """lambda.amazonaws.com in a list of services, a wildcard action, or a condition on
    aws:SourceAccount / aws:SourceArn that holds for the function (chosen: the context keys
    Lambda is taken to assume the role with) is accepted."""
    arn = cloud.client("iam").create_role(RoleName=role,
                                          AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    name = role.replace("val-trusts-lambda", "val-ok")
    assert create(cloud, name, Role=arn)["Role"] == arn


def test_a_runtime_past_its_block_create_date_is_refused(cloud: LocalCloud) -> None:
    """python3.7 (block create 2024-01-09 in AWS's runtime table) is refused on create, and as
    the runtime an update sets, with AWS's text (LocalStack's AWS snapshot TestRuntimeValidation,
    2026-01-12); the function is not created or changed."""
    message = ("The runtime parameter of python3.7 is no longer supported for creating or "
               "updating AWS Lambda functions. We recommend you use a supported runtime while "
               "creating or updating functions.")
    error = refused(lambda: create(cloud, "val-py37", Runtime="python3.7"))
    assert error["Message"] == message
    assert not exists(cloud, "val-py37")
    create(cloud, "val-py37")
    lam = cloud.client("lambda")
    error = refused(lambda: lam.update_function_configuration(FunctionName="val-py37",
                                                              Runtime="python3.7"))
    assert error["Message"] == message
    assert lam.get_function_configuration(FunctionName="val-py37")["Runtime"] == "python3.12"


@pytest.mark.parametrize("runtime", ["python3.6", "python4.0", "PYTHON3.12", "python"])
def test_an_unknown_runtime_is_refused_with_aws_s_enum(cloud: LocalCloud, runtime: str) -> None:
    """A runtime Lambda does not list (gone from the enum, misspelt, wrong case) is refused
    with AWS's enum error, on create and on update (LocalStack's AWS snapshot
    TestLambdaFunction::test_create_lambda_exceptions, 2026-01-12)."""
    name = "val-rt-" + runtime.lower().replace(".", "")
    error = refused(lambda: create(cloud, name, Runtime=runtime))
    assert error["Message"] == (
        f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        "value set: [nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, "
        "nodejs24.x, nodejs22.x, java25, python3.10, python3.11, java21, ruby3.3, ruby3.4, "
        "ruby3.2, python3.8, python3.9, java17, nodejs16.x, dotnet10, dotnet8, java11, "
        "dotnet6, nodejs18.x, provided.al2, java8.al2] or be a valid ARN")
    create(cloud, name)
    lam = cloud.client("lambda")
    assert refused(lambda: lam.update_function_configuration(
        FunctionName=name, Runtime=runtime))["Message"] == error["Message"]


@pytest.mark.parametrize("runtime", ["python3.8", "python3.9", "python3.10", "python3.11",
                                     "python3.12", "python3.13", "python3.14"])
def test_runtimes_aws_still_accepts_are_accepted(cloud: LocalCloud, runtime: str) -> None:
    """What AWS accepts on 2026-12-01 is accepted: python3.8 to python3.10 are deprecated but
    not blocked before 2027-02-01, python3.11 (the tests') before 2027-07-31, python3.12 (the
    workshop's) before 2028-11-30 (AWS's runtime table, cfn-lint afd7953b, 2026-06-02)."""
    name = "val-ok-" + runtime.replace(".", "")
    assert create(cloud, name, Runtime=runtime)["Runtime"] == runtime
    lam = cloud.client("lambda")
    lam.update_function_code(FunctionName=name, ZipFile=kit.zip_source(HANDLER))
    assert lam.update_function_configuration(FunctionName=name, Description="updated")[
        "Description"] == "updated"
