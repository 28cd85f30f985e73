"""Lambda in the local cloud: moto keeps the functions, the local cloud runs them.

- :mod:`.responses`: the requests answered before moto (``Invoke``, which runs the code,
  ``add_permission``'s statement-id check) and around it (the control plane's refusals, and
  deletes and permission removals that take effect at once);
- :mod:`.models`: what CreateFunction and the updates refuse, as AWS refuses it;
- :mod:`.runtimes`: Lambda's runtimes, and the block dates of the deprecated ones;
- :mod:`.exceptions`: moto's exception classes and the ones moto does not have;
- :mod:`.runtime`: the execution environments that run the deployed zip (no Docker).
"""
