"""The API Gateway WebSocket data plane of the local cloud, and its @connections API.

What AWS does here is written down in SPEC-gateway.md; each rule there is a test. By job:

- :mod:`.gateway`: :class:`~.gateway.Gateway`, the connect / message / disconnect flow;
- :mod:`.session`: one TCP connection: HTTP requests until one upgrades;
- :mod:`.httpwire`: HTTP/1.1 request heads in, responses out;
- :mod:`.handshake`: the opening handshake (validated by websockets' Sans-I/O protocol);
- :mod:`.connection`: one open WebSocket connection: frames, quotas, timers;
- :mod:`.info`: what is known about a connection, fixed at the upgrade;
- :mod:`.routing`: RouteSelectionExpression evaluation;
- :mod:`.events`: the Lambda proxy events of the routes;
- :mod:`.integrations`: invoking a route's Lambda integration (permission, timeout, result);
- :mod:`.authorizers`: the ``$connect`` route's Lambda REQUEST authorizer, before the upgrade;
- :mod:`.management`: ``@connections`` POST / GET / DELETE;
- :mod:`.access_log`: the stage's access log lines;
- :mod:`.execution_log`: the stage's execution log (LoggingLevel ERROR / INFO, data trace);
- :mod:`.ids`: connection and request ids in API Gateway's shape, seeded.
"""
