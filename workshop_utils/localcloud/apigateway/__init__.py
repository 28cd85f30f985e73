"""apigateway (the v1 API) in the local cloud: the account's CloudWatch role, as AWS checks it.

- :mod:`.responses`: ``update_account`` and ``get_account`` answered around moto's;
- :mod:`.models`: the role check ``update_account`` makes, and the role every stage's logging
  needs (read by apigatewayv2's stage writes and by the gateway's log delivery);
- :mod:`.exceptions`: moto's own apigateway error classes.
"""
