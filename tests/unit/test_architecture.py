"""The layout of the house holds: no import cycles, one public API of the local cloud, moto
reached through one door, and a map (ARCHITECTURE.md) that names what exists.

Imports are read with ``ast`` from the source, top-level and inside functions alike (an import
in a function is still a dependency, only a later one); imports under ``if TYPE_CHECKING:`` are
left out, since they never run.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "workshop_utils"
LOCALCLOUD = "workshop_utils.localcloud"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import that can run: at any depth, except under ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(name: str) -> list[tuple[str, tuple[str, ...]]]:
    """``(imported module, names taken from it)`` for every import of module ``name``, with
    relative imports resolved; ``from pkg import sub`` counts as importing ``pkg.sub`` when
    ``sub`` is a module of the project."""
    path = MODULES[name]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, tuple[str, ...]]] = []
    for node in _import_nodes(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, ()) for alias in node.names)
            continue
        if node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        names = tuple(alias.name for alias in node.names)
        submodules = [n for n in names if f"{target}.{n}" in MODULES]
        found.extend((f"{target}.{n}", ()) for n in submodules)
        rest = tuple(n for n in names if n not in submodules)
        if rest or not submodules:
            found.append((target, rest))
    return found


def project_graph() -> dict[str, set[str]]:
    return {name: {target for target, _ in imports_of(name) if target in MODULES}
            for name in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module, or a module importing itself
    (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph[node]:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    """The cycle finder reports every loop of imports, self-imports included, and no false one."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert cycles(graph) == [["a", "b", "c"], ["e"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_project_modules() -> None:
    """No two modules of the project import each other, directly or around a loop."""
    assert len(MODULES) > 40, "the walk found the package"
    found = cycles(project_graph())
    assert not found, "modules that import each other (directly or around a loop): " + "; ".join(
        " <-> ".join(component) for component in found)


def test_the_local_cloud_imports_nothing_from_the_learners_helpers() -> None:
    """The local cloud depends on nothing in the learner's helpers (the dependency runs one way)."""
    wrong = [f"{name} imports {target}" for name, targets in project_graph().items()
             if name.startswith(LOCALCLOUD) for target in targets
             if not target.startswith(LOCALCLOUD)]
    assert not wrong


def test_the_learners_helpers_use_only_the_local_clouds_public_api() -> None:
    """The learner's helpers import only names that ``workshop_utils.localcloud`` exports."""
    import workshop_utils.localcloud as public

    wrong = []
    for name in MODULES:
        if name.startswith(LOCALCLOUD):
            continue
        for target, names in imports_of(name):
            if target.startswith(LOCALCLOUD + "."):
                wrong.append(f"{name} imports {target}")
            elif target == LOCALCLOUD:
                wrong += [f"{name} imports {n}, not in localcloud.__all__" for n in names
                          if n not in public.__all__]
    assert not wrong


def test_only_moto_internals_and_the_exceptions_modules_import_moto() -> None:
    """moto is reached only through ``moto_internals`` (and moto's exception classes)."""
    allowed = (f"{LOCALCLOUD}.moto_internals",)
    wrong = [
        f"{name} imports {target}"
        for name in MODULES if name.startswith(LOCALCLOUD)
        and not name.startswith(allowed) and not name.endswith(".exceptions")
        for target, _ in imports_of(name) if target == "moto" or target.startswith("moto.")
    ]
    assert not wrong


def test_the_lambda_worker_imports_nothing_of_the_project() -> None:
    """bootstrap.py runs by path in the function's process: nothing of ours may be there."""
    name = f"{LOCALCLOUD}.awslambda.runtime.bootstrap"
    tree = ast.parse(MODULES[name].read_text())
    relative = [n for n in _import_nodes(tree) if isinstance(n, ast.ImportFrom) and n.level]
    ours = [t for t, _ in imports_of(name) if t.split(".")[0] in ("workshop_utils", "tests")]
    assert not relative and not ours


@pytest.mark.parametrize("module", ["speedups", "memory", "corrections"])
def test_every_moto_patch_says_why_and_the_moto_version_it_was_checked_on(module: str) -> None:
    """Each function that ``apply()`` installs has a docstring naming the moto version it was
    checked on, in the series that pyproject.toml allows (a moto upgrade re-reads them)."""
    import importlib

    import moto

    mod = importlib.import_module(f"{LOCALCLOUD}.moto_internals.{module}")
    tree = ast.parse(Path(mod.__file__).read_text())
    apply = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "apply")
    installed = [c.func.id for c in ast.walk(apply)
                 if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)]
    assert installed
    series = ".".join(moto.__version__.split(".")[:2])
    for patch in installed:
        doc = getattr(mod, patch).__doc__ or ""
        assert re.search(rf"[Cc]hecked\s+on\s+moto\s+{re.escape(series)}\.\d+", doc), patch
        assert len(doc.split()) > 20, f"{patch} says why it exists"


# --- the map ------------------------------------------------------------------------------

MAP = ROOT / "ARCHITECTURE.md"
_TICKED = re.compile(r"`([^`\s]+)`")


def named_paths(text: str) -> list[str]:
    """Backticked tokens that are paths: with a slash or a file suffix, no URL or glob."""
    return [t for t in _TICKED.findall(text)
            if ("/" in t or re.search(r"\.(py|md|js|json|cfg|toml|yml)$", t))
            and not t.startswith(("http", "/", "$", "ws:")) and "{" not in t and "<" not in t]


def resolve(token: str) -> Path:
    """A path of the map: from the repository's root when its first part is there, else from
    ``workshop_utils/localcloud/`` (the map says so)."""
    first = token.split("/", 1)[0]
    base = ROOT if (ROOT / first).exists() else PACKAGE / "localcloud"
    return base / token


def test_every_path_the_map_names_exists() -> None:
    """Every file or folder ARCHITECTURE.md names exists in the tree."""
    paths = named_paths(MAP.read_text())
    assert len(paths) > 50, "the map names its files"
    missing = [p for p in paths if not resolve(p).exists()]
    assert not missing


def test_the_map_names_every_module_of_the_local_cloud() -> None:
    """ARCHITECTURE.md names every module of the local cloud, so none is left off the map."""
    named = {resolve(p).resolve() for p in named_paths(MAP.read_text())}
    unnamed = [str(p.relative_to(ROOT)) for p in sorted((PACKAGE / "localcloud").rglob("*.py"))
               if p.name != "__init__.py" and p.resolve() not in named]
    assert not unnamed, "add them to ARCHITECTURE.md"


def test_the_readme_layout_names_what_exists() -> None:
    """The README's layout line names the map and only paths that exist."""
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("- Layout:"):]
    layout = layout[: layout.index("\n\n")]
    paths = named_paths(layout)
    assert "ARCHITECTURE.md" in paths and "workshop_utils/localcloud/" in paths
    assert not [p for p in paths if not (ROOT / p).exists()]
