"""``workshop run``: execute the notebooks in order, headless, one line per notebook.

Without ``--fresh`` it runs against the learner's local cloud (started if needed). With
``--fresh`` it starts a new local cloud in a temporary home, so ids start from the seed: that
is how the committed outputs are made (``make notebooks`` = ``workshop run --fresh --write``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .localcloud import LocalCloud

NOTEBOOK_TIMEOUT_S = 300


def notebooks_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "notebooks"


def notebook_paths() -> list[Path]:
    """The series in order: ``NN_name.ipynb`` files."""
    return sorted(p for p in notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def execute(path: Path, write: bool) -> tuple[bool, float, str]:
    """Run the notebook at ``path`` in a new kernel: (ok, seconds, the failure's last line);
    ``write`` saves the outputs into it (only when every cell ran)."""
    ok, elapsed, detail, _ = run_notebook(path, write)
    return ok, elapsed, detail


def run_notebook(path: Path, write: bool = False) -> tuple[bool, float, str, Any]:
    """:func:`execute`, and the executed notebook (an ``nbformat`` node, outputs in it)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=NOTEBOOK_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.monotonic()
    # The kernel's own stderr (start-up warnings) goes to a file, read only if it failed.
    with tempfile.TemporaryFile("w+") as kernel_log:
        try:
            client.execute(stderr=kernel_log)
            ok, detail = True, ""
        except CellExecutionError as exc:
            lines = str(exc).strip().splitlines()
            ok, detail = False, lines[-1] if lines else "error"
        except RuntimeError as exc:  # the kernel died or never answered
            kernel_log.seek(0)
            ok, detail = False, f"{exc}\n{kernel_log.read()[-2000:]}"
    elapsed = time.monotonic() - started
    if write and ok:
        nbformat.write(nb, path)
    return ok, elapsed, detail, nb


def run_notebooks(write: bool = False, fresh: bool = False) -> int:
    paths = notebook_paths()
    if not paths:
        print("no notebooks found in", notebooks_dir())
        return 1
    failed = 0
    with ExitStack() as stack:
        if fresh:
            cloud = stack.enter_context(LocalCloud())
            os.environ["WORKSHOP_HOME"] = str(cloud.settings.home)
        os.environ.setdefault("WORKSHOP_TARGET", "local")
        for path in paths:
            ok, elapsed, detail = execute(path, write)
            status = "ok" if ok else "failed"
            print(f"{path.name:<32} {status:<7} {elapsed:6.1f} s  {detail}".rstrip(), flush=True)
            if not ok:
                failed += 1
                break  # later notebooks build on this one
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_notebooks(write="--write" in sys.argv, fresh="--fresh" in sys.argv))
