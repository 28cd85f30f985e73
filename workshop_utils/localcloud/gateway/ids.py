"""Ids in API Gateway's own shape, from seeded generators so notebook outputs are stable.

Observed ids (connectionId ``BFHPhfCWIAMCKlQ=``, requestId ``BFHPhFe3IAMF95g=``) are 11 bytes of
URL-safe base64: 15 characters and one ``=``. Connection ids and request ids come from two
generators, so the connection ids of a notebook do not shift when it sends one message more.
"""

from __future__ import annotations

import base64
import random
import re

# What API Gateway takes for a connection id (observed: every published id, e.g.
# ``YkOibd6goAMCLjg=``, ``e_d2EewNLPECIGw=``, is 15 URL-safe base64 characters and ``=``).
# Anything else is not an id at all, and @connections answers 400 instead of 410.
CONNECTION_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{15}=")


def is_connection_id(value: str) -> bool:
    """Whether ``value`` has the shape of a connection id (not whether it is open)."""
    return CONNECTION_ID_SHAPE.fullmatch(value) is not None


class IdGenerator:
    def __init__(self, seed: int) -> None:
        self._connections = random.Random(seed)
        self._requests = random.Random(f"{seed}:requests")  # str seeds are hashed stably

    def connection_id(self) -> str:
        """A new connection id (16 characters ending in ``=``)."""
        return base64.urlsafe_b64encode(self._connections.randbytes(11)).decode("ascii")

    def request_id(self) -> str:
        """A new request (or message) id in the same format."""
        return base64.urlsafe_b64encode(self._requests.randbytes(11)).decode("ascii")
