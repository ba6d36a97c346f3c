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
    import torch

    xt = torch.tensor(x, dtype=torch.float64)
    sq = (xt * xt).sum(1)
    idx_out, dist_out = [], []
    for s in range(0, x.shape[0], chunk):
        q = xt[s : s + chunk]
        d2 = (sq[s : s + chunk, None] + sq[None, :] - 2.0 * q @ xt.T).clamp_min_(0.0)
        d2[torch.arange(q.shape[0]), torch.arange(s, s + q.shape[0])] = -1.0  # self first
        dist, idx = torch.topk(d2, k, dim=1, largest=False)
        idx_out.append(idx)
        dist_out.append(dist.clamp_min(0.0).sqrt())
    return torch.cat(idx_out).numpy().astype(np.int64), torch.cat(dist_out).numpy().astype(np.float32)


def neighbour_overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per row, the share of ``a``'s neighbours that are also ``b``'s.

    Args:
        a, b: int ``[N, k]`` neighbour lists of the same N points (no repeats within a row).

    Returns:
        float32 ``[N]`` in [0, 1].
    """
    k = a.shape[1]
    return np.array([np.intersect1d(x, y, assume_unique=True).size / k for x, y in zip(a, b)], np.float32)
