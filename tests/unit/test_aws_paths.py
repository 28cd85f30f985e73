"""The real-AWS paths, which cannot run here, checked against botocore's service models.

botocore's Stubber validates every stubbed call's parameters and responses against the
service model, so these tests fail if the code calls an API with arguments AWS would reject.
"""

from __future__ import annotations

from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber

from tests.timing import SECOND
from workshop_utils import waiting
from workshop_utils.target import Target, TargetError, from_environment, valid_prefix

ROLE = "arn:aws:iam::111122223333:role/wschat-alice-chat-role"


def lambda_client():
    """A Lambda client that can only be stubbed (fake keys, no endpoint reached)."""
    return boto3.client("lambda", region_name="eu-west-1", aws_access_key_id="x",
                        aws_secret_access_key="x")


def function_config(state: str, update: str = "Successful") -> dict:
    """A GetFunction response (what the function_active_v2/updated_v2 waiters poll)."""
    return {"Configuration": {"FunctionName": "wschat-alice-connect", "State": state,
                              "LastUpdateStatus": update}}


def test_create_function_retries_while_the_new_role_propagates() -> None:
    """IAM is eventually consistent: Lambda rejects a brand-new role for a few seconds."""
    lam = lambda_client()
    kwargs = dict(FunctionName="wschat-alice-connect", Runtime="python3.12", Role=ROLE,
                  Handler="app.lambda_handler", Code={"ZipFile": b"zip"})
    sleeps: list[float] = []
    with Stubber(lam) as stub:
        for _ in range(2):
            stub.add_client_error(
                "create_function", "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.", 400,
                expected_params=kwargs)
        stub.add_response("create_function", {"FunctionName": "wschat-alice-connect",
                                               "State": "Pending"}, expected_params=kwargs)
        result = waiting.create_function_when_role_ready(lam, sleep=sleeps.append, **kwargs)
    assert result["State"] == "Pending"
    assert sleeps == [1.0, 2.0]


def test_create_function_does_not_retry_other_errors() -> None:
    """A real mistake (here a bad runtime) is raised at once, not hidden by retries."""
    lam = lambda_client()
    with Stubber(lam) as stub:
        stub.add_client_error("create_function", "InvalidParameterValueException",
                              "Value python2.7 at 'runtime' failed to satisfy constraint", 400)
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            waiting.create_function_when_role_ready(
                lam, sleep=lambda s: pytest.fail("must not sleep"), FunctionName="f",
                Runtime="python2.7", Role=ROLE, Handler="app.h", Code={"ZipFile": b"z"})


def test_create_function_gives_up_once_its_deadline_passes(monkeypatch) -> None:
    """When the role is still not assumable and the next retry would end past the deadline,
    the last error is raised instead of waiting on (on a fake clock: nothing really waits)."""
    now = [0.0]
    sleeps: list[float] = []

    def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    monkeypatch.setattr(waiting, "time", SimpleNamespace(monotonic=lambda: now[0]))
    lam = lambda_client()
    with Stubber(lam) as stub:
        for _ in range(2):  # at 0 s, then at 1 s; a third try (after 2 s more) ends past 2.5 s
            stub.add_client_error("create_function", "InvalidParameterValueException",
                                  "The role defined for the function cannot be assumed by "
                                  "Lambda.", 400)
        with pytest.raises(lam.exceptions.InvalidParameterValueException):
            waiting.create_function_when_role_ready(
                lam, timeout_s=2.5, sleep=fake_sleep, FunctionName="f",
                Runtime="python3.12", Role=ROLE, Handler="app.h", Code={"ZipFile": b"z"})
        stub.assert_no_pending_responses()
    assert sleeps == [1.0]


def test_wait_until_active_polls_pending_then_active(monkeypatch) -> None:
    """A new function is Pending before Active; invoking it earlier fails on AWS."""
    monkeypatch.setattr("time.sleep", lambda s: None)
    lam = lambda_client()
    with Stubber(lam) as stub:
        stub.add_response("get_function", function_config("Pending", "InProgress"))
        stub.add_response("get_function", function_config("Active"))
        stub.add_response("get_function", function_config("Active"))
        waiting.wait_until_active(lam, "wschat-alice-connect")
        stub.assert_no_pending_responses()


def test_wait_for_log_events_polls_until_events_arrive() -> None:
    """CloudWatch Logs shows events seconds after they are written."""
    logs = boto3.client("logs", region_name="eu-west-1", aws_access_key_id="x",
                        aws_secret_access_key="x")
    group = "/aws/lambda/wschat-alice-connect"
    event = {"timestamp": 1, "message": "START RequestId: 1 Version: $LATEST\n",
             "ingestionTime": 2, "logStreamName": "s", "eventId": "1"}
    sleeps: list[float] = []
    with Stubber(logs) as stub:
        stub.add_client_error("filter_log_events", "ResourceNotFoundException",
                              "The specified log group does not exist.", 400)
        stub.add_response("filter_log_events", {"events": []})
        stub.add_response("filter_log_events", {"events": [event]})
        events = waiting.wait_for_log_events(logs, group, sleep=sleeps.append,
                                             timeout_s=60 * SECOND)
    assert [e["message"] for e in events] == [event["message"]]
    assert len(sleeps) == 2


def test_aws_target_uses_wss_and_the_execute_api_management_endpoint() -> None:
    """On AWS the chat URL is f"{ApiEndpoint}/{stage}" (ApiEndpoint is
    wss://<api>.execute-api.<region>.amazonaws.com, botocore's apigatewayv2 model), the same
    expression as on the local target; @connections is its https twin, and names and tags
    carry the learner's prefix."""
    target = Target("aws", region="eu-west-1", prefix="wschat-alice")
    apigw = target.client("apigatewayv2")
    with Stubber(apigw) as stub:
        stub.add_response("get_api", {
            "ApiId": "a1b2c3d4e5", "Name": "wschat-alice-chat-api", "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": "$request.body.action",
            "ApiEndpoint": "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"},
            {"ApiId": "a1b2c3d4e5"})
        assert target.websocket_url("a1b2c3d4e5", "dev") == (
            "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/dev")
        stub.assert_no_pending_responses()  # read from ApiEndpoint, not built by hand
    assert target.management_endpoint("a1b2c3d4e5", "dev") == (
        "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/dev")
    assert target.names.function("connect") == "wschat-alice-connect"


@pytest.mark.parametrize(("region", "host"), [
    ("cn-north-1", "a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn"),
    ("us-gov-west-1", "a1b2c3d4e5.execute-api.us-gov-west-1.amazonaws.com"),
])
def test_china_and_govcloud_urls_and_arns_use_their_partition(region, host) -> None:
    """China's endpoints end in amazonaws.com.cn and its ARNs start arn:aws-cn: (IAM User
    Guide, "IAM identifiers"; API Gateway in the China regions). The chat URL is read from
    the API's ApiEndpoint there too, which is what AWS answers in that partition."""
    target = Target("aws", region=region, prefix="wschat-alice")
    apigw = target.client("apigatewayv2")
    with Stubber(apigw) as stub:
        stub.add_response("get_api", {
            "ApiId": "a1b2c3d4e5", "Name": "wschat-alice-chat-api", "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": "$request.body.action",
            "ApiEndpoint": f"wss://{host}"}, {"ApiId": "a1b2c3d4e5"})
        assert target.websocket_url("a1b2c3d4e5", "dev") == f"wss://{host}/dev"
        stub.assert_no_pending_responses()
    assert target.management_endpoint("a1b2c3d4e5", "dev") == f"https://{host}/dev"
    partition = "aws-cn" if region.startswith("cn-") else "aws-us-gov"
    assert target.arn("logs", "log-group:g", account="111122223333") == (
        f"arn:{partition}:logs:{region}:111122223333:log-group:g")


def test_a_region_of_another_partition_is_refused_with_the_supported_ones() -> None:
    """An ISO region or a made-up one is refused with the partitions the workshop supports."""
    with pytest.raises(TargetError, match="aws-iso.*aws, aws-cn, aws-us-gov"):
        from_environment({"WORKSHOP_TARGET": "aws", "WORKSHOP_REGION": "us-iso-east-1",
                          "WORKSHOP_PREFIX": "wschat-bob"})
    with pytest.raises(TargetError, match="not an AWS region"):
        from_environment({"WORKSHOP_TARGET": "aws", "WORKSHOP_REGION": "moon-base-1",
                          "WORKSHOP_PREFIX": "wschat-bob"})


def test_aws_target_from_environment_takes_region_and_prefix() -> None:
    """WORKSHOP_TARGET=aws with WORKSHOP_REGION and WORKSHOP_PREFIX gives an aws target of
    that region and prefix."""
    target = from_environment({"WORKSHOP_TARGET": "aws", "WORKSHOP_REGION": "eu-west-1",
                               "WORKSHOP_PREFIX": "wschat-bob"})
    assert (target.kind, target.region, target.prefix) == ("aws", "eu-west-1", "wschat-bob")


def test_a_typo_in_the_target_or_prefix_says_how_to_fix_it() -> None:
    """An unknown WORKSHOP_TARGET, or a prefix AWS resource names cannot take, is refused with
    a message saying what to use."""
    with pytest.raises(TargetError, match="use 'local'"):
        from_environment({"WORKSHOP_TARGET": "amazon"})
    with pytest.raises(TargetError, match="WORKSHOP_PREFIX"):
        valid_prefix("Alice_Workshop")
