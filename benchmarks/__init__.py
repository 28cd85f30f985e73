"""Benchmarks of the local cloud against a floor (``make bench`` = ``python -m benchmarks``).

- broadcast: N clients, one sender, M messages one after another through the workshop's real
  handlers ($default -> broadcast Lambda -> GetItem + Scan + post_to_connection fan-out);
- connect: 1,000 clients opened with bounded concurrency through $connect, then the cloud's RSS;
- Lambda: warm ``lambda.invoke`` of an empty handler, and cold starts;
- the floor, in the same run: a bare ``websockets`` broadcast server (no Lambda, no DynamoDB).

Results: ``benchmarks/results/<name>.json`` and ``<name>.png``, plus a table on stdout.
"""
