"""Faithfulness metrics of one epoch (DESIGN.md "Faithfulness metrics"; DVI AAAI 2022 Sec. 5):
NPR, boundary NPR, PPR, trustworthiness and continuity. Temporal ones: :mod:`ttvis.metrics.temporal`.

Arrays in, numbers out; no file I/O.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ttvis.projection.knn import exact_neighbours, neighbour_overlap

TRUST_MAX = 3000  # trustworthiness/continuity are O(N^2): larger sets are subsampled
NPR_MAX = 2000  # NPR scores at most this many query samples (a fixed random subset; standard error about 0.005;
# every query costs a search of all the pool's rows: 2,000 into 40,000 x 512 is about 1.8 s on 2 cores)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over rows of |a_i ∩ b_i| / k for int ``[N, k]`` neighbour lists (NaN for N = 0)."""
    return float(neighbour_overlap(a, b).mean()) if a.shape[0] else float("nan")


def npr_queries(n: int, query: np.ndarray | None = None, limit: int = NPR_MAX, seed: int = 0) -> np.ndarray:
    """The samples NPR scores: ``query`` (default all ``n``), or a fixed random ``limit`` of them."""
    q = np.arange(n) if query is None else np.asarray(query, np.int64)
    return q if len(q) <= limit else np.sort(np.random.default_rng(seed).choice(q, limit, replace=False))


def neighbour_preserving_rate(high: np.ndarray, low: np.ndarray, k: int = 15, query: np.ndarray | None = None,
                              limit: int = NPR_MAX) -> float:
    """NPR@k: mean over query samples of |kNN_high ∩ kNN_2D| / k, neighbours drawn from all rows
    (exact neighbours, the sample itself excluded).

    Args:
        high: float32 ``[N, D]`` representations; low: float32 ``[N, 2]`` positions (same rows).
        k: neighbours (excluding the sample itself).
        query: int indices of the samples to score (default: all); above ``limit`` of them, a
            fixed random subset of ``limit`` is scored (:func:`npr_queries`), so a 50,000 x 512
            epoch costs two 2,000-query exact searches, not two kNN graphs of all rows.

    Returns:
        A rate in [0, 1] (NaN for no query).
    """
    n = high.shape[0]
    k = min(k, n - 1)
    q = npr_queries(n, query, limit)
    if not len(q):
        return float("nan")
    hi, _ = exact_neighbours(high, high[q], k + 1, q)
    lo, _ = exact_neighbours(low, low[q], k + 1, q)
    return _overlap(hi[:, 1:], lo[:, 1:])


def neighbour_preserving_rate_cross(q_high: np.ndarray, pool_high: np.ndarray, q_low: np.ndarray, pool_low: np.ndarray, k: int = 15,
                                    limit: int = NPR_MAX) -> float:
    """NPR@k of outside queries (e.g. boundary samples) against a pool (e.g. training samples).

    Args:
        q_high: float32 ``[B, D]``; pool_high: ``[N, D]``; q_low: ``[B, 2]``; pool_low: ``[N, 2]``.
        limit: at most this many queries are scored (a fixed random subset).

    Returns:
        Mean over queries of |kNN_high ∩ kNN_2D| / k, neighbours taken from the pool; NaN if B = 0.
    """
    if q_high.shape[0] == 0:
        return float("nan")
    k = min(k, pool_high.shape[0])
    q = npr_queries(q_high.shape[0], limit=limit)
    q_high, q_low = q_high[q], q_low[q]
    return _overlap(exact_neighbours(pool_high, q_high, k)[0], exact_neighbours(pool_low, q_low, k)[0])


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
    return np.arange(n) if n <= TRUST_MAX else np.sort(np.random.default_rng(seed).choice(n, TRUST_MAX, replace=False))


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
