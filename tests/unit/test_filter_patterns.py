"""CloudWatch Logs' term filter patterns, matched as AWS matches them.

Source: the filterPattern examples AWS documents for CloudWatch Logs' term patterns (Lightsail
API reference, GetContainerLog ``filterPattern``: ``""``, ``"-ERROR"``, ``"ERROR"``, ``"ERROR
Exception"``, ``"?ERROR ?Exception"``), and the CloudWatch Logs User Guide, "Filter pattern
syntax" (terms are case-sensitive; a term with other characters than letters, digits and
underscores is quoted).
"""

from __future__ import annotations

import pytest

from workshop_utils.localcloud.moto_internals.filter_patterns import parse_terms

BOTH = "2026-12-02 ERROR Exception in handler"
ERROR_ONLY = "2026-12-02 ERROR timeout"
NEITHER = "2026-12-02 INFO all good"
EXCEPTION_ONLY = "2026-12-02 WARN Exception swallowed"


@pytest.mark.parametrize(("pattern", "matching"), [
    ("ERROR", {BOTH, ERROR_ONLY}),
    ("ERROR Exception", {BOTH}),
    ("?ERROR ?Exception", {BOTH, ERROR_ONLY, EXCEPTION_ONLY}),
    ("-ERROR", {NEITHER, EXCEPTION_ONLY}),
    ('"ERROR" "Exception"', {BOTH}),
    ("ERROR -timeout", {BOTH}),
    ("error", set()),  # case-sensitive
])
def test_the_documented_term_patterns_match_as_on_aws(pattern: str, matching: set[str]) -> None:
    """Terms are ANDed, ``?`` terms ORed, ``-`` terms excluded, quoted or not, case-sensitive."""
    terms = parse_terms(pattern)
    assert terms is not None
    assert {m for m in (BOTH, ERROR_ONLY, NEITHER, EXCEPTION_ONLY) if terms.matches(m)} == matching


def test_a_quoted_term_keeps_what_is_not_a_word_character() -> None:
    """An id in parentheses, as API Gateway's execution log writes it, is one quoted term; an
    escaped quote inside it is a quote."""
    line = '(HBzR3Ptw3kaEblE=) Sending request to "x"'
    assert parse_terms('"(HBzR3Ptw3kaEblE=)" "Sending request"').matches(line)
    assert not parse_terms('"(HBzR3Ptw3kaEblE=)" "Received response"').matches(line)
    assert parse_terms(r'"to \"x\""').matches(line)


@pytest.mark.parametrize("pattern", ["", "   ", '{ $.level = "ERROR" }', "[ip, user, ...]",
                                     "%ERR.R%"])
def test_empty_and_structured_patterns_are_not_term_patterns(pattern: str) -> None:
    """An empty pattern, and JSON, space-delimited and regex patterns, are not read as terms
    (they stay with moto's filter)."""
    assert parse_terms(pattern) is None
