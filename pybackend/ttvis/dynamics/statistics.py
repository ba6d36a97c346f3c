"""A run's per-sample training dynamics (:mod:`ttvis.metrics.sample_dynamics`), read from its
recorded predictions epoch by epoch, as a table for the CLI and the server."""

from __future__ import annotations

from typing import Any

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.metrics.sample_dynamics import KEYS, rank, sample_dynamics


def run_statistics(run: TrainingDynamics) -> dict[str, np.ndarray]:
    """:func:`~ttvis.metrics.sample_dynamics.sample_dynamics` of every recorded epoch of ``run``.

    Raises:
        DynamicsError: the run has no predictions or no labels (a representation-only run).
    """
    if not run.has_predictions or not (run.labels >= 0).any():
        raise DynamicsError(run.path, "recorded predictions and labels (per-sample training dynamics need both)",
                            "a run without them" if not run.has_predictions else "no labels")
    return sample_dynamics(((e, run.prediction(e)) for e in run.epochs), run.labels)


def sample_table(run: TrainingDynamics, sort: str = "aum", split: str = "train", top: int = 0,
                 stats: dict[str, np.ndarray] | None = None) -> list[dict[str, Any]]:
    """Rows ``{index, split, label, label_name, prediction, prediction_name, prediction_epoch, aum,
    confidence, variability, correctness, forgetting_events, first_learned_epoch, flips}``
    (``prediction``: the predicted class at the last epoch, ``prediction_epoch``; None without
    predictions; names None without class names), most suspicious first by ``sort`` among ``split``
    (``train``, ``test`` or ``all``), the first ``top`` (0: all).

    Raises:
        DynamicsError: see :func:`run_statistics`; ValueError: an unknown sort or split.
    """
    if split not in ("train", "test", "all"):
        raise ValueError(f"split: expected train, test or all, found {split!r}")
    stats = stats if stats is not None else run_statistics(run)
    among = {"train": run.train_index, "test": run.test_index, "all": np.arange(run.n_samples)}[split]
    order = rank(stats, sort, among)
    if top:
        order = order[:top]
    is_train = run.split_mask()
    names = list(run.classes or [])
    last = run.epochs[-1] if run.epochs else None
    pred = np.asarray(run.prediction(last)[order]).argmax(1) if run.has_predictions and last is not None and len(order) else None
    rows = []
    for j, i in enumerate(order.tolist()):
        label = int(run.labels[i])
        row: dict[str, Any] = {"index": i, "split": "train" if is_train[i] else "test", "label": label,
                               "label_name": names[label] if 0 <= label < len(names) else None,
                               "prediction": int(pred[j]) if pred is not None else None}
        row["prediction_name"] = names[row["prediction"]] if row["prediction"] is not None and row["prediction"] < len(names) else None
        row["prediction_epoch"] = last if pred is not None else None
        for k in KEYS:
            v = stats[k][i]
            row[k] = int(v) if k in ("forgetting_events", "first_learned_epoch", "flips") else round(float(v), 6)
        rows.append(row)
    return rows
