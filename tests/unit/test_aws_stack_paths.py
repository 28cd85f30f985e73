"""The stack, clean-up and account-role code on its real-AWS branches, with botocore's Stubber.

Every stubbed call's parameters and responses are validated against the service models, and
a call the code makes that a test did not expect fails the test, so these check what would
be sent to AWS: no call reaches the network.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from workshop_utils import cleanup, logging_role, stack
from workshop_utils.identity import Identity
from workshop_utils.ownership import OwnershipError
from workshop_utils.target import Target, client_key

ACCOUNT = "111122223333"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"


class Stubs:
    """Stubbed clients of one AWS target; each service's stub is activated on first use."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.stubs: dict[str, Stubber] = {}

    def __getitem__(self, service: str) -> Stubber:
        if service not in self.stubs:
            client = boto3.client(service, region_name=self.target.region,
                                  aws_access_key_id="x", aws_secret_access_key="x")
            self.target._clients[client_key(service)] = client
            self.stubs[service] = Stubber(client)
            self.stubs[service].activate()
        return self.stubs[service]

    def assert_all_used(self) -> None:
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def aws(prefix: str = "wschat-alice", region: str = "eu-west-1", owner: str = ALICE,
        **kwargs) -> tuple[Target, Stubs]:
    target = Target("aws", region=region, prefix=prefix, **kwargs)
    target.__dict__["identity"] = Identity(owner, ACCOUNT)  # the STS answer, as cached
    return target, Stubs(target)


def tags_of(target: Target, owner: str | None = None) -> dict[str, str]:
    tags = dict(target.tags)
    if owner is not None:
        tags["workshop-owner"] = owner
    return tags


def api_item(api_id: str, name: str, tags: dict[str, str]) -> dict:
    return {"ApiId": api_id, "Name": name, "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": "$request.body.action", "Tags": tags}


def test_find_api_reads_every_page_of_get_apis() -> None:
    """botocore has a get_apis paginator (apigatewayv2 paginators-1.json); 25 APIs a page."""
    target, stubs = aws()
    apigw = stubs["apigatewayv2"]
    apigw.add_response("get_apis", {"Items": [api_item("a1", "someone-chat-api", {})],
                                    "NextToken": "page2"}, {})
    apigw.add_response("get_apis", {"Items": [api_item("b2", "wschat-alice-chat-api",
                                                       tags_of(target))]},
                       {"NextToken": "page2"})
    assert stack.find_api_id(target) == "b2"
    stubs.assert_all_used()


def test_clean_up_deletes_an_api_found_on_the_second_page() -> None:
    """The learner's API on the second page of get_apis is found and deleted; every other
    exact name (the authorizer's function, role and token secret included) is looked up."""
    target, stubs = aws()
    api_tags = tags_of(target)
    for stub, calls in (
        ("dynamodb", [("describe_table", "ResourceNotFoundException")]),
        ("iam", [("get_role", "NoSuchEntity")] * 2),  # the chat's role, the authorizer's
        ("lambda", [("get_function", "ResourceNotFoundException")] * 4),
    ):
        for operation, code in calls:
            stubs[stub].add_client_error(operation, code, "not found", 404)
    apigw = stubs["apigatewayv2"]
    apigw.add_response("get_apis", {"Items": [], "NextToken": "t"}, {})
    apigw.add_response("get_apis", {"Items": [api_item("b2", "wschat-alice-chat-api",
                                                       api_tags)]}, {"NextToken": "t"})
    # its stages name its execution log groups exactly (none exists here)
    apigw.add_response("get_stages", {"Items": [{"StageName": "dev"}]}, {"ApiId": "b2"})
    for _ in range(6):  # the 5 names, then API-Gateway-Execution-Logs_b2/dev
        stubs["logs"].add_response("describe_log_groups", {"logGroups": []}, {
            "logGroupNamePrefix": ANY})
    stubs["ssm"].add_response("describe_parameters", {"Parameters": []}, {
        "ParameterFilters": [{"Key": "Name", "Option": "Equals",
                              "Values": ["wschat-alice-chat-token-secret"]}]})
    apigw.add_response("delete_api", {}, {"ApiId": "b2"})
    said: list[str] = []
    cleanup.delete_everything(target, say=said.append)
    assert said == ["deleted API wschat-alice-chat-api (b2)"]
    stubs.assert_all_used()


SECRET = "wschat-alice-chat-token-secret"
SECRET_ARN = f"arn:aws:ssm:eu-west-1:{ACCOUNT}:parameter/{SECRET}"


def nothing_but_a_token_secret_owned_by(target: Target, stubs: Stubs, owner: str) -> None:
    """The answers for a stack of which only the token secret exists, tagged with ``owner``:
    every other exact name is not found; the secret is found by its exact name
    (DescribeParameters' Equals filter: its metadata, never its value), then its tags."""
    for service, operation, code, count in (
            ("dynamodb", "describe_table", "ResourceNotFoundException", 1),
            ("iam", "get_role", "NoSuchEntity", 2),
            ("lambda", "get_function", "ResourceNotFoundException", 4)):
        for _ in range(count):
            stubs[service].add_client_error(operation, code, "not found", 404)
    stubs["apigatewayv2"].add_response("get_apis", {"Items": []}, {})
    for _ in range(5):
        stubs["logs"].add_response("describe_log_groups", {"logGroups": []}, {
            "logGroupNamePrefix": ANY})
    secret_found(target, stubs, owner)


def secret_found(target: Target, stubs: Stubs, owner: str) -> None:
    """The answers of the token secret's exact-name lookup and its tags, owned by ``owner``."""
    stubs["ssm"].add_response("describe_parameters", {"Parameters": [
        {"Name": SECRET, "ARN": SECRET_ARN, "Type": "SecureString"}]}, {
        "ParameterFilters": [{"Key": "Name", "Option": "Equals", "Values": [SECRET]}]})
    stubs["ssm"].add_response("list_tags_for_resource", {"TagList": [
        {"Key": k, "Value": v} for k, v in tags_of(target, owner).items()]},
        {"ResourceType": "Parameter", "ResourceId": SECRET})


def test_clean_up_deletes_my_token_secret() -> None:
    """The token secret (an SSM parameter) carrying the learner's own owner tag is deleted
    with the stack."""
    target, stubs = aws()
    nothing_but_a_token_secret_owned_by(target, stubs, ALICE)
    stubs["ssm"].add_response("delete_parameter", {}, {"Name": SECRET})
    said: list[str] = []
    assert cleanup.delete_everything(target, say=said.append) == []
    assert said == [f"deleted parameter {SECRET}"]
    stubs.assert_all_used()


def test_clean_up_leaves_a_token_secret_someone_else_made() -> None:
    """A token secret under the learner's name with another owner is reported and left alone
    (no DeleteParameter)."""
    target, stubs = aws(owner=BOB)
    nothing_but_a_token_secret_owned_by(target, stubs, ALICE)
    said: list[str] = []
    (other,) = cleanup.delete_everything(target, say=said.append)
    assert (other.kind, other.name, other.arn) == ("parameters", SECRET, SECRET_ARN)
    assert said == [f"left alone: parameter {SECRET} is not yours (its workshop-owner is "
                    f"{ALICE})"]
    stubs.assert_all_used()


def put_secret_expected(target: Target) -> dict:
    """What ensure_token_secret's first PutParameter sends (the value is random)."""
    return {"Name": SECRET, "Value": ANY, "Type": "SecureString", "Description": ANY,
            "Tags": [{"Key": k, "Value": v} for k, v in target.tags.items()]}


def secret_exists(target: Target, stubs: Stubs, owner: str) -> None:
    """The answers when the token secret already exists, tagged with ``owner``: PutParameter
    refuses, then the exact-name lookup and its tags."""
    stubs["ssm"].add_client_error("put_parameter", "ParameterAlreadyExists", "exists", 400,
                                  expected_params=put_secret_expected(target))
    secret_found(target, stubs, owner)


def test_the_token_secret_is_put_once_and_kept_on_a_rerun() -> None:
    """A re-run meets ParameterAlreadyExists, checks the parameter is the learner's, and puts
    nothing: the secret, and every token minted with it, stays."""
    target, stubs = aws()
    secret_exists(target, stubs, ALICE)
    assert stack.ensure_token_secret(target) is False
    stubs.assert_all_used()


def test_rotating_the_token_secret_overwrites_without_tags() -> None:
    """rotate=True puts a new value with Overwrite and no Tags (PutParameter refuses both
    together), after the ownership check."""
    target, stubs = aws()
    secret_exists(target, stubs, ALICE)
    stubs["ssm"].add_response("put_parameter", {"Version": 2}, {
        "Name": SECRET, "Value": ANY, "Type": "SecureString", "Overwrite": True})
    assert stack.ensure_token_secret(target, rotate=True) is True
    stubs.assert_all_used()


def test_a_token_secret_someone_else_made_is_refused_not_overwritten() -> None:
    """A parameter with the learner's secret name but another owner: OwnershipError, and no
    rotation even when asked."""
    target, stubs = aws(owner=BOB)
    secret_exists(target, stubs, ALICE)
    with pytest.raises(OwnershipError, match=SECRET):
        stack.ensure_token_secret(target, rotate=True)
    stubs.assert_all_used()


TABLE = "wschat-alice-connections"
TABLE_ARN = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/{TABLE}"


def a_table_whose_tags_read(stubs: Stubs, *tag_reads: dict[str, str]) -> None:
    """describe_table finds the learner's table, then each list_tags_of_resource answers the
    next of ``tag_reads`` (an empty one: the tags have not shown yet)."""
    stubs["dynamodb"].add_response("describe_table", {"Table": {"TableArn": TABLE_ARN}},
                                   {"TableName": TABLE})
    for read, tags in enumerate(tag_reads):
        if read:  # each re-read looks the table up again
            stubs["dynamodb"].add_response("describe_table", {"Table": {"TableArn": TABLE_ARN}},
                                           {"TableName": TABLE})
        stubs["dynamodb"].add_response("list_tags_of_resource", {"Tags": [
            {"Key": k, "Value": v} for k, v in tags.items()]}, {"ResourceArn": TABLE_ARN})


@pytest.fixture
def fake_clock(monkeypatch) -> list[float]:
    """waiting's clock, virtual: each sleep moves it on and is recorded; nothing waits."""
    from types import SimpleNamespace

    from workshop_utils import waiting

    now, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(waiting, "time", SimpleNamespace(monotonic=lambda: now[0], sleep=sleep))
    return slept


def test_ensure_table_right_after_creating_it_waits_for_its_tags(fake_clock) -> None:
    """DynamoDB's ListTagsOfResource is eventually consistent ("might return [...] an empty
    tag set [...] Wait for a few seconds, and then try [...] again", TagResource, DynamoDB API
    Reference): the learner's new table reads untagged, then with their tags, and is theirs."""
    target, stubs = aws()
    a_table_whose_tags_read(stubs, {}, {}, tags_of(target))
    ddb = stubs["dynamodb"]
    ddb.add_response("describe_table", {"Table": {"TableName": TABLE, "TableStatus": "ACTIVE"}},
                     {"TableName": TABLE})  # the table_exists waiter
    ddb.add_response("describe_time_to_live", {"TimeToLiveDescription": {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}}, {"TableName": TABLE})
    ddb.add_response("describe_table", {"Table": {"TableArn": TABLE_ARN}}, {"TableName": TABLE})
    assert stack.ensure_table(target) == TABLE_ARN  # no OwnershipError, no create_table
    assert fake_clock == [0.5, 1.0]
    stubs.assert_all_used()


def test_a_table_that_stays_untagged_is_refused_after_a_bounded_wait(fake_clock) -> None:
    """A table with the learner's name that still has no tags after the few seconds is refused
    (made by hand or by someone else), and the wait stopped at its bound."""
    target, stubs = aws()
    a_table_whose_tags_read(stubs, *[{}] * 7)
    with pytest.raises(OwnershipError, match="it has no workshop-owner tag"):
        stack.ensure_table(target)
    assert sum(fake_clock) <= target.tag_settle_s and len(fake_clock) == 6
    stubs.assert_all_used()


def test_the_local_target_reads_tags_once() -> None:
    """On the local cloud tags show at once: an untagged resource is not read again."""
    local = Target("local", region="us-east-1", prefix="wschat", aws_endpoint="http://x")
    assert local.tag_settle_s == 0
    reads: list[int] = []
    from workshop_utils import waiting

    assert waiting.until_tagged({"untagged": True}, lambda: reads.append(1),
                                lambda found: {}, timeout_s=local.tag_settle_s) == {
        "untagged": True}
    assert reads == []


def test_a_table_tagged_with_another_owner_is_refused_not_adopted() -> None:
    """A table with the learner's name and another owner tag stops ensure_table before any
    change."""
    target, stubs = aws(owner=BOB)
    arn = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/wschat-alice-connections"
    stubs["dynamodb"].add_response("describe_table", {"Table": {"TableArn": arn}},
                                   {"TableName": "wschat-alice-connections"})
    stubs["dynamodb"].add_response("list_tags_of_resource", {"Tags": [
        {"Key": k, "Value": v} for k, v in tags_of(target, ALICE).items()]},
        {"ResourceArn": arn})
    with pytest.raises(OwnershipError, match=f"its workshop-owner is {ALICE}.*you are {BOB}"):
        stack.ensure_table(target)  # no create_table, no update_time_to_live: nothing changed
    stubs.assert_all_used()


def test_a_function_log_group_is_created_with_tags_and_a_retention() -> None:
    """Lambda would create it on first write, untagged and never expiring (CloudWatch Logs:
    "By default, log data is stored in CloudWatch Logs indefinitely")."""
    target, stubs = aws()
    group = "/aws/lambda/wschat-alice-connect"
    stubs["logs"].add_response("create_log_group", {}, {"logGroupName": group,
                                                        "tags": target.tags})
    stubs["logs"].add_response("put_retention_policy", {}, {
        "logGroupName": group, "retentionInDays": stack.LOG_RETENTION_DAYS})
    assert stack.ensure_log_group(target, group) == (
        f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{group}")
    stubs.assert_all_used()


GROUP = "/aws/lambda/wschat-alice-connect"
GROUP_ARN = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:{GROUP}"


def an_untagged_group_of_a_function_owned_by(target: Target, stubs: Stubs, owner: str) -> None:
    """The answers for a function log group that Lambda made (no tags), whose function has
    ``owner``."""
    logs = stubs["logs"]
    logs.add_client_error("create_log_group", "ResourceAlreadyExistsException", "exists", 400)
    logs.add_response("describe_log_groups", {"logGroups": [
        {"logGroupName": GROUP, "arn": f"{GROUP_ARN}:*", "logGroupArn": GROUP_ARN}]},
        {"logGroupNamePrefix": GROUP})
    logs.add_response("list_tags_for_resource", {"tags": {}}, {"resourceArn": GROUP_ARN})
    stubs["lambda"].add_response("get_function", {
        "Configuration": {"FunctionName": "wschat-alice-connect",
                          "FunctionArn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:"
                                         "wschat-alice-connect"},
        "Tags": tags_of(target, owner)}, {"FunctionName": "wschat-alice-connect"})


def test_an_untagged_log_group_of_my_function_is_tagged_and_given_a_retention() -> None:
    """A log group Lambda made for the learner's function is adopted: tagged, then given the
    retention."""
    target, stubs = aws()
    an_untagged_group_of_a_function_owned_by(target, stubs, ALICE)
    stubs["logs"].add_response("tag_resource", {}, {"resourceArn": GROUP_ARN,
                                                    "tags": target.tags})
    stubs["logs"].add_response("put_retention_policy", {}, {"logGroupName": GROUP,
                                                            "retentionInDays": 7})
    stack.ensure_log_group(target, GROUP)
    stubs.assert_all_used()


def test_an_untagged_log_group_of_someone_elses_function_is_refused() -> None:
    """An untagged log group whose function is someone else's is refused and left unchanged."""
    target, stubs = aws(owner=BOB)
    an_untagged_group_of_a_function_owned_by(target, stubs, ALICE)
    with pytest.raises(OwnershipError, match=f"log group {GROUP}"):
        stack.ensure_log_group(target, GROUP)  # no tag_resource, no put_retention_policy
    stubs.assert_all_used()


def test_the_role_gets_the_permissions_boundary_when_one_is_set() -> None:
    """With WORKSHOP_PERMISSIONS_BOUNDARY set, create_role carries PermissionsBoundary."""
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/workshop-boundary"
    target, stubs = aws(permissions_boundary=boundary)
    iam = stubs["iam"]
    iam.add_client_error("get_role", "NoSuchEntity", "no role", 404)
    iam.add_response("create_role", {"Role": {
        "Path": "/", "RoleName": "wschat-alice-chat-role", "RoleId": "AROAEXAMPLEEXAMPLE1",
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/wschat-alice-chat-role",
        "CreateDate": "2026-12-01T00:00:00Z"}}, {
        "RoleName": "wschat-alice-chat-role", "AssumeRolePolicyDocument": ANY,
        "Description": ANY, "Tags": stack.tag_list(target), "PermissionsBoundary": boundary})
    stubs["apigatewayv2"].add_response("get_apis", {"Items": []}, {})
    iam.add_response("put_role_policy", {}, {"RoleName": "wschat-alice-chat-role",
                                             "PolicyName": "wschat-alice-chat-policy",
                                             "PolicyDocument": ANY})
    stack.ensure_role(target)
    stubs.assert_all_used()


def test_deleting_the_role_detaches_managed_policies_first() -> None:
    """DeleteRole: "you must first remove [...] attached managed policies" (IAM API Reference)."""
    target, stubs = aws()
    iam, role = stubs["iam"], {"RoleName": "wschat-alice-chat-role"}
    iam.add_response("list_role_policies", {"PolicyNames": ["wschat-alice-chat-policy"],
                                            "IsTruncated": False}, role)
    iam.add_response("delete_role_policy", {}, {**role, "PolicyName": "wschat-alice-chat-policy"})
    managed = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    iam.add_response("list_attached_role_policies", {"AttachedPolicies": [
        {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": managed}],
        "IsTruncated": False}, role)
    iam.add_response("detach_role_policy", {}, {**role, "PolicyArn": managed})
    iam.add_response("list_instance_profiles_for_role", {"InstanceProfiles": [],
                                                         "IsTruncated": False}, role)
    iam.add_response("delete_role", {}, role)
    assert cleanup.delete_role(target, "wschat-alice-chat-role")
    stubs.assert_all_used()


@pytest.mark.parametrize(("region", "partition"), [("cn-northwest-1", "aws-cn"),
                                                   ("us-gov-east-1", "aws-us-gov")])
def test_integration_uri_and_invoke_permission_use_the_partition(region, partition) -> None:
    """In China and GovCloud the integration URI and the invoke permission's SourceArn use that
    partition."""
    target, stubs = aws(region=region)
    fn = f"arn:{partition}:lambda:{region}:{ACCOUNT}:function:wschat-alice-connect"
    assert stack.integration_uri(target, fn) == (
        f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{fn}/invocations")
    stubs["lambda"].add_response("add_permission", {"Statement": "{}"}, {
        "FunctionName": "wschat-alice-connect", "StatementId": "apigateway-a1",
        "Action": "lambda:InvokeFunction", "Principal": "apigateway.amazonaws.com",
        "SourceArn": f"arn:{partition}:execute-api:{region}:{ACCOUNT}:a1/*"})
    stack.allow_invoke_from_api(target.client("lambda"), "wschat-alice-connect", region,
                                ACCOUNT, "a1", partition=target.partition)
    stubs.assert_all_used()


def test_the_account_logging_role_check_says_what_to_do() -> None:
    """Without cloudwatchRoleArn the check names `workshop class setup`; with it, it returns
    the ARN."""
    target, stubs = aws()
    stubs["apigateway"].add_response("get_account", {"throttleSettings": {
        "burstLimit": 5000, "rateLimit": 10000.0}}, {})
    with pytest.raises(logging_role.LoggingRoleMissing, match="workshop class setup"):
        logging_role.check(target)
    arn = f"arn:aws:iam::{ACCOUNT}:role/workshop-apigateway-logs"
    stubs["apigateway"].add_response("get_account", {"cloudwatchRoleArn": arn}, {})
    assert logging_role.check(target) == arn
    stubs.assert_all_used()


def test_setup_creates_the_role_and_waits_for_iam_before_update_account() -> None:
    """A new role is not usable by API Gateway for a few seconds: update_account answers
    BadRequest "The role ARN does not have required permissions set to API Gateway"."""
    target, stubs = aws()
    apigateway, iam = stubs["apigateway"], stubs["iam"]
    arn = f"arn:aws:iam::{ACCOUNT}:role/workshop-apigateway-logs"
    apigateway.add_response("get_account", {}, {})
    iam.add_response("create_role", {"Role": {
        "Path": "/", "RoleName": "workshop-apigateway-logs", "RoleId": "AROAEXAMPLEEXAMPLE2",
        "Arn": arn, "CreateDate": "2026-12-01T00:00:00Z"}}, {
        "RoleName": "workshop-apigateway-logs", "AssumeRolePolicyDocument": ANY,
        "Description": ANY, "Tags": [{"Key": "workshop", "Value": target.tags["workshop"]},
                                     {"Key": "workshop-owner", "Value": ALICE}]})
    iam.add_response("put_role_policy", {}, {
        "RoleName": "workshop-apigateway-logs", "PolicyName": "workshop-apigateway-logs",
        "PolicyDocument": json.dumps(logging_role.permissions(target))})
    patch = {"patchOperations": [{"op": "replace", "path": "/cloudwatchRoleArn",
                                  "value": arn}]}
    apigateway.add_client_error("update_account", "BadRequestException", "The role ARN does "
                                "not have required permissions set to API Gateway", 400,
                                expected_params=patch)
    apigateway.add_response("update_account", {"cloudwatchRoleArn": arn}, patch)
    sleeps: list[float] = []
    assert logging_role.setup(target, say=lambda line: None, sleep=sleeps.append) == arn
    assert sleeps == [1.0]
    assert logging_role.permissions(target)["Statement"][0]["Resource"] == (
        f"arn:aws:logs:*:{ACCOUNT}:*")
    stubs.assert_all_used()


def test_ensure_tells_a_learner_who_may_not_set_the_role_to_ask_the_instructor() -> None:
    """A learner denied CreateRole is told to ask the instructor for `workshop class setup`."""
    target, stubs = aws()
    stubs["apigateway"].add_response("get_account", {}, {})
    stubs["apigateway"].add_response("get_account", {}, {})
    stubs["iam"].add_client_error("create_role", "AccessDenied", "not authorized", 403)
    with pytest.raises(logging_role.LoggingRoleMissing, match="instructor runs `workshop "
                       "class setup`"):
        logging_role.ensure(target, say=lambda line: None)
    stubs.assert_all_used()
