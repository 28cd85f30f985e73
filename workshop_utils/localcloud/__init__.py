"""The embedded local cloud: moto + apigatewayv2 deployments + a Lambda runtime that runs
real code + the API Gateway WebSocket data plane, in one background process on 127.0.0.1.

This module is the local cloud's public API: the learner's helpers (``workshop_utils.target``,
``cli``, ``walkthrough``, ``terminal_chat``) import only what is listed here. What is inside,
and where each piece lives, is told in ARCHITECTURE.md at the root of the repository.
"""

from .chatpage import PAGE_FILE as CHAT_PAGE_FILE
from .chatpage import page_query as chat_page_query
from .chatpage import page_url as chat_page_url
from .lifecycle import LocalCloudError, start, status, stop
from .settings import CloudSettings, GatewayLimits, default_home
from .tempcloud import LocalCloud

__all__ = [
    "CHAT_PAGE_FILE",
    "CloudSettings",
    "GatewayLimits",
    "LocalCloud",
    "LocalCloudError",
    "chat_page_query",
    "chat_page_url",
    "default_home",
    "start",
    "status",
    "stop",
]
