"""Earlier results of a method, kept as bounded generations, and the staging of a new run.

::

    visualize/<METHOD>/                         the current results (what every view shows)
    visualize/<METHOD>.new/                     a new run until its first epoch is complete
    visualize/<METHOD>.history/<STARTED>/       earlier results, newest first, at most KEEP

A new run (not a continuation) writes into ``<METHOD>.new/``. Only once its first epoch is
complete there (projection written last) does :func:`promote` move the current results into
``<METHOD>.history/`` and rename ``<METHOD>.new`` to ``<METHOD>``; each step is one
``os.replace``. So a stop at any point of the first epoch (Ctrl-C, ``kill -9``, a closed
editor, an exception) leaves the current results and every earlier generation as they were;
the next run clears the debris (:func:`recover`). A generation is named after the time its
run started (``params.json``'s ``started``) and keeps all its files, finished or partial. The
oldest generations beyond :data:`KEEP` are deleted, only when a newer one arrives. Folders
``<METHOD>.previous``/``.partial`` written by ttvis 0.x join the history at the next rotation.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from ttvis.dynamics.files import list_epochs, load_json

KEEP = 5  # earlier generations kept per method (beside the current results)
_LEGACY = (".previous", ".partial")


def current_dir(run_path: str | os.PathLike, method: str) -> Path:
    """``visualize/<METHOD>``: the current results."""
    return Path(run_path) / "visualize" / method


def staging_dir(run_path: str | os.PathLike, method: str) -> Path:
    """``visualize/<METHOD>.new``: a new run's results until its first epoch is complete."""
    return Path(run_path) / "visualize" / f"{method}.new"


def history_dir(run_path: str | os.PathLike, method: str) -> Path:
    """``visualize/<METHOD>.history``: earlier generations, one folder each."""
    return Path(run_path) / "visualize" / f"{method}.history"


def _started(folder: Path) -> str:
    """When the results in ``folder`` were started (``params.json``), else the folder's mtime."""
    try:
        started = load_json(folder / "params.json", "the method's parameters").get("started")
    except Exception:  # unreadable params: the folder's own time still orders it
        started = None
    if not isinstance(started, str) or not started:
        started = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(folder.stat().st_mtime))
    return started


def _store(folder: Path, hist: Path) -> Path:
    """Move ``folder`` into ``hist`` under a name made from its start time; returns the new path."""
    hist.mkdir(parents=True, exist_ok=True)
    base = re.sub(r"[^0-9A-Za-z_-]", "-", _started(folder))
    dst, n = hist / base, 1
    while dst.exists():
        n += 1
        dst = hist / f"{base}-{n}"
    os.replace(folder, dst)
    return dst


def generations(run_path: str | os.PathLike, method: str) -> list[dict[str, Any]]:
    """The earlier results of ``method`` on a run, newest first.

    Returns:
        One dict per generation: ``name`` (folder name), ``path`` (str), ``started`` (ISO
        time), ``epochs`` (finished epochs, ints), ``planned`` (the epochs its run set out to
        do, or None), ``complete`` (bool) and ``params`` (the method parameters, or None).
    """
    hist = history_dir(run_path, method)
    out = []
    for d in hist.iterdir() if hist.is_dir() else []:
        if not d.is_dir() or d.is_symlink():
            continue
        try:
            params = load_json(d / "params.json", "the method's parameters") if (d / "params.json").is_file() else {}
        except Exception:
            params = {}
        try:
            done = list_epochs(d / "projection")
            started = _started(d)
        except OSError:  # pruned by another process while we looked
            continue
        planned = params.get("epochs") if isinstance(params.get("epochs"), list) else None
        out.append({"name": d.name, "path": str(d), "started": started, "epochs": done, "planned": planned,
                    "complete": bool(done) and planned is not None and set(planned) <= set(done),
                    "params": params.get("params")})
    return sorted(out, key=lambda g: (g["started"], g["name"]), reverse=True)


def _prune(run_path: str | os.PathLike, method: str, keep: int, spare: Path | None = None) -> list[str]:
    """Delete the oldest generations beyond ``keep``, never ``spare`` (the one just stored,
    whatever its start time says); returns their names."""
    gone = []
    others = [g for g in generations(run_path, method) if spare is None or Path(g["path"]) != Path(spare)]
    for g in others[max(0, keep - (spare is not None)):]:
        shutil.rmtree(g["path"], ignore_errors=True)
        gone.append(g["name"])
    return gone


def recover(run_path: str | os.PathLike, method: str) -> str | None:
    """Clear what a new run stopped inside its first epoch left behind.

    A staging folder without a finished epoch is removed. One with a finished epoch (a stop
    between its projection and the promotion) is promoted when there are no current results
    (a stop between :func:`promote`'s two renames), else kept in the history: the current
    results may have been continued since, and they stay what every view shows.

    Returns:
        A one-line note of what was done, or None when there was nothing to do.

    Raises:
        OSError: the folders cannot be renamed or removed.
    """
    new, cur = staging_dir(run_path, method), current_dir(run_path, method)
    if not new.exists():
        return None
    if list_epochs(new / "projection"):
        if not cur.exists():  # stopped between promote's two renames: finish it
            promote(run_path, method)
            return f"finished the promotion of a new run stopped right after its first epoch ({cur.name})"
        # the current results may be newer (continued since): the staged run joins the history instead
        kept = _store(new, history_dir(run_path, method))
        _prune(run_path, method, KEEP, spare=kept)
        return f"kept a new run stopped right after its first epoch in {kept}"
    shutil.rmtree(new)
    return f"removed {new.name}, left by a new run stopped inside its first epoch"


def promote(run_path: str | os.PathLike, method: str, keep: int | None = None) -> Path | None:
    """Make the staged new run the current results; the current ones join the history.

    Call it once the staged run's first epoch is complete on disk. Current results with no
    finished epoch are removed rather than kept.

    Args:
        run_path: the run folder; method: the method name.
        keep: earlier generations to keep (older ones are deleted); default :data:`KEEP`.

    Returns:
        Where the earlier results went (a folder under ``<METHOD>.history``), or None.

    Raises:
        FileNotFoundError: nothing is staged; OSError: a rename failed (nothing is lost:
        each step is one rename).
    """
    cur, new, hist = current_dir(run_path, method), staging_dir(run_path, method), history_dir(run_path, method)
    if not new.is_dir():
        raise FileNotFoundError(f"{new}: no staged results to promote")
    for suffix in _LEGACY:  # ttvis 0.x kept one generation of each kind beside the results
        old = cur.with_name(method + suffix)
        if old.is_dir() and not old.is_symlink():
            _store(old, hist)
    moved = None
    if cur.exists():
        if list_epochs(cur / "projection"):
            moved = _store(cur, hist)
        else:
            shutil.rmtree(cur)
    os.replace(new, cur)
    _prune(run_path, method, KEEP if keep is None else keep, spare=moved)
    return moved
