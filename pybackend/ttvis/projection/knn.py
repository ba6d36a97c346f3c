"""k-nearest-neighbour graph of a representation matrix.

Follows umap-learn's choice: exact neighbours (pairwise distances) below 4,096
samples, where they are cheaper than building an index; pynndescent's
``NNDescent`` (Dong et al. 2011) above.
"""

from __future__ import annotations

import numpy as np

EXACT_LIMIT = 4096


def knn_graph(x: np.ndarray, k: int, seed: int = 0, exact: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest rows by Euclidean distance, itself first.

    Args:
        x: float32 ``[N, D]``.
        k: neighbours per row including itself (UMAP convention), 2 <= k <= N.
        seed: seeds pynndescent's random projections (approximate path only).
        exact: force the exact (True) or approximate (False) path; default by size.

    Returns:
        ``(indices int64 [N, k], distances float32 [N, k])``, ascending distance.

    Raises:
        ValueError: when ``k`` is out of range.
    """
    n = x.shape[0]
    if not 2 <= k <= n:
        raise ValueError(f"k: expected 2 <= k <= {n} (samples), found {k}")
    if exact if exact is not None else n < EXACT_LIMIT:
        return _exact(np.ascontiguousarray(x, dtype=np.float32), k)
    from pynndescent import NNDescent

    index = NNDescent(x, n_neighbors=k, metric="euclidean", random_state=seed, n_jobs=1, low_memory=True)
    idx, dist = index.neighbor_graph
    return idx.astype(np.int64), dist.astype(np.float32)


def _exact(x: np.ndarray, k: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    return exact_neighbours(x, x, k, np.arange(x.shape[0]), chunk)


def exact_neighbours(pool: np.ndarray, query: np.ndarray, k: int, query_index: np.ndarray | None = None,
                     chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest ``pool`` rows of each ``query`` row (Euclidean), in chunks of queries.

    float64 while ``Q * N`` is at most 2e7 (the digits demo); above, float32 on data centred on
    the pool's mean (a near-tie may then swap order: fine for metrics, 2x faster).

    Args:
        pool: float ``[N, D]``; query: float ``[Q, D]``; 1 <= k <= N.
        query_index: int ``[Q]``, each query's own row in ``pool``: it comes first in its list
            (distance 0), as :func:`knn_graph` puts each row first. None: queries are outside.

    Returns:
        ``(indices int64 [Q, k], distances float32 [Q, k])``, ascending distance.
    """
    import torch

    n, q = pool.shape[0], query.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k: expected 1 <= k <= {n} (pool rows), found {k}")
    wide = q * n <= 2e7
    dt = torch.float64 if wide else torch.float32
    centre = np.zeros(pool.shape[1]) if wide else pool.mean(0, dtype=np.float64).astype(np.float32)
    pt = torch.as_tensor(np.asarray(pool, centre.dtype) - centre, dtype=dt)
    sq = (pt * pt).sum(1)
    chunk = max(1, min(chunk, 2**23 // max(n, 1)))  # a distance block of at most 8 M entries (32 MB in float32)
    idx_out, dist_out = [], []
    for s in range(0, q, chunk):
        qt = torch.as_tensor(np.asarray(query[s : s + chunk], centre.dtype) - centre, dtype=dt)
        d2 = torch.addmm((qt * qt).sum(1)[:, None] + sq[None, :], qt, pt.T, alpha=-2.0).clamp_min_(0.0)
        if query_index is not None:
            d2[torch.arange(qt.shape[0]), torch.as_tensor(np.asarray(query_index[s : s + chunk], np.int64))] = -1.0
        dist, idx = torch.topk(d2, k, dim=1, largest=False)
        idx_out.append(idx)
        dist_out.append(dist.clamp_min(0.0).sqrt())
    if not idx_out:
        return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
    return torch.cat(idx_out).numpy().astype(np.int64), torch.cat(dist_out).numpy().astype(np.float32)


def neighbour_overlap(a: np.ndarray, b: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Per row, the share of ``a``'s neighbours that are also ``b``'s (vectorised, in row chunks).

    Args:
        a, b: int ``[N, k]`` neighbour lists of the same N points (no repeats within a row).

    Returns:
        float32 ``[N]`` in [0, 1].
    """
    n, k = a.shape
    out = np.empty(n, np.float32)
    for s in range(0, n, chunk):
        aa, bb = a[s : s + chunk], b[s : s + chunk]
        out[s : s + chunk] = (aa[:, :, None] == bb[:, None, :]).any(2).sum(1) / k
    return out


def nearest(pool: np.ndarray, query: np.ndarray, k: int, seed: int = 0, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest ``pool`` rows of each ``query`` row (Euclidean): exact in chunks when
    the pool is below :data:`EXACT_LIMIT`, through a pynndescent index above.

    Args:
        pool: float32 ``[N, D]``; query: float32 ``[Q, D]``; 1 <= k <= N.

    Returns:
        ``(indices int64 [Q, k], distances float32 [Q, k])``, ascending distance.
    """
    n = pool.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k: expected 1 <= k <= {n} (pool rows), found {k}")
    if n >= EXACT_LIMIT:
        from pynndescent import NNDescent

        index = NNDescent(pool, n_neighbors=min(max(k, 15), n), metric="euclidean", random_state=seed, n_jobs=1, low_memory=True)
        idx, dist = index.query(query, k=k)
        return idx.astype(np.int64), dist.astype(np.float32)
    import torch

    p = torch.tensor(np.asarray(pool, np.float32), dtype=torch.float64)
    idx_out, dist_out = [], []
    for s in range(0, query.shape[0], chunk):
        q = torch.tensor(np.asarray(query[s : s + chunk], np.float32), dtype=torch.float64)
        d, i = torch.topk(torch.cdist(q, p), k, dim=1, largest=False)
        idx_out.append(i)
        dist_out.append(d)
    if not idx_out:
        return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
    return torch.cat(idx_out).numpy().astype(np.int64), torch.cat(dist_out).numpy().astype(np.float32)


def place_by_neighbours(pool_x: np.ndarray, pool_xy: np.ndarray, query_x: np.ndarray, k: int = 15, seed: int = 0) -> np.ndarray:
    """Out-of-sample positions: each query row goes to the inverse-distance weighted mean of the
    2-D positions of its ``k`` nearest pool rows in representation space (how methods without a
    transform place samples they were not fitted on, e.g. test samples).

    Args:
        pool_x: float32 ``[N, D]`` fitted representations; pool_xy: float32 ``[N, 2]`` their positions;
        query_x: float32 ``[Q, D]``.

    Returns:
        float32 ``[Q, 2]``.
    """
    if query_x.shape[0] == 0:
        return np.zeros((0, 2), np.float32)
    idx, dist = nearest(pool_x, query_x, min(k, pool_x.shape[0]), seed)
    w = 1.0 / (dist.astype(np.float64) + 1e-6)
    w /= w.sum(1, keepdims=True)
    return (w[:, :, None] * pool_xy[idx].astype(np.float64)).sum(1).astype(np.float32)
