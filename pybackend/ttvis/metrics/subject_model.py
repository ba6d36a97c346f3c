"""``ttvis evaluate-model``: the subject model's accuracy and loss per epoch.

As DeepVisualInsight's ``subject_model_eval.py``: for every epoch, the accuracy of the
recorded predictions against the labels, on the training and on the test samples, plus
the mean cross-entropy loss (natural log, of softmax(scores)). Written to
``<run>/subject_model_eval.json``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ttvis.dynamics import atomic
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics

OnEpoch = Callable[[int, int, dict], None]


def accuracy_and_loss(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Accuracy (share of argmax == label) and mean cross-entropy (nats) of class scores.

    Args:
        scores: float ``[M, C]`` raw class scores (logits).
        labels: int ``[M]`` class indices in ``[0, C)``.

    Returns:
        ``(accuracy, loss)``; ``(nan, nan)`` for ``M = 0``.
    """
    if scores.shape[0] == 0:
        return float("nan"), float("nan")
    s = scores.astype(np.float64)
    s = s - s.max(axis=1, keepdims=True)
    logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    acc = float((scores.argmax(axis=1) == labels).mean())
    loss = float(-logp[np.arange(labels.size), labels].mean())
    return acc, loss


def evaluate_subject_model(run_path: str | os.PathLike, on_epoch: OnEpoch | None = None) -> dict[str, Any]:
    """Per-epoch train/test accuracy and loss of the subject model; writes ``subject_model_eval.json``.

    Args:
        run_path: a classification run (any layout) with predictions for its epochs
            (``ttvis preprocess`` computes missing ones from the checkpoints).
        on_epoch: ``on_epoch(epoch, total, {"train_acc", "test_acc", "train_loss", "test_loss"})``.

    Returns:
        ``{"train_acc": {"E": float}, "test_acc": {...}, "train_loss": {...}, "test_loss": {...}}``.

    Raises:
        DynamicsError: a bad run, a representation-only run, or epochs without predictions.
    """
    run = TrainingDynamics(run_path)
    if run.task != "classification" or not (run.labels >= 0).any():
        raise DynamicsError(run.path, "a classification run (labels and predictions) to evaluate the subject model",
                            "a representation-only run")
    if not run.has_predictions:
        raise DynamicsError(run.prediction_files(run.epochs[0])[0], "the recorded class scores of every epoch",
                            f"no such file: run `ttvis preprocess {run.path}` to compute them from the checkpoints")
    out: dict[str, Any] = {"train_acc": {}, "test_acc": {}, "train_loss": {}, "test_loss": {}}
    for e in run.epochs:
        scores = run.prediction(e)
        row = {}
        for split, idx in (("train", run.train_index), ("test", run.test_index)):
            acc, loss = accuracy_and_loss(scores[idx], run.labels[idx])
            out[f"{split}_acc"][str(e)] = row[f"{split}_acc"] = acc
            out[f"{split}_loss"][str(e)] = row[f"{split}_loss"] = loss
        if on_epoch:
            on_epoch(e, len(run.epochs), row)
    atomic.save_json(Path(run.path) / "subject_model_eval.json", out)
    return out
