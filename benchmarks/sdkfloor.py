"""The SDK floor: the broadcast handler's own fan-out, run from a plain process.

After reading the table, the broadcast Lambda calls ``chat_common.fan_out``: boto3's
``post_to_connection`` to every connection, 16 threads. Here that same function runs in a
plain Python process, handed the connection ids, posting through the same local gateway: no
Lambda runtime, no invoke, no DynamoDB. What is left is what a boto3 fan-out costs on this
machine, so "cloud ÷ SDK floor" is what the local cloud itself adds, and the SDK floor is the
least any AWS-faithful broadcast (one that really calls ``post_to_connection``) can take here.
The sequential variant (one post after the other, no thread pool) is the cheapest boto3
fan-out of all on a machine where a post's round trip is far shorter than its CPU time.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from multiprocessing.connection import Connection
from typing import Any

from workshop_utils.packaging import LAMBDA_SRC

SOURCE = "sdk-floor"
JOIN_TIMEOUT_S = 10.0


def _post_on_request(conn: Connection, endpoint: str, ids: list[str],
                     env: dict[str, str], sequential: bool) -> None:
    """Child process: fan each marker received out to ``ids`` until None arrives; with
    ``sequential``, one ``post_to_connection`` after the other instead of the handler's pool."""
    os.environ.update(env)
    sys.path.insert(0, str(LAMBDA_SRC / "shared"))
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (fan_out logs a JSON line a message)
    import chat_common

    while (marker := conn.recv()) is not None:
        payload = {"type": "message", "from": SOURCE, "text": marker,
                   "at": chat_common.iso_time()}
        if sequential:
            client, data = chat_common.management_client(endpoint), chat_common.encode(payload)
            for connection_id in ids:
                client.post_to_connection(ConnectionId=connection_id, Data=data)
        else:
            chat_common.fan_out(endpoint, payload, ids, kind="message", source=SOURCE)


class SdkPoster:
    """A plain process that runs the handler's fan-out each time it is sent a marker."""

    def __init__(self, endpoint: str, ids: list[str], region: str,
                 credentials: tuple[str, str], *, sequential: bool = False) -> None:
        env = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region,
               "AWS_ACCESS_KEY_ID": credentials[0], "AWS_SECRET_ACCESS_KEY": credentials[1],
               "TABLE_NAME": "unused-by-fan-out"}
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that runs threads
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_post_on_request,
                                    args=(child, endpoint, ids, env, sequential),
                                    name="sdk-floor", daemon=True)
        self._process.start()
        child.close()

    async def send(self, marker: str) -> None:
        """Start one fan-out (a pipe write: the clients time it from here)."""
        self._conn.send(marker)

    def close(self) -> None:
        try:
            self._conn.send(None)
        except OSError:
            pass  # it is already gone
        self._process.join(JOIN_TIMEOUT_S)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(JOIN_TIMEOUT_S)
        self._conn.close()

    def __enter__(self) -> SdkPoster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
