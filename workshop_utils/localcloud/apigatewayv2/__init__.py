"""apigatewayv2 in the local cloud: what moto 5.2 lacks for WebSocket APIs.

- :mod:`.responses`: the requests answered before moto (deployments, ``update_stage``,
  ``get_route_responses``, AWS's validation), routed like moto's ``urls.py``/``responses.py``;
- :mod:`.models`: deployments, the writes moto lacks, and :class:`~.models.DeploymentStore`,
  what each stage serves, read by the gateway;
- :mod:`.authorizers`: authorizers and route authorization, checked as AWS checks them for a
  WEBSOCKET API (moto checks nothing);
- :mod:`.stages`: what a stage serves, as immutable values (the gateway's view of it);
- :mod:`.exceptions`: moto's exception classes and the ones moto does not have.
"""
