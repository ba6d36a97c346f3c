"""Faithfulness metrics (DESIGN.md "Faithfulness metrics"; DVI AAAI 2022 Sec. 5, TimeVis IJCAI 2022).

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
        d = torch.cdist(torch.as_tensor(q, dtype=torch.float64), torch.as_tensor(pool, dtype=torch.float64))
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


def temporal_ranking(high: list[np.ndarray], low: list[np.ndarray], ref: int, samples: np.ndarray | None = None) -> float:
    """Temporal ranking: per sample, Spearman correlation between the high-D and the 2-D
    distances from its reference-epoch position to its positions at every other epoch; averaged.

    Args:
        high: per epoch, float32 ``[N, D]`` (T epochs); low: per epoch, float32 ``[N, 2]``.
        ref: index (0..T-1) of the reference epoch.
        samples: int indices to score (default all).

    Returns:
        Mean Spearman rho in [-1, 1]; NaN with fewer than 3 epochs. Samples whose
        distances are constant (no ranking) are skipped.
    """
    t = len(high)
    if t < 3:
        return float("nan")
    idx = np.arange(high[0].shape[0]) if samples is None else np.asarray(samples)
    others = [i for i in range(t) if i != ref]
    dh = np.stack([np.linalg.norm(high[i][idx] - high[ref][idx], axis=1) for i in others], 1)
    dl = np.stack([np.linalg.norm(low[i][idx] - low[ref][idx], axis=1) for i in others], 1)
    from scipy.stats import rankdata

    rh, rl = rankdata(dh, axis=1), rankdata(dl, axis=1)
    rh -= rh.mean(1, keepdims=True)
    rl -= rl.mean(1, keepdims=True)
    den = np.sqrt((rh**2).sum(1) * (rl**2).sum(1))
    ok = den > 0
    return float(((rh * rl).sum(1)[ok] / den[ok]).mean()) if ok.any() else float("nan")


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
