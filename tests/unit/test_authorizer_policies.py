"""What a Lambda authorizer's returned policy allows, evaluated as IAM evaluates a policy.

The gateway tests (tests/integration/test_gateway_authorizers.py) check the rules through a
running cloud; these check the evaluator's corners without one. IAM's rules (IAM User Guide,
"Policy evaluation logic" and "IAM JSON policy elements"): an explicit Deny wins over any
Allow; nothing that matches is an implicit deny; ``*`` and ``?`` are wildcards in Action and
Resource; action names are case-insensitive, resource ARNs are not; ``NotAction`` and
``NotResource`` match everything but what they list.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from workshop_utils.localcloud.gateway.authorizers import parse_output
from workshop_utils.localcloud.iam.authorizer_policies import MalformedPolicy, policy_decision

ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/$connect"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(resource: Any = ARN, action: Any = "execute-api:Invoke", **extra: Any) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(resource: Any = ARN, action: Any = "execute-api:Invoke", **extra: Any) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@pytest.mark.parametrize(("document", "verdict"), [
    (doc(allow()), "allow"),  # the exact methodArn: its "$" is a character, not an anchor
    (doc(allow(action="EXECUTE-API:invoke")), "allow"),
    (doc(allow(action=["s3:GetObject", "execute-api:*"])), "allow"),
    (doc(allow(action="*", resource="*")), "allow"),
    (doc(allow(resource="arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*")), "allow"),
    (doc(allow(resource="arn:aws:execute-api:*:*:abcdef1234/prod/$connec?")), "allow"),
    (doc(allow(resource=ARN.upper())), "neutral"),  # resources are case-sensitive
    (doc(allow(resource="arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/*/*")),
     "neutral"),
    (doc(allow(resource="arn:aws:execute-api:us-east-1:123456789012:other/prod/$connect")),
     "neutral"),
    (doc(allow(action="execute-api:ManageConnections")), "neutral"),
    (doc(deny()), "deny"),
    (doc(allow(resource="*"), deny()), "deny"),
    (doc(deny(), allow()), "deny"),
    ({"Statement": allow()}, "allow"),  # a single statement, not in a list
    (doc({"Effect": "Allow", "NotAction": "s3:*", "Resource": ARN}), "allow"),
    (doc({"Effect": "Allow", "NotAction": "execute-api:*", "Resource": ARN}), "neutral"),
    (doc({"Effect": "Allow", "Action": "execute-api:Invoke", "NotResource": "*/$default"}),
     "allow"),
    (doc({"Effect": "Deny", "Action": "execute-api:Invoke", "NotResource": ARN}, allow()),
     "allow"),
    (doc(), "neutral"),
    # Conditions are not evaluated (chosen): they never allow, and a Deny still denies.
    (doc(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), "neutral"),
    (doc(allow(), deny(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})), "deny"),
    (json.dumps(doc(allow())), "allow"),  # the document as a JSON string, as REST allows
])
def test_the_policy_is_evaluated_as_iam_does(document: Any, verdict: str) -> None:
    """Wildcards, case, Not* elements, explicit and implicit deny give IAM's verdict."""
    assert policy_decision(document, ARN) == verdict


@pytest.mark.parametrize("document", [
    None, "not json", [], {"Version": "2012-10-17"}, {"Statement": "Allow"},
    doc("Allow"), doc({"Effect": "allow", "Action": "*", "Resource": "*"}),
    doc({"Effect": "Allow", "Resource": "*"}),
    doc({"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}),
    doc({"Effect": "Allow", "Action": "*"}), doc(allow(action=[])), doc(allow(resource=[3])),
])
def test_a_document_that_is_not_a_policy_is_malformed(document: Any) -> None:
    """A policyDocument with no statements list, a bad Effect, or neither or both of Action
    and NotAction (Resource and NotResource) is refused (the gateway answers 500)."""
    with pytest.raises(MalformedPolicy):
        policy_decision(document, ARN)


def test_an_authorizer_output_is_read_with_its_context() -> None:
    """principalId, the policy and the context's string, number and boolean values, in order
    and with their JSON types (OUTPUT: "String, Number or Boolean")."""
    payload = json.dumps({"principalId": "ann", "policyDocument": doc(allow()),
                          "context": {"name": "ann", "level": 3, "admin": False}}).encode()
    assert parse_output(payload) == ("ann", doc(allow()),
                                     (("name", "ann"), ("level", 3), ("admin", False)))
    assert parse_output(json.dumps({"principalId": "", "policyDocument": {}}).encode())[2] == ()


@pytest.mark.parametrize("output", [
    b"not json", b'"Allow"', b"null", b"[]",
    json.dumps({"policyDocument": doc(allow())}).encode(),
    json.dumps({"principalId": 7, "policyDocument": doc(allow())}).encode(),
    json.dumps({"principalId": "ann"}).encode(),
    json.dumps({"principalId": "ann", "policyDocument": doc(), "context": "x"}).encode(),
    json.dumps({"principalId": "ann", "policyDocument": doc(),
                "context": {"user": {"name": "ann"}}}).encode(),
    json.dumps({"principalId": "ann", "policyDocument": doc(), "context": {"l": [1]}}).encode(),
    json.dumps({"principalId": "ann", "policyDocument": doc(),
                "context": {"pad": "x" * 8192}}).encode(),
])
def test_an_output_that_is_not_an_authorizer_answer_is_refused(output: bytes) -> None:
    """Not JSON, not an object, no principalId string, no policyDocument, a context that is
    not a map of scalars (OUTPUT: no "JSON object or array"), or over 8 KB (WS-QUOTA)."""
    with pytest.raises(ValueError):
        parse_output(output)
