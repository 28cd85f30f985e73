"""The committed notebooks: executed, honest about errors, compared by nbval, listed in README."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SKIP_TAGS = {"nbval-skip", "nbval-ignore-output"}
MAX_SKIPPED_SHARE = 0.10


def code_cells(path: Path) -> list:
    """The code cells of the notebook at ``path``."""
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_the_series_is_there_in_order() -> None:
    """The notebooks are numbered 00, 01, ... with no gap, at least eight of them."""
    assert [p.name[:2] for p in NOTEBOOKS] == [f"{i:02d}" for i in range(len(NOTEBOOKS))]
    assert len(NOTEBOOKS) >= 8


def test_few_code_cells_skip_output_comparison() -> None:
    """At most 10% of the code cells are tagged to skip nbval's output comparison."""
    cells = [c for p in NOTEBOOKS for c in code_cells(p)]
    skipped = [c for c in cells if SKIP_TAGS & set(c.metadata.get("tags", []))]
    assert len(skipped) <= MAX_SKIPPED_SHARE * len(cells), (
        f"{len(skipped)} of {len(cells)} code cells skip comparison: sanitize instead")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_with_outputs_and_no_unexpected_errors(path: Path) -> None:
    """Every code cell was executed, and only cells tagged raises-exception show an error; no
    stderr shows a traceback."""
    for index, cell in enumerate(code_cells(path)):
        assert cell.execution_count is not None, f"{path.name} cell {index} was not executed"
        expected = "raises-exception" in cell.metadata.get("tags", [])
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert expected or not errors, f"{path.name} cell {index}: {errors[0].ename}"
        streams = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
        assert "Traceback" not in streams, f"{path.name} cell {index} printed a traceback"


def test_readme_lists_exactly_the_notebooks_on_disk() -> None:
    """The notebooks the README names are exactly the ones on disk."""
    readme = (ROOT / "README.md").read_text()
    listed = {word.strip("`*()[]|") for word in readme.split() if word.strip("`*()[]|").endswith(
        ".ipynb")}
    listed = {Path(name).name for name in listed}
    assert listed == {p.name for p in NOTEBOOKS}


def test_no_untitled_notebooks_or_checkpoints_are_committed() -> None:
    """No Untitled notebook and no .ipynb_checkpoints are in git."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert not [f for f in files if Path(f).name.lower().startswith("untitled")]
    assert not [f for f in files if ".ipynb_checkpoints" in f]


def test_nbval_reads_every_sanitizer() -> None:
    """Every ``regex:`` in sanitize.cfg is one nbval uses: nbval pairs ``regex: `` with the
    next line's ``replace: `` (space included), and silently drops a pair it cannot read (an
    empty ``replace:`` once made REPORT lines compare with their Init Duration after all)."""
    from nbval.plugin import get_sanitize_patterns

    text = (ROOT / "notebooks" / "sanitize.cfg").read_text()
    assert len(get_sanitize_patterns(text)) == text.count("\nregex:")
