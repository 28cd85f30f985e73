"""A notebook's outputs as nbval compares them: text per code cell, with the volatile parts
replaced by the sanitizers of ``notebooks/sanitize.cfg`` (the same file, read the same way:
a section per sanitizer, with ``regex`` and ``replace``)."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SANITIZE_CFG = ROOT / "notebooks" / "sanitize.cfg"


def sanitizers(path: Path = SANITIZE_CFG) -> list[tuple[re.Pattern[str], str]]:
    """The (pattern, replacement) pairs of a sanitize file, in its order."""
    config = configparser.ConfigParser()
    config.read(path)
    return [(re.compile(config[name]["regex"]), config[name]["replace"])
            for name in config.sections()]


def cell_text(cell: Any) -> str:
    """What a code cell showed: its streams, results and error names, in order."""
    parts = []
    for output in cell.get("outputs", []):
        kind = output["output_type"]
        if kind == "stream":
            parts.append(output["text"])
        elif kind in ("execute_result", "display_data"):
            parts.append(output["data"].get("text/plain", ""))
        elif kind == "error":
            parts.append(f"{output['ename']}: {output['evalue']}\n")
    return "".join(parts)


def sanitized_outputs(nb: Any, rules: list[tuple[re.Pattern[str], str]]) -> list[str]:
    """Each code cell's text with every rule applied (the sanitizers, then any others)."""
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        text = cell_text(cell)
        for pattern, replacement in rules:
            text = pattern.sub(replacement, text)
        texts.append(text)
    return texts
