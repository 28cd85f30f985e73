"""Three speed-ups of moto inside the local cloud process, found by profiling (README, Performance).

moto is used as it is installed; these replace three of its internal functions at run time with
ones that give the same results faster. Each is a no-op when applied twice, each was checked on
moto 5.2.5 (re-check it when moto changes: the function it replaces may have moved or changed),
and ``tests/unit/test_moto_speedups.py`` checks they give the same answers as moto's own.
"""

from __future__ import annotations

from typing import Any


def cache_moto_dispatch() -> None:
    """moto looks up a handler class's methods with ``inspect.getmembers`` on EVERY request
    (``BaseResponse.call_action`` -> ``method_names_from_class``): about a quarter of the cloud
    process's CPU while 1,000 clients connect (profile in README, Performance). A response
    class's methods never change while the server runs, so the answer is computed once per
    class; what moto dispatches to is unchanged. Checked on moto 5.2.5
    (``moto/core/responses.py`` imports it by name from ``moto/core/utils.py``)."""
    from moto.core import responses

    original = responses.method_names_from_class
    if getattr(original, "_localcloud_cached", False):
        return
    cache: dict[object, frozenset[str]] = {}

    def method_names_from_class(clazz: object) -> frozenset[str]:
        names = cache.get(clazz)
        if names is None:
            names = cache[clazz] = frozenset(original(clazz))
        return names

    method_names_from_class._localcloud_cached = True  # type: ignore[attr-defined]
    responses.method_names_from_class = method_names_from_class


_SCALARS = {"S": str, "N": str, "BOOL": bool, "NULL": bool}


def fast_attribute_values() -> None:
    """moto serializes every DynamoDB AttributeValue (``{"S": "abc"}``) through its generic
    shape walker: ten members, each looked up through five alias providers, about 70 us per
    value. A broadcast's Scan of 500 connection ids spent ~35 ms there (profile in README,
    Performance). For the scalar kinds whose generic serialization is the value itself (S and
    N strings, BOOL and NULL booleans) the result is written directly: the same JSON bytes.
    Everything else (B, sets, M, L, a response transformer) takes moto's own path. Checked on
    moto 5.2.5 (``moto/core/serialize.py``)."""
    from moto.core.serialize import BaseJSONSerializer

    original = BaseJSONSerializer._serialize_type_structure
    if getattr(original, "_localcloud_fast", False):
        return

    def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any,
                                  key: Any) -> None:
        if (key and type(value) is dict and len(value) == 1 and shape.name == "AttributeValue"
                and not getattr(self._value_picker, "response_transformers", None)):
            ((kind, scalar),) = value.items()
            if type(scalar) is _SCALARS.get(kind):
                self._default_serialize(serialized, {kind: scalar}, shape, key)
                return
        original(self, serialized, value, shape, key)

    _serialize_type_structure._localcloud_fast = True  # type: ignore[attr-defined]
    BaseJSONSerializer._serialize_type_structure = _serialize_type_structure


def cache_moto_module_list() -> None:
    """moto's server finds the backend for a request by asking, on EVERY request, whether the
    host is one of its service folders: ``list_of_moto_modules`` lists moto's package
    directory and stats each entry (about 12% of the cloud process's CPU for a small DynamoDB
    call). The installed package does not change while the server runs: list it once. Checked
    on moto 5.2.5 (``moto/backends.py``)."""
    from moto import backends

    original = backends.list_of_moto_modules
    if getattr(original, "_localcloud_cached", False):
        return
    modules = tuple(original())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    list_of_moto_modules._localcloud_cached = True  # type: ignore[attr-defined]
    backends.list_of_moto_modules = list_of_moto_modules


def apply() -> None:
    """Install the speed-ups (the local cloud calls this once at start)."""
    cache_moto_dispatch()
    fast_attribute_values()
    cache_moto_module_list()
