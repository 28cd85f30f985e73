"""AWS managed policies exist, attach by their real ARNs and are enforced like any other policy.

Every Lambda tutorial attaches ``arn:aws:iam::aws:policy/service-role/
AWSLambdaBasicExecutionRole`` (logs:CreateLogGroup, logs:CreateLogStream, logs:PutLogEvents on
``*``: AWS's document, as moto ships it, /work/research/lambda-and-iam.md §6.1). Attached to an
execution role it lets the function's logs be delivered and allows nothing else; attached
through CloudFormation's ``ManagedPolicyArns`` it does the same. A role with policies attached
cannot be deleted (409 DeleteConflict, "Cannot delete entity, must detach all policies first.",
observed: ansible/ansible#22832, hashicorp/boundary#5646).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.timing import SECOND
from workshop_utils.localcloud import LocalCloud

from . import kit

BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
DYNAMODB_FULL = "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess"
TABLE = "managed-items"
PROBE = f"""
import boto3
ddb = boto3.client("dynamodb")

def handler(event, context):
    print("probe ran")
    try:
        ddb.put_item(TableName={TABLE!r}, Item={{"id": {{"S": context.aws_request_id}}}})
        return "put"
    except ddb.exceptions.ClientError as err:
        return err.response["Error"]["Code"]
"""


def role_with(cloud: LocalCloud, name: str, *policy_arns: str) -> str:
    """A role trusting Lambda with only the managed policies ``policy_arns`` attached."""
    iam = cloud.client("iam")
    arn = iam.create_role(RoleName=name,
                          AssumeRolePolicyDocument=json.dumps(kit.TRUST_POLICY))["Role"]["Arn"]
    for policy_arn in policy_arns:
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
    return arn


def function_with(cloud: LocalCloud, name: str, role_arn: str) -> None:
    cloud.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role_arn, Handler="app.handler",
        Code={"ZipFile": kit.zip_source({"app.py": PROBE})})


def log_messages(cloud: LocalCloud, name: str) -> list[str]:
    logs = cloud.client("logs")
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [event["message"] for event in events]


@pytest.fixture(scope="module")
def table(cloud: LocalCloud) -> str:
    kit.create_table(cloud, TABLE)
    return TABLE


def test_the_basic_execution_role_delivers_logs_and_allows_nothing_else(
        cloud: LocalCloud, table: str) -> None:
    """AWSLambdaBasicExecutionRole, attached by its ARN, is AWS's document; with it alone the
    function's log is delivered and its DynamoDB call is denied."""
    iam = cloud.client("iam")
    policy = iam.get_policy(PolicyArn=BASIC)["Policy"]
    assert (policy["PolicyName"], policy["Path"]) == ("AWSLambdaBasicExecutionRole",
                                                      "/service-role/")
    document = iam.get_policy_version(PolicyArn=BASIC, VersionId=policy["DefaultVersionId"])[
        "PolicyVersion"]["Document"]
    actions = sorted(a for st in document["Statement"] for a in actions_of(st))
    assert actions == ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    function_with(cloud, "managed-basic", role_with(cloud, "managed-basic", BASIC))
    assert kit.invoke_json(cloud, "managed-basic")["Payload"] == "AccessDeniedException"
    assert "probe ran\n" in log_messages(cloud, "managed-basic")
    attached = iam.list_attached_role_policies(RoleName="managed-basic")["AttachedPolicies"]
    assert attached == [{"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC}]


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def test_dynamodb_full_access_allows_the_table_and_its_absence_loses_the_logs(
        cloud: LocalCloud, table: str) -> None:
    """AmazonDynamoDBFullAccess alone lets the function write the table, and (no logs:
    statement) its log is lost, as on AWS."""
    function_with(cloud, "managed-ddb", role_with(cloud, "managed-ddb", DYNAMODB_FULL))
    assert kit.invoke_json(cloud, "managed-ddb")["Payload"] == "put"
    assert log_messages(cloud, "managed-ddb") == []


def test_a_new_default_version_of_a_managed_policy_takes_effect_at_once(
        cloud: LocalCloud, table: str) -> None:
    """A customer managed policy attached to the role gets a new default version allowing
    PutItem: the next invocation is allowed (the decision is not kept for the old version)."""
    iam = cloud.client("iam")

    def document(*actions: str) -> str:
        return json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})

    arn = iam.create_policy(PolicyName="managed-versions",
                            PolicyDocument=document("logs:*"))["Policy"]["Arn"]
    function_with(cloud, "managed-versions", role_with(cloud, "managed-versions", arn))
    assert kit.invoke_json(cloud, "managed-versions")["Payload"] == "AccessDeniedException"
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=document("logs:*", "dynamodb:*"),
                              SetAsDefault=True)
    assert kit.invoke_json(cloud, "managed-versions")["Payload"] == "put"


def test_a_role_with_policies_attached_cannot_be_deleted(cloud: LocalCloud) -> None:
    """delete_role with an AWS managed policy attached: 409 DeleteConflict "Cannot delete
    entity, must detach all policies first."; with an inline policy: "must delete policies
    first." (cloud-custodian#6109); once both are gone it is deleted."""
    iam = cloud.client("iam")
    role_with(cloud, "managed-delete", BASIC)
    iam.put_role_policy(RoleName="managed-delete", PolicyName="inline",
                        PolicyDocument=json.dumps(kit.TEST_ROLE_POLICY))
    for detach, message in (
        (lambda: iam.detach_role_policy(RoleName="managed-delete", PolicyArn=BASIC),
         "Cannot delete entity, must detach all policies first."),
        (lambda: iam.delete_role_policy(RoleName="managed-delete", PolicyName="inline"),
         "Cannot delete entity, must delete policies first."),
    ):
        with pytest.raises(iam.exceptions.DeleteConflictException) as conflict:
            iam.delete_role(RoleName="managed-delete")
        assert conflict.value.response["Error"]["Code"] == "DeleteConflict"
        assert conflict.value.response["Error"]["Message"] == message
        assert conflict.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409
        detach()
    iam.delete_role(RoleName="managed-delete")
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName="managed-delete")


def test_cloudformation_managed_policy_arns_are_attached_and_detached_with_the_stack(
        cloud: LocalCloud, table: str) -> None:
    """An AWS::IAM::Role with ManagedPolicyArns [AWSLambdaBasicExecutionRole] gets it attached
    (its function's logs are delivered); deleting the stack detaches it and deletes the role
    (AWS::IAM::Role, ManagedPolicyArns: CloudFormation User Guide)."""
    template = {"Resources": {"ExecRole": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "managed-cfn", "AssumeRolePolicyDocument": kit.TRUST_POLICY,
        "ManagedPolicyArns": [BASIC]}}}}
    cfn = cloud.client("cloudformation")
    cfn.create_stack(StackName="managed-cfn", TemplateBody=json.dumps(template))
    iam = cloud.client("iam")
    attached = iam.list_attached_role_policies(RoleName="managed-cfn")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [BASIC]
    function_with(cloud, "managed-cfn", iam.get_role(RoleName="managed-cfn")["Role"]["Arn"])
    kit.invoke_json(cloud, "managed-cfn")
    assert "probe ran\n" in log_messages(cloud, "managed-cfn")
    cfn.delete_stack(StackName="managed-cfn")
    deadline = time.monotonic() + 10 * SECOND
    while any(r["RoleName"] == "managed-cfn" for r in iam.list_roles()["Roles"]):
        assert time.monotonic() < deadline, "the stack's role outlived the stack"
        time.sleep(0.05 * SECOND)
