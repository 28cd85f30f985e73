"""May Lambda assume this role? The role's trust policy, evaluated for CreateFunction.

AWS refuses a function whose execution role Lambda cannot assume with
``InvalidParameterValueException: The role defined for the function cannot be assumed by
Lambda.`` (the same text since 2016, from CreateFunction and UpdateFunctionConfiguration:
/work/research/lambda-and-iam.md §4.2); moto checks only that the role exists. Lambda may
assume the role when an Allow statement of its trust policy names the service principal
``lambda.amazonaws.com`` (a string, or in a list, or ``"*"``), covers ``sts:AssumeRole``
(wildcards too) and its conditions hold, and no Deny statement matches.

Conditions (chosen): Lambda is taken to assume the role with the context keys
``aws:SourceAccount`` (the function's account) and ``aws:SourceArn`` (the function's ARN),
the keys of AWS's confused-deputy advice and of AWS's own samples of Lambda trust policies; a
condition on any other key does not hold, so its statement does not grant.
"""

from __future__ import annotations

import json
from typing import Any

from .statements import action_matches, as_list, condition_holds, service_principal_matches

LAMBDA = "lambda.amazonaws.com"
ASSUME_ROLE = "sts:AssumeRole"


def lambda_may_assume(document: str | dict[str, Any] | None, *, account_id: str,
                      function_arn: str) -> bool:
    """Does the trust policy ``document`` let Lambda assume the role for ``function_arn``?"""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return False
    if not isinstance(document, dict):
        return False
    context = {"aws:sourceaccount": account_id, "aws:sourcearn": function_arn}
    allowed = False
    for statement in as_list(document.get("Statement", [])):
        if not isinstance(statement, dict):
            continue
        if not (service_principal_matches(statement.get("Principal"), LAMBDA)
                and action_matches(statement, ASSUME_ROLE)
                and condition_holds(statement.get("Condition"), context)):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed
