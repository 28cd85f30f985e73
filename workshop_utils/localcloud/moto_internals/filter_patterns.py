"""CloudWatch Logs' term filter patterns, as AWS matches them (moto 5.2.5 does not).

AWS's examples (CloudWatch Logs' filterPattern, as documented for GetContainerLog in the
Lightsail API reference and in the CloudWatch Logs User Guide, "Filter pattern syntax"):
``""`` returns every event, ``"ERROR"`` the events containing ERROR, ``"ERROR Exception"`` those
containing both, ``"?ERROR ?Exception"`` those containing either, ``"-ERROR"`` all but those
containing ERROR; a term with characters other than letters, digits and underscores is quoted
(``"\"(R1=)\""``). Terms are case-sensitive.

moto reads a pattern that starts with a quote as one quoted phrase, so ``"a" "b"`` (both
required on AWS) matches nothing, and it lets ``?`` and ``-`` patterns match everything. Here a
pattern of terms is matched as AWS does; JSON (``{ … }``), space-delimited (``[ … ]``) and regex
(``% … %``) patterns stay moto's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A term: optional ? or -, then a quoted phrase (\" inside allowed) or a run of non-blanks.
TERM = re.compile(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(\S+))')
STRUCTURED = ("{", "[", "%")


@dataclass(frozen=True)
class TermPattern:
    """A parsed pattern of terms: all of ``required``, one of ``any_of`` (if any), none of
    ``excluded``."""

    required: tuple[str, ...]
    any_of: tuple[str, ...]
    excluded: tuple[str, ...]

    def matches(self, message: str) -> bool:
        if not all(term in message for term in self.required):
            return False
        if self.any_of and not any(term in message for term in self.any_of):
            return False
        return not any(term in message for term in self.excluded)


def parse_terms(pattern: str) -> TermPattern | None:
    """The terms of ``pattern``, or None when it is empty or not a pattern of terms (JSON,
    space-delimited, regex): those are left to moto."""
    text = pattern.strip()
    if not text or text.startswith(STRUCTURED):
        return None
    groups: dict[str, list[str]] = {"": [], "?": [], "-": []}
    for match in TERM.finditer(text):
        sign, quoted, bare = match.groups()
        term = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        if term:
            groups[sign].append(term)
    return TermPattern(tuple(groups[""]), tuple(groups["?"]), tuple(groups["-"]))
