"""The owner and the AWS default prefix come from the caller's identity, not the OS user.

On a shared image every learner is ``jovyan`` (or ec2-user, root): a prefix from the OS user
gave them one stack. ``sts.get_caller_identity`` differs per learner; these tests stub it with
botocore's Stubber (responses are validated against the STS model).
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from workshop_utils import identity
from workshop_utils.target import PREFIX_RE, Target, TargetError, client_key, valid_prefix

ACCOUNT = "111122223333"


def caller(arn: str) -> dict:
    return {"UserId": "AIDAEXAMPLE", "Account": ACCOUNT, "Arn": arn}


def aws_target(arn: str | None, prefix: str = "", **kwargs) -> tuple[Target, Stubber]:
    """An AWS target whose STS client is stubbed to answer ``arn`` (once)."""
    sts = boto3.client("sts", region_name="eu-west-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    stub = Stubber(sts)
    if arn is not None:
        stub.add_response("get_caller_identity", caller(arn), {})
    stub.activate()
    target = Target("aws", region="eu-west-1", prefix=prefix, **kwargs)
    target._clients[client_key("sts")] = sts
    return target, stub


@pytest.mark.parametrize(("arn", "prefix"), [
    (f"arn:aws:iam::{ACCOUNT}:user/alice", "wschat-alice"),
    (f"arn:aws:iam::{ACCOUNT}:user/sam-lee", "wschat-sam-lee"),
    (f"arn:aws:iam::{ACCOUNT}:user/classroom/learner07", "wschat-learner07"),
    (f"arn:aws:iam::{ACCOUNT}:root", "wschat-root"),
])
def test_an_iam_user_with_a_plain_name_gets_wschat_and_the_name(arn, prefix) -> None:
    """An IAM user (or root) with a plain lowercase name gets exactly wschat-<name>."""
    target, stub = aws_target(arn)
    from workshop_utils.target import aws_default_prefix

    assert aws_default_prefix(target) == prefix
    stub.assert_no_pending_responses()


def test_the_default_prefix_differs_for_learners_on_one_shared_image(monkeypatch) -> None:
    """Same OS user for all (the old default was wschat-jovyan for everyone)."""
    monkeypatch.setenv("USER", "jovyan")
    monkeypatch.setenv("LOGNAME", "jovyan")
    from workshop_utils.target import aws_default_prefix

    prefixes = set()
    for arn in (f"arn:aws:iam::{ACCOUNT}:user/alice", f"arn:aws:iam::{ACCOUNT}:user/bob",
                f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Learner_0a1b/carol",
                f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Learner_0a1b/dave"):
        target, _ = aws_target(arn)
        prefixes.add(aws_default_prefix(target))
    assert len(prefixes) == 4
    assert not any("jovyan" in p for p in prefixes)


@pytest.mark.parametrize("arn", [
    # session names are the caller's choice: two roles can both have a session "alice"
    f"arn:aws:sts::{ACCOUNT}:assumed-role/RoleA/alice",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Learner_0a1b/alice.smith@example.com",
    f"arn:aws:iam::{ACCOUNT}:user/Alice",  # lowercased: could meet a user "alice" elsewhere
    f"arn:aws:iam::{ACCOUNT}:user/a.lice",  # "a-lice" is another valid user name
    f"arn:aws:iam::{ACCOUNT}:user/averyveryverylongusername",  # truncated
    f"arn:aws:sts::{ACCOUNT}:federated-user/alice",
])
def test_a_name_that_could_collide_gets_a_hash_of_the_arn(arn) -> None:
    """Session names, changed or truncated names get four hex of the ARN's hash appended."""
    prefix = identity.default_prefix(identity.Identity(arn, ACCOUNT))
    assert PREFIX_RE.match(prefix), prefix
    assert prefix.rsplit("-", 1)[-1] == identity._short_hash(arn)


def test_same_session_name_under_two_roles_gives_two_prefixes() -> None:
    """Two roles' sessions both named alice get different prefixes."""
    a = identity.default_prefix(identity.Identity(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/RoleA/alice", ACCOUNT))
    b = identity.default_prefix(identity.Identity(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/RoleB/alice", ACCOUNT))
    assert a != b and a.startswith("wschat-alice-") and b.startswith("wschat-alice-")


def test_a_user_and_the_lowercased_user_get_different_prefixes() -> None:
    """Users Alice and alice do not share a prefix."""
    plain = identity.default_prefix(identity.Identity(f"arn:aws:iam::{ACCOUNT}:user/alice",
                                                      ACCOUNT))
    upper = identity.default_prefix(identity.Identity(f"arn:aws:iam::{ACCOUNT}:user/Alice",
                                                      ACCOUNT))
    assert plain == "wschat-alice" and upper != plain


def test_a_generated_session_name_asks_for_a_prefix() -> None:
    """botocore names a session botocore-session-<epoch> when a profile sets no
    role_session_name; it changes at every refresh, so it names nobody."""
    target, _ = aws_target(f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/botocore-session-17")
    from workshop_utils.target import aws_default_prefix

    with pytest.raises(TargetError, match="WORKSHOP_PREFIX"):
        aws_default_prefix(target)


def test_the_owner_of_a_generated_session_is_the_role() -> None:
    """A botocore-generated session is owned as its role, so refreshed credentials keep the
    owner."""
    who = identity.Identity(f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/botocore-session-17",
                            ACCOUNT)
    assert who.owner == f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin"


def test_tags_carry_the_owner_from_one_sts_call() -> None:
    """The tags carry the caller's ARN as workshop-owner, from a single STS call."""
    arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Learner_0a1b/alice@example.com"
    target, stub = aws_target(arn, prefix="wschat-alice")
    assert target.tags == {"workshop": "serverless-websocket-chat-workshop",
                           "workshop-prefix": "wschat-alice", "workshop-owner": arn}
    assert target.account_id == ACCOUNT  # no second call (the stub has one response)
    stub.assert_no_pending_responses()


def test_an_owner_that_iam_would_refuse_as_a_tag_value_is_made_safe() -> None:
    """IAM tag values allow letters, digits, spaces and _ . : / = + - @ (IAM User Guide,
    "Tagging IAM resources"), up to 256 characters; a user name may contain a comma."""
    odd = identity.Identity(f"arn:aws:iam::{ACCOUNT}:user/a,b", ACCOUNT)
    assert identity.TAG_VALUE_RE.fullmatch(odd.owner) and "," not in odd.owner
    other = identity.Identity(f"arn:aws:iam::{ACCOUNT}:user/a_b", ACCOUNT)
    assert odd.owner != other.owner
    long = identity.Identity(f"arn:aws:iam::{ACCOUNT}:user/{'p/' * 200}x", ACCOUNT)
    assert len(long.owner) <= 256


def test_without_credentials_the_prefix_error_says_what_to_do() -> None:
    """An expired token while deriving the prefix is a TargetError that says so as every
    command does (how to refresh the profile's credentials) and that WORKSHOP_PREFIX avoids it."""
    target, stub = aws_target(None)
    stub.add_client_error("get_caller_identity", "ExpiredToken", "The security token "
                          "included in the request is expired", 403)
    from workshop_utils.target import aws_default_prefix

    with pytest.raises(TargetError, match=r"^cannot learn your AWS identity to name your "
                       r"resources: the AWS credentials have expired \(ExpiredToken on "
                       r"GetCallerIdentity\); refresh them \(`aws sso login --profile default`"
                       r".*; or set WORKSHOP_PREFIX$"):
        aws_default_prefix(target)


def test_from_environment_takes_the_prefix_from_the_identity(monkeypatch) -> None:
    """No WORKSHOP_PREFIX on AWS: the target asks STS once and names everything from it."""
    sts = boto3.client("sts", region_name="eu-west-1", aws_access_key_id="x",
                       aws_secret_access_key="x")
    stub = Stubber(sts)
    stub.add_response("get_caller_identity", caller(f"arn:aws:iam::{ACCOUNT}:user/bob"), {})
    stub.activate()
    monkeypatch.setattr(boto3.Session, "client", lambda self, service, **kw: sts)
    from workshop_utils.target import from_environment

    target = from_environment({"WORKSHOP_TARGET": "aws", "WORKSHOP_REGION": "eu-west-1"})
    assert target.prefix == "wschat-bob"
    assert target.names.table == "wschat-bob-connections"
    assert target.owner == f"arn:aws:iam::{ACCOUNT}:user/bob"
    stub.assert_no_pending_responses()


def test_the_permissions_boundary_is_read_and_checked() -> None:
    """WORKSHOP_PERMISSIONS_BOUNDARY reaches create_role's options, and a malformed one is
    refused."""
    from workshop_utils.target import from_environment

    arn = f"arn:aws:iam::{ACCOUNT}:policy/workshop-boundary"
    target = from_environment({"WORKSHOP_TARGET": "aws", "WORKSHOP_REGION": "eu-west-1",
                               "WORKSHOP_PREFIX": "wschat-bob",
                               "WORKSHOP_PERMISSIONS_BOUNDARY": arn})
    assert target.role_options() == {"PermissionsBoundary": arn}
    assert Target("aws", region="eu-west-1", prefix="wschat-bob").role_options() == {}
    with pytest.raises(TargetError, match="WORKSHOP_PERMISSIONS_BOUNDARY"):
        from_environment({"WORKSHOP_TARGET": "aws", "WORKSHOP_REGION": "eu-west-1",
                          "WORKSHOP_PREFIX": "wschat-bob",
                          "WORKSHOP_PERMISSIONS_BOUNDARY": "workshop-boundary"})


def test_every_generated_prefix_is_valid() -> None:
    """Odd user names still give a prefix that passes the prefix rules."""
    for arn in (f"arn:aws:iam::{ACCOUNT}:user/{name}" for name in
                ("a", "Z", "___", "x" * 64, "a--b", "9lives", "alice@example.com")):
        assert valid_prefix(identity.default_prefix(identity.Identity(arn, ACCOUNT)))
