"""``ttvis compare``: every method on one run, side by side (time, memory, faithfulness).

Each method runs as ``python -m ttvis visualize`` in its own process, so its peak memory is
its own; a method whose complete results already match its parameters (``params.json``) is
reused, not retrained (``visualize`` says so and returns at once). The table goes to
``RUN/visualize/compare.md`` and ``compare.json``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from ttvis.dynamics import atomic
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.results import VisResults

#: compare.md columns: header, key in a method's row
COLUMNS = [
    ("method", "method"), ("seconds", "seconds"), ("s/epoch", "seconds_per_epoch"), ("peak RSS MB", "peak_rss_mb"),
    ("NPR train", "npr_train"), ("NPR test", "npr_test"), ("NPR bnd", "npr_boundary"), ("PPR train", "ppr_train"),
    ("TimeVis rank first", "ranking_first"), ("TimeVis rank mean", "ranking_mean"), ("stab_spearman", "stability"),
    ("M-PHATE interslice kNN", "interslice_knn"), ("DynaVis step Spearman", "dynavis_motion_spearman"),
    ("DynaVis direction", "dynavis_direction"), ("DynaVis neighbour change", "dynavis_neighbor_change"),
    ("rank first, standardised", "ranking_first_standardised"), ("stability, standardised", "stability_standardised"),
    ("trust", "trustworthiness"), ("territory", "territory_agreement"),
]
#: under the table: what the temporal columns are
NOTE = ("Temporal columns on the raw recorded representations, as published: TimeVis (IJCAI 2022) temporal ranking, "
        "Vernier et al. (EuroVis 2020) stab_spearman, M-PHATE (NeurIPS 2019) interslice kNN, DynaVis's "
        "scripts/eval_motion.py and eval_neighbor_change.py. \"standardised\": the same on each epoch minus its mean, / its "
        "root mean variance (the space the methods project), not the papers' numbers. compare.json has every key.")
NO_INVERSE = "no inverse map"


def method_row(name: str, evals: dict[str, Any], has_inverse: bool) -> dict[str, Any]:
    """One method's row from its ``eval.json``: last-epoch metrics, the run's temporal measures
    (:data:`ttvis.metrics.report.RUN_KEYS`, each under its true name: an ``eval.json`` from before
    the published definitions gives only the ``*_standardised`` ones), time and memory. PPR and
    territory agreement read "no inverse map" for a method without one."""
    from ttvis.metrics.report import temporal_of

    s = evals.get("summary") or {}
    final, tm = s.get("final") or {}, temporal_of(evals)
    n = len(evals.get("epochs", {}))
    secs = evals.get("seconds")
    row = {"method": name, "epochs": n, "seconds": secs, "seconds_per_epoch": secs / n if secs and n else None,
           "peak_rss_mb": evals.get("peak_rss_mb"), **{k: final.get(k) for k in ("npr_train", "npr_test", "npr_boundary",
           "ppr_train", "trustworthiness", "territory_agreement")}, **tm}
    if not has_inverse:
        row["ppr_train"] = row["territory_agreement"] = NO_INVERSE
    return row


def markdown(rows: list[dict[str, Any]], title: str) -> str:
    """The rows as a Markdown table under a heading."""
    from ttvis.console import fmt

    head = "| " + " | ".join(h for h, _ in COLUMNS) + " |"
    rule = "| " + " | ".join("---" for _ in COLUMNS) + " |"
    body = ["| " + " | ".join(fmt(r.get(k), 1 if k in ("seconds", "peak_rss_mb") else 3) for _, k in COLUMNS) + " |" for r in rows]
    return "\n".join([f"# {title}", "", head, rule, *body, "", NOTE, ""])


def _train_method(cmd: list[str]) -> tuple[int, str, float]:
    """A task (:mod:`ttvis.parallel`): run one method's ``ttvis visualize``; (status, stderr, seconds)."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent(os.getpid()))
    return r.returncode, r.stderr, time.perf_counter() - t0


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child die when ``parent`` does (Linux ``PR_SET_PDEATHSIG``),
    so a ``kill -9`` of ``ttvis compare`` never leaves a child that still holds a method's lock;
    None where the platform has no such call."""
    if not sys.platform.startswith("linux"):
        return None

    def arm() -> None:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the call took effect
            os._exit(1)

    return arm


def compare(run_path: str | Path, methods: list[str], epochs: str | None = None, run: dict[str, Any] | None = None,
            restart: bool = False, on_message: Callable[[str], None] | None = None, executor: Any = None) -> dict[str, Any]:
    """Train (or reuse) each method on a run and write ``visualize/compare.{md,json}``.

    Args:
        run_path: the run folder; methods: registered method names; epochs: the selection
            (``parse_epochs``); run: run settings (seed, device, resolution, fit_on);
            restart: retrain even when matching results exist.
        executor: where the methods train (:mod:`ttvis.parallel`); with Ray, side by side on
            the cluster's workers (each still in a process of its own).

    Returns:
        ``{"run", "epochs", "methods": [rows], "markdown", "written": [paths]}``.

    Raises:
        ValueError: an unknown method; DynamicsError: bad folder, or a method whose
            training failed (its error is in the message).
    """
    from ttvis.dynamics.folder import TrainingDynamics
    from ttvis.projection.registry import get_method

    tdyn = TrainingDynamics(run_path)
    classes = [get_method(m) for m in methods]
    from ttvis.parallel import Executor

    ex = executor or Executor()
    say = on_message or (lambda m: None)
    rows, tasks = [], []
    for cls in classes:
        cmd = [sys.executable, "-m", "ttvis", "visualize", str(tdyn.path), "--method", cls.name, "--quiet"]
        if epochs:
            cmd += ["--epochs", str(epochs)]
        for k, v in (run or {}).items():
            cmd += [f"--{k.replace('_', '-')}", str(v)]
        if restart:
            cmd.append("--restart")
        say(f"{cls.name}: {' '.join(cmd[3:])}" + (f" (on {ex.name})" if ex.parallelism > 1 else ""))
        tasks.append((cls, ex.submit(_train_method, cmd)))
    for cls, task in tasks:
        code, err, secs = task.result()
        if code != 0:
            last = (err.strip().splitlines() or ["(no message)"])[-1]
            raise DynamicsError(tdyn.path / "visualize" / cls.name, f"{cls.name} to train", f"a failure: {last}")
        evals = VisResults(tdyn.path, cls.name, tdyn.n_samples).eval()
        rows.append(method_row(cls.name, evals, cls.has_inverse))
        say(f"{cls.name}: {secs:.0f} s")
    title = f"Methods on {tdyn.name} ({tdyn.n_samples} samples, {tdyn.dim} dims, epochs {epochs or 'all'})"
    md = markdown(rows, title)
    out = {"run": str(tdyn.path), "epochs": epochs or "all", "methods": rows, "markdown": md}
    vis = tdyn.path / "visualize"
    atomic.save_json(vis / "compare.json", {k: v for k, v in out.items() if k != "markdown"})
    atomic.save_bytes(vis / "compare.md", md.encode("utf-8"))
    out["written"] = [str(vis / "compare.md"), str(vis / "compare.json")]
    return out


def dumps(out: dict[str, Any]) -> str:
    """``compare``'s result as JSON (without the Markdown)."""
    return json.dumps({k: v for k, v in out.items() if k != "markdown"}, indent=2)
