"""CloudWatch Logs in the local cloud: moto's logs service, plus the events the local cloud
writes into it as AWS's services do (:mod:`.writer`), API Gateway's through the account's
CloudWatch role (:mod:`.stage_delivery`)."""
