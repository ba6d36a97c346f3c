"""The subject model's prediction head ``f: representation [M, D] -> class scores [M, C]``.

Used to find boundary samples, paint territories and measure PPR. It is the
recorded model's ``prediction(h)`` when ``model.py`` and ``model/E.pth`` exist (built by
:mod:`ttvis.dynamics.source`, which reads the run); otherwise a multinomial logistic
regression (scikit-learn) fit on the epoch's (representation, predicted class) pairs
stands in, and says so. Arrays in, a callable out: no file I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class PredictionHead:
    """A torch-callable prediction head for one epoch.

    Attributes:
        fn: ``fn(h)`` with ``h`` float32 tensor ``[M, D]`` on ``device`` -> scores ``[M, C]``.
        n_classes: ``C``.
        source: ``"subject model"`` or ``"fallback"``.
        description: one line for the user (which model, agreement with recorded predictions).
        device: torch device string of ``fn``'s parameters.
    """

    fn: Callable
    n_classes: int
    source: str
    description: str
    device: str = "cpu"

    def probabilities(self, h: np.ndarray, batch: int = 65536) -> np.ndarray:
        """Softmax class probabilities: float32 ``[M, C]`` for float32 ``h`` ``[M, D]`` (batched, no grad)."""
        import torch

        out = []
        with torch.no_grad():
            for s in range(0, h.shape[0], batch):
                hb = torch.from_numpy(np.array(h[s : s + batch], dtype=np.float32)).to(self.device)
                out.append(torch.softmax(self.fn(hb).float(), dim=1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.n_classes), np.float32)


def fallback_head(reps: np.ndarray, predicted: np.ndarray | None, n_classes: int, device: str = "cpu") -> PredictionHead:
    """Fit a multinomial logistic regression to (representation, predicted class) pairs.

    Args:
        reps: float32 ``[N, D]``.
        predicted: int64 ``[N]`` recorded predicted classes (None: the run has no predictions,
            which is an error for a classification head).
        n_classes: ``C``; classes never predicted get a score far below the others.

    Raises:
        ValueError: when ``predicted`` is None.
    """
    import torch
    from sklearn.linear_model import LogisticRegression

    if predicted is None:
        raise ValueError("no predictions recorded: a classification head needs dataset/prediction/E.npy or a model")
    present = np.unique(predicted)
    mean = reps.mean(0)
    scale = reps.std(0) + 1e-6
    W = np.zeros((n_classes, reps.shape[1]), np.float64)
    bias = np.full(n_classes, -1e4, np.float64)
    if present.size == 1:
        bias[present[0]] = 0.0
        agree = 1.0
    else:
        clf = LogisticRegression(C=10.0, max_iter=300)
        clf.fit((reps - mean) / scale, predicted)
        coef = clf.coef_ if present.size > 2 else np.vstack([-clf.coef_[0] / 2, clf.coef_[0] / 2])
        icpt = clf.intercept_ if present.size > 2 else np.array([-clf.intercept_[0] / 2, clf.intercept_[0] / 2])
        W[present] = coef / scale  # fold the standardisation into the linear map
        bias[present] = icpt - (coef / scale) @ mean
        agree = float((clf.predict((reps - mean) / scale) == predicted).mean())
    lin = torch.nn.Linear(reps.shape[1], n_classes).to(device)
    with torch.no_grad():
        lin.weight.copy_(torch.as_tensor(W, dtype=torch.float32))
        lin.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    lin.requires_grad_(False)
    return PredictionHead(lin, n_classes, "fallback",
                          f"no subject model recorded: logistic regression fit to the recorded predictions "
                          f"(agrees on {agree:.1%} of samples)", device)
