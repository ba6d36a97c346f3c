"""k-center greedy sample selection (Gonzalez 1985; as TimeVis uses it to keep a few
representative samples per epoch): repeatedly take the sample farthest from those taken."""

from __future__ import annotations

import numpy as np


def k_center_greedy(x: np.ndarray, m: int, seed: int = 0, dims: int = 32, start: np.ndarray | None = None) -> np.ndarray:
    """Pick ``m`` rows of ``x`` that cover it: each pick is the row farthest from the rows
    picked so far (the first is random, or ``start``). Distances are taken in the top ``dims``
    principal components when ``x`` is wider (a cheap, close stand-in for the full space).

    Args:
        x: float32 ``[N, D]``; m: how many to pick (clipped to N); seed: the first pick.
        start: int rows picked before the greedy steps (kept first; at most ``m`` of them).

    Returns:
        int64 ``[m]`` row indices, in pick order.
    """
    import torch

    n = x.shape[0]
    m = int(min(max(m, 1), n))
    if m == n:
        return np.arange(n, dtype=np.int64)
    z = torch.tensor(np.asarray(x, np.float32), dtype=torch.float64)
    z = z - z.mean(0)
    if z.shape[1] > dims:  # the top principal directions, from the covariance (deterministic, D x D)
        _, vecs = torch.linalg.eigh(z.T @ z)
        z = z @ vecs[:, -dims:]
    picked = np.empty(m, np.int64)
    first = np.unique(np.asarray(start, np.int64))[:m] if start is not None and len(start) else \
        np.array([np.random.default_rng(seed).integers(n)], np.int64)
    picked[: len(first)] = first
    dist = torch.full((n,), float("inf"))
    for s in range(0, len(first), 1024):
        dist = torch.minimum(dist, torch.cdist(z, z[torch.as_tensor(first[s : s + 1024])]).min(1).values ** 2)
    # in place into buffers allocated once: the same arithmetic (identical picks), without an
    # [N, dims] allocation per pick (40,000 rows: 1.5x faster)
    diff, new = torch.empty_like(z), torch.empty_like(dist)
    for k in range(len(first), m):
        nxt = int(torch.argmax(dist))
        picked[k] = nxt
        torch.sub(z, z[nxt], out=diff)
        torch.sum(diff.square_(), 1, out=new)
        torch.minimum(dist, new, out=dist)
    return picked
