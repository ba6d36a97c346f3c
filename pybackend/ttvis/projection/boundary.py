"""Boundary samples: points in representation space where the subject model's top-2
class scores nearly tie (DeepVisualInsight, AAAI 2022, Sec. 4.2).

Pairs of samples predicted as different classes are mixed, ``m = l*x_i + (1-l)*x_j``,
and the mixing coefficient ``l`` is bisected on the predicted class until the
top-2 probabilities are within ``tolerance``. A mixup is kept only when its top-2
classes are exactly the pair it was mixed from, ``{c_i, c_j}``: where a third class
wins along the way the point lies on another boundary than the one bisected.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def boundary_samples(
    x: np.ndarray,
    predicted: np.ndarray,
    head_fn: Callable,
    n: int,
    rng: np.random.Generator,
    tolerance: float = 0.1,
    steps: int = 12,
    device: str = "cpu",
) -> tuple[np.ndarray, np.ndarray]:
    """Generate up to ``n`` boundary samples by mixup + bisection.

    Args:
        x: float32 ``[N, D]`` representations (the head's input space).
        predicted: int64 ``[N]`` predicted class of each row.
        head_fn: torch callable ``[M, D] -> [M, C]`` scores (see :mod:`ttvis.projection.head`).
        n: pairs to try; the result keeps those that end within ``tolerance`` with top-2
            classes ``{c_i, c_j}``.
        rng: source of the pairs.
        tolerance: max gap between the top-2 softmax probabilities, in (0, 1].
        steps: bisection steps.

    Returns:
        ``(samples float32 [B, D], pairs int64 [B, 2])`` with ``B <= n``; empty when fewer
        than two classes are predicted.
    """
    import torch

    classes = np.unique(predicted)
    if n <= 0 or classes.size < 2:
        return np.zeros((0, x.shape[1]), np.float32), np.zeros((0, 2), np.int64)
    i = rng.integers(0, x.shape[0], size=4 * n)
    j = rng.integers(0, x.shape[0], size=4 * n)
    ok = predicted[i] != predicted[j]
    i, j = i[ok][:n], j[ok][:n]
    xt = torch.tensor(x, dtype=torch.float32, device=device)  # a copy: x may be a read-only view
    xi, xj = xt[i], xt[j]
    ci = torch.as_tensor(predicted[i], device=device)
    cj = torch.as_tensor(predicted[j], device=device)
    lo = torch.zeros(len(i), 1, device=device)  # l=0: pure x_j (not class c_i)
    hi = torch.ones(len(i), 1, device=device)  # l=1: pure x_i (class c_i)
    with torch.no_grad():
        for _ in range(steps):
            mid = (lo + hi) / 2
            is_ci = head_fn(mid * xi + (1 - mid) * xj).argmax(1) == ci
            hi = torch.where(is_ci[:, None], mid, hi)
            lo = torch.where(is_ci[:, None], lo, mid)
        mid = (lo + hi) / 2
        mix = mid * xi + (1 - mid) * xj
        top2 = torch.softmax(head_fn(mix).float(), 1).topk(2, dim=1)
        p, c = top2.values, top2.indices
        pair = ((c[:, 0] == ci) & (c[:, 1] == cj)) | ((c[:, 0] == cj) & (c[:, 1] == ci))
        keep = (((p[:, 0] - p[:, 1]) < tolerance) & pair).cpu().numpy()
    return mix.cpu().numpy()[keep].astype(np.float32), np.stack([i, j], 1)[keep].astype(np.int64)
