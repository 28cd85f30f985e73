"""Lambda in the local cloud: moto keeps the functions, the local cloud runs them.

- :mod:`.responses`: the requests answered before moto (``Invoke``, which runs the code, and
  ``add_permission``'s statement-id check);
- :mod:`.exceptions`: moto's exception classes and the ones moto does not have;
- :mod:`.runtime`: the execution environments that run the deployed zip (no Docker).
"""
