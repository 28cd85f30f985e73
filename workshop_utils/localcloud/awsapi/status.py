"""``GET /_localcloud/status``: the cloud's endpoints plus what its gateway serves right now.

``workshop cloud status`` and :func:`~..lifecycle.status` read it; it is also how a starting
cloud is known to answer.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from ..settings import STATUS_PATH, endpoints
from .dispatch import Forward

if TYPE_CHECKING:
    from ..parts import CloudParts


class StatusExtension:
    def __init__(self, parts: CloudParts) -> None:
        self.parts = parts

    def handle(self, request: Request, forward: Forward) -> Response | None:
        if request.path != STATUS_PATH:
            return None
        body = {**endpoints(self.parts.settings), "pid": os.getpid()}
        body.update(self.parts.gateway.status())
        return Response(json.dumps(body), mimetype="application/json")
