"""Several learners in one account: exact names, one owner per resource, the class commands.

The issue: learner ``wschat``'s clean-up deleted ``wschat-alice``'s log groups and counted her
stack as its leftovers (string prefixes), and two learners with one default prefix shared, then
deleted, one stack (resources were adopted whoever made them). Learners here are simulated on
one local cloud both ways the workshop meets them: the same identity with prefixes that extend
one another, and distinct identities (IAM users with access keys made in the local cloud, for
which moto's ``sts.get_caller_identity`` answers each user's own ARN).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from workshop_utils import cli, inventory, logging_role, packaging, stack, tokens
from workshop_utils.cleanup import delete_everything, leftovers, log_groups
from workshop_utils.localcloud import LocalCloud
from workshop_utils.ownership import OwnershipError
from workshop_utils.target import Names, Target, local_target
from workshop_utils.waiting import read_log_events


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    """A cloud of this module's own: the class commands see every stack in it."""
    with LocalCloud() as running:
        yield running


_KEYS: dict[tuple[str, str], tuple[str, str]] = {}  # (cloud home, user) -> access key


def learner(cloud: LocalCloud, prefix: str, user: str | None = None) -> Target:
    """A learner's target: moto's default identity, or IAM user ``user``'s own keys."""
    if user is None:
        return local_target(cloud.state, prefix)
    where = (str(cloud.settings.home), user)
    if where not in _KEYS:
        iam = cloud.client("iam")
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        _KEYS[where] = (key["AccessKeyId"], key["SecretAccessKey"])
    return local_target(cloud.state, prefix, _KEYS[where])


def add_authorizer_pieces(target: Target, *, secret_only: bool = False) -> None:
    """What the authorizer step makes, tagged as every step tags (no notebook makes them yet):
    the token secret (an SSM SecureString), the authorizer's own role and policy, its log
    group and the function itself."""
    names = target.names
    target.client("ssm").put_parameter(
        Name=names.token_parameter, Value=tokens.new_secret(), Type="SecureString",
        Tags=stack.tag_list(target))
    if secret_only:
        return
    iam = target.client("iam")
    role_arn = iam.create_role(
        RoleName=names.authorizer_role, Tags=stack.tag_list(target),
        AssumeRolePolicyDocument=json.dumps(packaging.trust_policy()))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=names.authorizer_role, PolicyName=names.authorizer_policy,
        PolicyDocument=json.dumps(packaging.render_authorizer_policy(
            target.region, target.account_id, names.token_parameter,
            names.function("authorizer"), partition=target.partition)))
    function = names.function("authorizer")
    stack.ensure_log_group(target, Names.function_log_group(function))
    target.client("lambda").create_function(
        FunctionName=function, Runtime="python3.12", Role=role_arn,
        Handler="app.lambda_handler", Code={"ZipFile": packaging.build_zip("authorizer")},
        Environment={"Variables": {"SECRET_PARAMETER": names.token_parameter}},
        Tags=target.tags)


def build_everything(target: Target) -> None:
    """The chat (notebooks 01-04) and the authorizer's pieces: every name of the series but
    the access log."""
    stack.build_chat(target)
    add_authorizer_pieces(target)


def everything_exists(target: Target) -> bool:
    found = inventory.stack(target)
    expected = {(kind, name) for kind, names in target.names.everything().items()
                for name in names if name != target.names.access_log_group}
    return expected <= {(f.kind, f.name) for f in found}


def test_prefixes_that_extend_one_another_clean_up_only_their_own(cloud) -> None:
    """``wschat`` and ``wschat-alice`` (same identity): nothing of hers is wschat's, the
    authorizer's function, role, log group and token secret included."""
    short, long = learner(cloud, "wschat"), learner(cloud, "wschat-alice")
    build_everything(short)
    build_everything(long)
    mine = leftovers(short)
    assert mine == {kind: sorted(n for n in names if n != short.names.access_log_group)
                    for kind, names in short.names.everything().items()}
    assert not any("alice" in name for names in mine.values() for name in names)
    said: list[str] = []
    assert delete_everything(short, say=said.append) == []
    assert said and not any("alice" in line for line in said), said
    assert not any(leftovers(short).values())
    assert everything_exists(long)  # her log groups, functions, roles, table, API, secret stayed
    assert len(leftovers(long)["log groups"]) == 4
    assert leftovers(long)["parameters"] == ["wschat-alice-chat-token-secret"]


def test_a_stack_under_my_prefix_made_by_someone_else_is_refused_not_adopted(cloud) -> None:
    """Bob, with alice's prefix, gets an OwnershipError at the first step, and his clean-up
    leaves her stack alone."""
    alice = learner(cloud, "wschat-shared", "alice")
    build_everything(alice)
    bob = learner(cloud, "wschat-shared", "bob")
    assert alice.owner.endswith(":user/alice") and bob.owner.endswith(":user/bob")
    with pytest.raises(OwnershipError) as refused:
        stack.build_chat(bob)
    message = str(refused.value)
    assert "table wschat-shared-connections" in message and alice.owner in message
    assert "WORKSHOP_PREFIX" in message
    with pytest.raises(OwnershipError):
        stack.require(5, bob)
    # bob's clean-up deletes nothing of hers and says why; his leftovers are empty
    said: list[str] = []
    others = delete_everything(bob, say=said.append)
    assert {f.kind for f in others} == {"apis", "functions", "log groups", "parameters",
                                        "roles", "tables"}
    assert {f.name for f in others} >= {alice.names.authorizer_role,
                                        alice.names.token_parameter}
    assert all(line.startswith("left alone:") for line in said)
    assert not any(leftovers(bob).values())
    assert everything_exists(alice)
    stack.require(5, alice)


@pytest.mark.parametrize("kind", ["roles", "log groups", "functions", "apis"])
def test_every_step_refuses_a_resource_someone_else_made(cloud, kind) -> None:
    """Bob builds his stack step by step; alice made one of his resources first."""
    prefix = f"wschat-steal-{kind.replace(' ', '')[:4]}"
    bob, alice = learner(cloud, prefix, "bob"), learner(cloud, prefix, "alice")
    names = bob.names
    stack.ensure_table(bob)
    if kind == "roles":
        stack.ensure_role(alice)
    else:
        stack.ensure_role(bob)
    if kind == "log groups":
        stack.ensure_log_group(alice, Names.function_log_group(names.function("connect")))
    if kind == "functions":
        alice.client("lambda").create_function(
            FunctionName=names.function("connect"), Runtime="python3.12",
            Role=bob.client("iam").get_role(RoleName=names.role)["Role"]["Arn"],
            Handler="app.lambda_handler", Code={"ZipFile": stack.packaging.build_zip("connect")},
            Tags=alice.tags)
    if kind == "apis":
        stack.ensure_functions(bob)
        alice.client("apigatewayv2").create_api(
            Name=names.api, ProtocolType="WEBSOCKET",
            RouteSelectionExpression="$request.body.action", Tags=alice.tags)
    with pytest.raises(OwnershipError, match=alice.owner):
        stack.build_chat(bob)


def test_log_groups_are_made_tagged_and_expiring_before_the_functions_write(cloud) -> None:
    """Each function's log group exists, tagged and with a retention, before the function first
    runs."""
    target = learner(cloud, "wschat-logs")
    stack.ensure_prerequisites(4, target)  # up to the functions, never invoked yet
    logs = target.client("logs")
    for name in target.names.functions.values():
        group = Names.function_log_group(name)
        (described,) = [g for g in logs.describe_log_groups(logGroupNamePrefix=group)[
            "logGroups"] if g["logGroupName"] == group]
        assert described["retentionInDays"] == stack.LOG_RETENTION_DAYS
        arn = described["arn"].removesuffix(":*")
        assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == target.tags
    # The functions' role has no logs:CreateLogGroup (lambda_src/policy.json): the group
    # exists, so their logs still arrive (the local cloud checks the role on every delivery).
    policy = stack.put_role_policy(target)
    (own_logs,) = [s for s in policy["Statement"] if s["Sid"] == "OwnLogs"]
    assert "logs:CreateLogGroup" not in own_logs["Action"]
    lam = target.client("lambda")
    lam.invoke(FunctionName=target.names.function("disconnect"), Payload=json.dumps(
        {"requestContext": {"routeKey": "$disconnect", "eventType": "DISCONNECT",
                            "connectionId": "NoSuchConn0=", "stage": "dev", "apiId": "x"}}))
    events = read_log_events(logs, Names.function_log_group(target.names.function("disconnect")))
    assert any(e["message"].startswith("START RequestId") for e in events)


def test_integrations_are_invoked_with_post(cloud) -> None:
    """CloudFormation's AWS::ApiGatewayV2::Integration: "For WebSocket APIs ... for Lambda
    integrations, you must set the integration method to POST"."""
    target = learner(cloud, "wschat-post")
    api = stack.build_chat(target)
    integrations = target.client("apigatewayv2").get_integrations(ApiId=api.api_id)["Items"]
    assert len(integrations) == 3
    assert {i["IntegrationMethod"] for i in integrations} == {"POST"}


def test_a_managed_policy_on_the_role_does_not_stop_the_clean_up(cloud) -> None:
    """DeleteRole fails with DeleteConflict while a managed policy is attached (IAM API
    Reference, DeleteRole); a learner may attach one while experimenting."""
    target = learner(cloud, "wschat-managed")
    stack.ensure_prerequisites(3, target)
    iam = target.client("iam")
    policy_arn = iam.create_policy(PolicyName="wschat-managed-extra", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:ListQueues",
                                                 "Resource": "*"}]}))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=target.names.role, PolicyArn=policy_arn)
    delete_everything(target, say=lambda line: None)
    assert not any(leftovers(target).values())
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=target.names.role)


def test_leftovers_list_what_is_tagged_as_mine_outside_the_names(cloud) -> None:
    """So nothing escapes the check: found by tag (prefix and owner), never by name prefix."""
    target = learner(cloud, "wschat-extra")
    other = learner(cloud, "wschat-extra-more")
    stack.ensure_prerequisites(3, target)
    role = target.client("iam").get_role(RoleName=target.names.role)["Role"]["Arn"]
    for who, name in ((target, "wschat-extra-tryout"), (other, "wschat-extra-more-tryout")):
        who.client("lambda").create_function(
            FunctionName=name, Runtime="python3.12", Role=role, Handler="app.lambda_handler",
            Code={"ZipFile": stack.packaging.build_zip("connect")}, Tags=who.tags)
    for who, name in ((target, "wschat-extra-tryout-secret"),
                      (other, "wschat-extra-more-tryout-secret")):
        who.client("ssm").put_parameter(Name=name, Value="x", Type="String",
                                        Tags=stack.tag_list(who))
    left = leftovers(target)
    assert "wschat-extra-tryout" in left["functions"]
    assert "wschat-extra-more-tryout" not in left["functions"]
    assert left["parameters"] == ["wschat-extra-tryout-secret"]  # found by tag, not by name
    target.client("lambda").delete_function(FunctionName="wschat-extra-tryout")
    target.client("ssm").delete_parameter(Name="wschat-extra-tryout-secret")
    left = leftovers(target)
    assert "wschat-extra-tryout" not in left["functions"] and left["parameters"] == []


def test_untagged_log_groups_follow_their_function(cloud) -> None:
    """Lambda creates a missing log group untagged; notebook 08 deletes the functions before
    the log groups, so an untagged group whose function is gone is still the learner's."""
    target = learner(cloud, "wschat-untagged")
    stack.ensure_prerequisites(4, target)
    logs = target.client("logs")
    group = Names.function_log_group(target.names.function("connect"))
    logs.delete_log_group(logGroupName=group)
    logs.create_log_group(logGroupName=group)  # as Lambda would: no tags
    assert group in log_groups(target)
    target.client("lambda").delete_function(FunctionName=target.names.function("connect"))
    assert group in log_groups(target)
    delete_everything(target, say=lambda line: None)
    assert not any(leftovers(target).values())


def run_cli(monkeypatch, capsys, cloud, *argv: str, answer: str | None = None):
    monkeypatch.setenv("WORKSHOP_HOME", str(cloud.settings.home))
    monkeypatch.setenv("WORKSHOP_TARGET", "local")
    monkeypatch.delenv("WORKSHOP_PREFIX", raising=False)
    if answer is not None:
        monkeypatch.setattr("builtins.input", lambda prompt: answer)
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_class_status_and_cleanup_with_several_learners(monkeypatch, capsys) -> None:
    """Status lists three learners' progress and activity; cleanup deletes one prefix, asks
    before all, and keeps what the series did not make."""
    with LocalCloud() as cloud:
        mine = learner(cloud, "wschat")
        alice = learner(cloud, "wschat-alice", "alice")
        bob = learner(cloud, "wschat-bob", "bob")
        build_everything(mine)
        stack.build_chat(alice)
        add_authorizer_pieces(alice, secret_only=True)  # alice began the authorizer step
        stack.ensure_prerequisites(3, bob)  # bob stopped after notebook 02
        stack.ensure_access_log_group(mine)
        mine.client("lambda").invoke(FunctionName=mine.names.function("disconnect"),
                                     Payload=json.dumps({"requestContext": {
                                         "routeKey": "$disconnect", "connectionId": "X=",
                                         "stage": "dev", "apiId": "x"}}))
        # not the series': same exact name, no workshop tags
        mine.client("dynamodb").create_table(
            TableName="wschat-zed-connections", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}])

        code, out, err = run_cli(monkeypatch, capsys, cloud, "class", "status")
        assert code == 0, err
        lines = out.splitlines()
        assert lines[0].startswith("3 learner stacks in account")
        rows = {line.split()[0]: line.split() for line in lines[2:]}
        assert set(rows) == {"wschat", "wschat-alice", "wschat-bob"}
        assert lines[1].split()[-4:] == ["authorizer", "last", "activity", "owner"]
        assert rows["wschat"][1:7] == ["yes", "yes", "3/3", "yes", "yes", "yes"]
        assert rows["wschat-alice"][1:7] == ["yes", "yes", "3/3", "yes", "-", "1/3"]
        assert rows["wschat-bob"][1:7] == ["yes", "yes", "-", "-", "-", "-"]
        assert rows["wschat"][7] != "-" and rows["wschat-bob"][7] == "-"  # last activity
        assert rows["wschat-alice"][-1] == alice.owner

        code, out, err = run_cli(monkeypatch, capsys, cloud, "class", "cleanup", "--prefix",
                                 "wschat-alice", "--yes")
        assert code == 0, err
        assert "wschat-alice: deleted table wschat-alice-connections" in out
        assert "wschat-alice: deleted parameter wschat-alice-chat-token-secret" in out
        assert not any(leftovers(alice).values())
        assert everything_exists(mine)

        code, out, err = run_cli(monkeypatch, capsys, cloud, "class", "cleanup", "--all",
                                 answer="n")
        assert code == 1 and err.strip().startswith("workshop: nothing was deleted;")
        assert everything_exists(mine) and inventory.table(bob, bob.names.table)

        code, out, err = run_cli(monkeypatch, capsys, cloud, "class", "cleanup", "--all",
                                 answer="y")
        assert code == 0, err
        assert "wschat: deleted log group /aws/apigateway/wschat-chat-api/access" in out
        for line in ("deleted function wschat-authorizer", "deleted role wschat-authorizer-role",
                     "deleted log group /aws/lambda/wschat-authorizer",
                     "deleted parameter wschat-chat-token-secret"):
            assert f"wschat: {line}" in out
        code, out, _ = run_cli(monkeypatch, capsys, cloud, "class", "status")
        assert out.startswith("0 learner stacks")
        assert inventory.table(mine, "wschat-zed-connections")  # not the series': kept


def test_class_setup_sets_the_account_logging_role_once(monkeypatch, capsys) -> None:
    """`workshop class setup` sets API Gateway's CloudWatch role, and a second run keeps it."""
    with LocalCloud() as cloud:
        target = learner(cloud, "wschat")
        with pytest.raises(logging_role.LoggingRoleMissing, match="workshop class setup"):
            logging_role.check(target)
        code, out, err = run_cli(monkeypatch, capsys, cloud, "class", "setup")
        assert code == 0, err
        arn = logging_role.check(target)
        assert arn.endswith(f":role/{logging_role.ROLE_NAME}") and "is now" in out
        code, out, err = run_cli(monkeypatch, capsys, cloud, "class", "setup")
        assert code == 0 and "already set" in out
        assert logging_role.check(target) == arn
        trust = target.client("iam").get_role(RoleName=logging_role.ROLE_NAME)["Role"][
            "AssumeRolePolicyDocument"]
        assert "apigateway.amazonaws.com" in json.dumps(trust)
