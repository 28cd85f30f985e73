"""Route selection: evaluate a RouteSelectionExpression on a message.

Supported: ``$request.body.<path>``, ``${request.body.<path>}`` and several of them mixed with
static text (``${request.body.service}/${request.body.action}``). A path is dot-separated keys
with optional ``[n]`` indexes. A missing path gives ""; objects and arrays are stringified as
compact JSON; the result is matched exactly (case-sensitive) against the route keys.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_.\[\]]*)")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_MISSING = object()

# A compiled expression: static strings and body paths (tuples of keys/indexes); None stands
# for a variable the WebSocket data plane does not know (it evaluates to "").
Part = str | tuple[str | int, ...] | None


@lru_cache(maxsize=256)
def compile_expression(expression: str) -> tuple[tuple[Part, ...], bool]:
    """The parts of ``expression`` and whether it reads the body."""
    parts: list[Part] = []
    reads_body = False
    pos = 0
    for match in _VARIABLE.finditer(expression):
        if match.start() > pos:
            parts.append(expression[pos:match.start()])
        name = match.group(1) if match.group(1) is not None else match.group(2)
        if name == "request.body" or name.startswith("request.body."):
            reads_body = True
            path = name[len("request.body."):] if name != "request.body" else ""
            parts.append(tuple(
                int(m.group(2)) if m.group(2) is not None else m.group(1)
                for m in _SEGMENT.finditer(path)))
        else:
            parts.append(None)
        pos = match.end()
    if pos < len(expression):
        parts.append(expression[pos:])
    return tuple(parts), reads_body


def _stringify(value: Any) -> str:
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _lookup(document: Any, path: tuple[str | int, ...]) -> Any:
    for key in path:
        if isinstance(key, int):
            if not isinstance(document, list) or key >= len(document):
                return _MISSING
        elif not isinstance(document, dict) or key not in document:
            return _MISSING
        document = document[key]
    return document


def select_route_key(expression: str, body: str) -> str | None:
    """The value of ``expression`` for this message, or None when the body is not JSON."""
    parts, reads_body = compile_expression(expression)
    document: Any = None
    if reads_body:
        try:
            document = json.loads(body)
        except ValueError:
            return None
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part is not None:
            out.append(_stringify(_lookup(document, part)))
    return "".join(out)
