"""Lambda code that really runs: the deployed zip in warm worker processes, no Docker.

Interface the gateway and the Invoke API rely on: ``await parts.runtime.invoke(function,
payload)`` (:class:`~.runtime.LambdaRuntime`) returning an :class:`~.invocation.InvokeResult`,
raising :class:`~..exceptions.FunctionNotFound` for a function that does not exist and
:class:`~..exceptions.TooManyRequestsException` over its reserved concurrency.

By job:
- :mod:`.runtime`: the entry point: ``invoke`` (RequestResponse, Event, DryRun), start, stop;
- :mod:`.concurrency`: reserved concurrency, the invocations in flight per function;
- :mod:`.functions`: what an invocation needs to know about a function, read from moto;
- :mod:`.pools`: execution environments per function: reuse, scale-out, retire, reclaim;
- :mod:`.workers`: one execution environment: its process and its two pipes;
- :mod:`.invocation`: one invocation on a worker: START/END/REPORT, timeouts, results;
- :mod:`.logdelivery`: the invocation's log into CloudWatch Logs, if the role may write it;
- :mod:`.package`: the deployed zip, unpacked once per code sha, and the layers (``/opt``);
- :mod:`.runtimedir`: the runtime's own packages (boto3 and what it needs, nothing else);
- :mod:`.environment`: the variables Lambda gives a function's process;
- ``bootstrap.py``: the Python runtime inside a worker, run by path without site-packages;
  imports nothing from ``workshop_utils``, and the function can import nothing of it.
"""
