"""Find training-dynamic folders below some roots, bounded in depth and time."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterator

from ttvis.dynamics.layouts import detect_layout

SKIP_DIRS = {"node_modules", ".git", ".hg", ".svn", "__pycache__", ".venv", "venv", "env", ".env", "site-packages",
             ".mypy_cache", ".pytest_cache", ".tox", "dist", "build", ".ttvis-cache", "visualize"}


def is_run_folder(path: Path) -> bool:
    """True when ``path`` holds a training run in a layout the reader supports
    (:func:`ttvis.dynamics.layouts.detect_layout`)."""
    return detect_layout(path) is not None


def find_runs(roots: list[Path], max_depth: int = 6, time_budget_s: float = 5.0) -> Iterator[Path]:
    """Yield run folders below ``roots`` (breadth-first), not descending into a recognised
    run, skipping VCS/dependency/virtualenv folders, at most ``max_depth`` levels deep and
    for at most ``time_budget_s`` seconds."""
    deadline = time.monotonic() + time_budget_s
    seen: set[Path] = set()
    queue = [(Path(r), 0) for r in roots]
    while queue and time.monotonic() < deadline:
        folder, depth = queue.pop(0)
        try:
            real = folder.resolve()
        except OSError:
            continue
        if real in seen or not real.is_dir():
            continue
        seen.add(real)
        if is_run_folder(real):
            yield real
            continue
        if depth >= max_depth or (real / "pyvenv.cfg").exists():
            continue
        try:
            with os.scandir(real) as it:
                subs = sorted(e.name for e in it if e.is_dir(follow_symlinks=False))
        except OSError:
            continue
        queue += [(real / n, depth + 1) for n in subs if n not in SKIP_DIRS and not n.startswith(".")]
