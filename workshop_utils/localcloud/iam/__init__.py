"""IAM in the local cloud: every policy decision has its home here.

- :mod:`.sessions`: the credentials each function runs with (its execution role, assumed);
- :mod:`.identity_policies`: what a role's identity-based policies allow (moto's evaluator);
- :mod:`.resource_policies`: whether API Gateway may invoke a function (its resource policy);
- :mod:`.trust_policies`: whether a service may assume a role (its trust policy): Lambda a
  function's execution role, API Gateway an authorizer's credentials role and the account's
  CloudWatch role;
- :mod:`.statements`: one statement against one request (principal, action, conditions),
  for the two policies above;
- :mod:`.authorizer_policies`: a Lambda authorizer: whether API Gateway may invoke it
  (resource policy or credentials role), and what the policy it returns allows.

Where they are enforced: DynamoDB calls (:mod:`..dynamodb.enforcement`), ``@connections``
calls (:mod:`..gateway.management`), a function's log delivery
(:mod:`..awslambda.runtime.logdelivery`), API Gateway's invocations
(:mod:`..gateway.integrations`), a ``$connect`` authorizer's answer
(:mod:`..gateway.authorizers`), API Gateway's log deliveries (:mod:`..logs.stage_delivery`) and
the account's CloudWatch role (:mod:`..apigateway.models`).
"""
