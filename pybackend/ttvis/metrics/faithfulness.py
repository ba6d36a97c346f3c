"""Faithfulness metrics of one epoch (DESIGN.md "Faithfulness metrics"; DVI AAAI 2022 Sec. 5):
NPR, boundary NPR, PPR, trustworthiness and continuity. Temporal ones: :mod:`ttvis.metrics.temporal`.

Arrays in, numbers out; no file I/O.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ttvis.projection.knn import knn_graph, neighbour_overlap

_TRUST_MAX = 3000  # trustworthiness/continuity are O(N^2): larger sets are subsampled


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of |a_i ∩ b_i| / k for int ``[N, k]`` neighbour lists (NaN for N = 0)."""
    return float(neighbour_overlap(a, b).mean()) if a.shape[0] else float("nan")


def neighbour_preserving_rate(high: np.ndarray, low: np.ndarray, k: int = 15, query: np.ndarray | None = None) -> float:
    """NPR@k: mean over query samples of |kNN_high ∩ kNN_2D| / k, neighbours drawn from all rows.

    Args:
        high: float32 ``[N, D]`` representations; low: float32 ``[N, 2]`` positions (same rows).
        k: neighbours (excluding the sample itself).
        query: int indices of the samples to score (default: all).

    Returns:
        A rate in [0, 1] (NaN for no query).
    """
    n = high.shape[0]
    k = min(k, n - 1)
    hi, _ = knn_graph(np.ascontiguousarray(high, np.float32), k + 1)
    lo, _ = knn_graph(np.ascontiguousarray(low, np.float32), k + 1)
    q = np.arange(n) if query is None else np.asarray(query)
    return _overlap(hi[q, 1:], lo[q, 1:])


def neighbour_preserving_rate_cross(q_high: np.ndarray, pool_high: np.ndarray, q_low: np.ndarray, pool_low: np.ndarray, k: int = 15) -> float:
    """NPR@k of outside queries (e.g. boundary samples) against a pool (e.g. training samples).

    Args:
        q_high: float32 ``[B, D]``; pool_high: ``[N, D]``; q_low: ``[B, 2]``; pool_low: ``[N, 2]``.

    Returns:
        Mean over queries of |kNN_high ∩ kNN_2D| / k, neighbours taken from the pool; NaN if B = 0.
    """
    if q_high.shape[0] == 0:
        return float("nan")
    import torch

    def nn(q: np.ndarray, pool: np.ndarray) -> np.ndarray:
        d = torch.cdist(torch.tensor(q, dtype=torch.float64), torch.tensor(pool, dtype=torch.float64))
        return torch.topk(d, min(k, pool.shape[0]), largest=False).indices.numpy()

    return _overlap(nn(q_high, pool_high), nn(q_low, pool_low))


def prediction_preserving_rate(
    x: np.ndarray, encode: Callable[[np.ndarray], np.ndarray], decode: Callable[[np.ndarray], np.ndarray],
    probabilities: Callable[[np.ndarray], np.ndarray],
) -> float:
    """PPR: share of samples with argmax f(decode(encode(x))) = argmax f(x).

    Args:
        x: float32 ``[M, D]`` representations.
        encode/decode: the vis model (raw representation space).
        probabilities: the prediction head, ``[M, D] -> [M, C]``.
    """
    if x.shape[0] == 0:
        return float("nan")
    a = probabilities(x).argmax(1)
    b = probabilities(decode(encode(x))).argmax(1)
    return float((a == b).mean())


def _subsample(n: int, seed: int = 0) -> np.ndarray:
    return np.arange(n) if n <= _TRUST_MAX else np.sort(np.random.default_rng(seed).choice(n, _TRUST_MAX, replace=False))


def trustworthiness(high: np.ndarray, low: np.ndarray, k: int = 15) -> float:
    """scikit-learn's trustworthiness (Venna & Kaski 2001) of ``low`` [N, 2] for ``high`` [N, D];
    above 3,000 samples a fixed random subset of 3,000 is scored."""
    from sklearn.manifold import trustworthiness as tw

    s = _subsample(high.shape[0])
    return float(tw(high[s], low[s], n_neighbors=min(k, len(s) // 2 - 1)))


def continuity(high: np.ndarray, low: np.ndarray, k: int = 15) -> float:
    """Continuity (Venna & Kaski 2001): trustworthiness with the two spaces' roles swapped."""
    from sklearn.manifold import trustworthiness as tw

    s = _subsample(high.shape[0])
    return float(tw(low[s], high[s], n_neighbors=min(k, len(s) // 2 - 1)))
