"""The project's set-up files agree with each other."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def requirement_names(specs: list[str]) -> set[str]:
    """The normalised project names in requirement specifiers (extras and versions dropped)."""
    names = set()
    for spec in specs:
        name = re.split(r"[<>=!\[ ;]", spec.strip(), maxsplit=1)[0]
        if name and not name.startswith("-"):
            names.add(name.lower().replace("_", "-"))
    return names


def test_environment_yml_installs_what_pyproject_lists() -> None:
    """environment.yml installs exactly the packages pyproject.toml lists (extras included), and
    pins the Python version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = requirement_names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= requirement_names(extra)
    env_text = (ROOT / "environment.yml").read_text()
    pip_lines = re.findall(r"^\s+- (?!pip$)(.+)$", env_text.split("- pip:", 1)[1], re.M)
    assert requirement_names(pip_lines) == wanted
    assert re.search(r"^\s+- python=3\.\d+", env_text, re.M), "environment.yml pins python"


def test_ci_runs_the_readme_test_command() -> None:
    """The README's first lines show make lab and make test, and CI runs make test."""
    readme_head = "\n".join((ROOT / "README.md").read_text().splitlines()[:12])
    assert "make test" in readme_head and "make lab" in readme_head
    assert "make test" in (ROOT / ".ci" / "run").read_text()
