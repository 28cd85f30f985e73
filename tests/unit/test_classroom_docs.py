"""The instructors' guide and the README agree with the code and with their own arithmetic."""

from __future__ import annotations

import re
from decimal import Decimal

from workshop_utils.lab import checkout as repo_root
from workshop_utils.stack import FUNCTION_MEMORY_MB

ROOT = repo_root()
README = (ROOT / "README.md").read_text()
GUIDE_PATH = ROOT / "docs" / "classroom" / "README.md"
GUIDE = GUIDE_PATH.read_text()


def test_the_readme_points_to_the_guide_and_the_guide_to_its_files() -> None:
    """The README links the classroom guide, and every file the guide links exists."""
    assert "(docs/classroom/README.md)" in README
    for link in re.findall(r"\]\(([^)#:]+)\)", GUIDE):
        assert (GUIDE_PATH.parent / link).exists(), link
    for name in ("learner-policy.json", "learner-boundary.json"):
        assert f"]({name})" in GUIDE


def test_memory_figures_are_the_functions_memory_size() -> None:
    """The README once said 128 MB while the functions are created with 256."""
    memory = str(FUNCTION_MEMORY_MB)  # what stack.ensure_functions passes as MemorySize
    assert re.findall(r"within its (\d+) MB `MemorySize`", README) == [memory]
    assert re.findall(r"`MemorySize=(\d+)`", GUIDE) == [memory]


def _amount(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", ""))


def test_the_cost_table_adds_up() -> None:
    """Every row's arithmetic gives its cost (to the cent's hundredth), and the rows give the
    total; the class example multiplies it out."""
    table = GUIDE[GUIDE.index("| item | usage | arithmetic | cost |"):]
    table = table[:table.index("\n\n")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")]
            for line in table.splitlines()[2:]]
    total = Decimal(0)
    for item, _usage, arithmetic, cost in rows:
        if item == "**total**":
            stated_total = _amount(re.search(r"\$[\d.]+", cost)[0])
            continue
        factors = re.fullmatch(r"([\d.,]+) × (\$[\d.]+)(?: / ([\d,]+))?", arithmetic)
        assert factors, f"{item}: {arithmetic!r} is not 'usage × price [/ unit]'"
        value = _amount(factors[1]) * _amount(factors[2]) / _amount(factors[3] or "1")
        assert abs(value - _amount(cost)) <= Decimal("0.000005"), (item, value, cost)
        total += value
    assert abs(total - stated_total) < Decimal("0.0005"), total
    learners, hours, per_hour, stated = re.search(
        r"(\d+) × (\d+) × \$([\d.]+) ≈ \*\*\$([\d.]+)\*\*", GUIDE).groups()
    assert Decimal(per_hour) == stated_total
    assert Decimal(learners) * Decimal(hours) * Decimal(per_hour) == Decimal(stated)
