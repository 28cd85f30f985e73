"""moto remembers every model object it ever made; the local cloud keeps only the live ones.

``moto.core.common_models.BaseModel.__new__`` appends each new instance to a per-class list,
``instances_tracked``, which only a reset empties. moto uses it to list state on its dashboard
(``/moto-api/data.json``) and to close S3 keys on reset. But DynamoDB builds an ``Item`` for
every item a Scan copies or projects, and CloudWatch Logs a ``LogEvent`` per line: in a
long-running local cloud all of them stayed reachable forever. Measured with the chat's own
handlers: about 20 KB per connect/disconnect, and every 100-client broadcast left 200 copied
items behind, so a classroom session grew by hundreds of MB.

Here each class's list is replaced by :class:`LiveInstances`, which moto appends to and
iterates exactly as before but which holds weak references: an object is listed while
something (a table, a log stream) still holds it, and freed when nothing does. State is
unchanged: what a table or a stream holds is held by the table or the stream. Checked on
moto 5.2.5 (``moto/core/common_models.py``); ``tests/unit/test_moto_memory.py`` checks it.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Iterator
from typing import Any


class _Ref(weakref.ref):  # type: ignore[type-arg]
    """A weak reference that knows its key: one small object per live instance (log events
    are many; a closure per reference cost more than the event)."""

    __slots__ = ("key",)


class LiveInstances:
    """The ``append`` and iteration of moto's ``instances_tracked`` list, without keeping
    anything alive (objects that refuse weak references are kept as moto kept them)."""

    __slots__ = ("_refs", "_strong", "_on_death")

    def __init__(self, existing: Iterable[Any] = ()) -> None:
        self._refs: dict[int, _Ref] = {}
        self._strong: list[Any] = []
        self._on_death = self._forget  # one bound method for every reference
        for instance in existing:
            self.append(instance)

    def append(self, instance: Any) -> None:
        try:
            ref = _Ref(instance, self._on_death)
        except TypeError:  # a class with __slots__ and no __weakref__
            self._strong.append(instance)
            return
        ref.key = id(instance)
        self._refs[ref.key] = ref

    def _forget(self, ref: _Ref) -> None:
        if self._refs.get(ref.key) is ref:  # not a newer object that reuses the id
            del self._refs[ref.key]

    def _live(self) -> list[Any]:
        for _ in range(100):  # a collection during the copy can drop entries: copy again
            try:
                refs = list(self._refs.values())
                break
            except RuntimeError:
                continue
        else:
            refs = []
        return [obj for obj in (ref() for ref in refs) if obj is not None] + self._strong

    def __iter__(self) -> Iterator[Any]:
        return iter(self._live())

    def __len__(self) -> int:
        return len(self._live())


def track_live_instances_only() -> None:
    """Install :class:`LiveInstances` on every moto model class, now and later: checked as each
    instance is made, so classes imported later and lists a moto reset put back are covered.
    Checked on moto 5.2.5: ``BaseModel.__new__`` appends to ``cls.instances_tracked``."""
    from moto.core.common_models import BaseModel

    original = BaseModel.__new__
    if getattr(original, "_localcloud_live", False):
        return

    def __new__(cls: type, *args: Any, **kwargs: Any) -> Any:
        tracked = cls.__dict__.get("instances_tracked")
        if type(tracked) is not LiveInstances:
            cls.instances_tracked = LiveInstances(tracked or ())  # type: ignore[attr-defined]
        return original(cls, *args, **kwargs)

    __new__._localcloud_live = True  # type: ignore[attr-defined]
    BaseModel.__new__ = staticmethod(__new__)  # type: ignore[assignment,method-assign]


def apply() -> None:
    """What the local cloud calls once at start."""
    track_live_instances_only()
