"""CloudWatch Logs written from inside the local cloud, straight into moto's logs backend.

Lambda's START/END/REPORT lines (:mod:`..awslambda.runtime.logdelivery`) and the gateway's
access logs (:mod:`..gateway.access_log`) are written here, the way the services write them on
AWS: the learner reads them back with ``logs.filter_log_events``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .. import moto_internals
from .exceptions import ResourceAlreadyExistsException


class CloudWatchLogs:
    """Appends events to moto's log streams, creating groups and streams as AWS does."""

    def __init__(self, account_id: str, region: str) -> None:
        self._account_id = account_id
        self._region = region
        self._lock = threading.Lock()  # moto's log streams are not thread safe on their own

    def _backend(self, region: str | None = None):  # noqa: ANN202 - moto's type
        return moto_internals.logs_backend(self._account_id, region or self._region)

    def has_group(self, group: str, region: str | None = None) -> bool:
        return group in self._backend(region).groups

    def ensure_stream(self, group: str, stream: str, region: str | None = None) -> None:
        """Create the group and stream if they are missing (Lambda does both on AWS)."""
        backend = self._backend(region)
        with self._lock:
            if group not in backend.groups:
                try:
                    backend.create_log_group(group, tags={})
                except ResourceAlreadyExistsException:
                    pass
            if stream not in backend.groups[group].streams:
                try:
                    backend.create_log_stream(group, stream)
                except ResourceAlreadyExistsException:
                    pass

    def put(
        self,
        group: str,
        stream: str,
        messages: Iterable[tuple[int, str]],
        region: str | None = None,
    ) -> None:
        """Append ``(timestamp_ms, message)`` events, creating the stream when needed."""
        events = [{"timestamp": ts, "message": msg} for ts, msg in messages]
        if not events:
            return
        self.ensure_stream(group, stream, region)
        with self._lock:
            self._backend(region).put_log_events(group, stream, events)
