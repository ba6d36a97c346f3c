"""Temporal faithfulness: does a dot move when, and as much as, its sample's representation moves?

Three published definitions, each over per-epoch representations ``high[t]`` (float32
``[N, D]``) and positions ``low[t]`` (float32 ``[N, 2]``) of the same samples at epochs
``t = 0..T-1``. Arrays in, numbers out; vectorised over samples (no Python loop over N).

ttvis passes each epoch's representations standardised (minus its training samples' mean,
divided by their root mean variance), the space every method projects: raw, the growth
of the feature scale during training (per-dimension std 0.016 at epoch 1 of the digits
run, 0.70 at epoch 20) dominates every movement, and stability measured that way says
more about the scale than about the samples (DVI on the digits demo: -0.05 raw, 0.21
standardised).

- **Temporal ranking** (Yang et al., TimeVis, IJCAI 2022): per sample, the Spearman
  correlation between its high-D and its 2-D distances from a reference epoch to every
  other epoch; averaged over samples. Low: a dot's far and near epochs are not its
  representation's (it wanders when it should rest, or rests when it should move).
- **Stability** ``stab_spearman`` (Vernier et al., "Quantitative evaluation of time-dependent
  multidimensional projection techniques", EuroVis 2020): the Spearman correlation between
  every sample's movement from one epoch to the next in representation space and in 2-D,
  over all (sample, step) pairs. Low: how far a dot moves says little about how far its
  sample moved.
- **Interslice kNN preservation** (Gigante et al., M-PHATE, NeurIPS 2019): per sample, its
  ``k`` nearest epochs among its own positions over time, in representation space versus
  in 2-D, overlap / k, averaged. Low: the dot's trajectory does not keep which epochs of the
  sample resemble each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import rankdata, spearmanr


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rho of each pair of rows (the last axis) of float ``[..., M]`` arrays (NaN for a constant row)."""
    ra, rb = rankdata(a, axis=-1), rankdata(b, axis=-1)
    ra -= ra.mean(-1, keepdims=True)
    rb -= rb.mean(-1, keepdims=True)
    den = np.sqrt((ra**2).sum(-1) * (rb**2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(-1) / np.where(den > 0, den, 1), np.nan)


#: bytes one chunk of samples may use (their [S, T, D] float64 representations and [S, T, T]
#: distance and rank arrays): the measures run in chunks of samples, so their memory does
#: not grow with the number of samples scored
CHUNK_BYTES = 128 * 2**20


def _chunk(t: int, d: int) -> int:
    """Samples per chunk for ``t`` epochs of ``d`` dims (at least 1)."""
    return max(1, CHUNK_BYTES // (8 * (t * d + 16 * t * t)))  # rankdata makes ~12 [S, T, T] copies


def _distances(rows: list[np.ndarray], s: slice) -> np.ndarray:
    """Every sample's Euclidean distances between its own epochs: float64 ``[S, T, T]`` for the
    samples ``s`` of ``rows`` (T arrays ``[N, D]``). From the Gram matrix (BLAS) of each sample's
    positions centred on its own mean over the epochs (so where the layout sits does not cost
    precision), with squared distances below 1e-14 of the squared norms (rounding in the Gram
    product) taken as 0: a sample that did not move has distance exactly 0 between those epochs."""
    import torch

    x = torch.as_tensor(np.stack([r[s] for r in rows], 1), dtype=torch.float64)  # [S, T, D]
    x = x - x.mean(1, keepdim=True)
    g = torch.bmm(x, x.transpose(1, 2))
    n = torch.diagonal(g, dim1=1, dim2=2)
    d2 = n[:, :, None] + n[:, None, :] - 2 * g
    d2[d2 <= 1e-14 * (n[:, :, None] + n[:, None, :])] = 0.0
    return torch.sqrt(d2).numpy()


def _off_diagonal(a: np.ndarray) -> np.ndarray:
    """``[S, T, T] -> [S, T, T-1]``: row ``r`` without its own epoch ``r``."""
    s, t, _ = a.shape
    return a[:, ~np.eye(t, dtype=bool)].reshape(s, t, t - 1)


def _pass(high: list[np.ndarray], low: list[np.ndarray], k: int) -> dict[str, Any]:
    """One pass over the samples in chunks, sharing each chunk's distance matrices between the
    measures: per reference epoch the sum and count of finite rankings, every (sample, step)'s
    movement in both spaces, and the interslice hits."""
    t = len(high)
    n = high[0].shape[0] if t else 0
    rank_sum, rank_count = np.zeros(t), np.zeros(t)
    move_h, move_l = [], []
    hits, slots = 0.0, 0
    step = _chunk(t, high[0].shape[1] if t else 1)
    for s0 in range(0, n, step):
        s = slice(s0, min(n, s0 + step))
        dh, dl = _distances(high, s), _distances(low, s)
        if t >= 3:
            rho = _spearman_rows(_off_diagonal(dh), _off_diagonal(dl))  # [S, T]: each epoch as reference
            ok = np.isfinite(rho)
            rank_sum += np.where(ok, rho, 0).sum(0)
            rank_count += ok.sum(0)
        if t >= 2:
            move_h.append(np.diagonal(dh, 1, 1, 2).ravel())
            move_l.append(np.diagonal(dl, 1, 1, 2).ravel())
        if t > k + 1:
            eye = np.eye(t, dtype=bool)
            dh[:, eye] = dl[:, eye] = np.inf
            nh = np.argpartition(dh, k, axis=2)[..., :k]  # [S, T, k]: the k nearest other epochs
            nl = np.argpartition(dl, k, axis=2)[..., :k]
            hits += float((nh[..., :, None] == nl[..., None, :]).any(-1).sum()) / k
            slots += nh.shape[0] * t
    with np.errstate(invalid="ignore"):
        per = np.where(rank_count > 0, rank_sum / np.maximum(rank_count, 1), np.nan) if t >= 3 else np.full(t, np.nan)
    return {"ranking_per_epoch": [float(v) for v in per],
            "moves": (np.concatenate(move_h), np.concatenate(move_l)) if move_h else None,
            "interslice_knn": hits / slots if slots else float("nan")}


def temporal_ranking(high: list[np.ndarray], low: list[np.ndarray], ref: int) -> float:
    """Temporal ranking with epoch ``ref`` (index 0..T-1) as the reference.

    Args:
        high: per epoch, float32 ``[N, D]`` (T epochs); low: per epoch, float32 ``[N, 2]``.
        ref: index of the reference epoch.

    Returns:
        Mean Spearman rho in [-1, 1]; NaN with fewer than 3 epochs. Samples whose
        distances are constant (no ranking) are skipped.
    """
    return _pass(high, low, len(high))["ranking_per_epoch"][ref] if len(high) >= 3 else float("nan")


def _stability(moves: tuple[np.ndarray, np.ndarray] | None) -> float:
    if moves is None or np.ptp(moves[0]) == 0 or np.ptp(moves[1]) == 0:
        return float("nan")
    return float(spearmanr(*moves).statistic)


def stability(high: list[np.ndarray], low: list[np.ndarray]) -> float:
    """Vernier et al.'s ``stab_spearman``: Spearman between every (sample, step)'s movement in
    representation space and in 2-D. NaN with fewer than 2 epochs."""
    return _stability(_pass(high, low, len(high))["moves"])


def interslice_knn(high: list[np.ndarray], low: list[np.ndarray], k: int = 5) -> float:
    """M-PHATE's interslice kNN preservation: per sample and epoch, the overlap of its ``k``
    nearest other epochs (its own positions) in representation space and in 2-D, / k,
    averaged. NaN with ``k + 1`` epochs or fewer."""
    return _pass(high, low, k)["interslice_knn"]


def temporal_measures(high: list[np.ndarray], low: list[np.ndarray], k_slices: int = 5) -> dict[str, float | list[float]]:
    """All temporal measures of one run (the samples given are the ones scored), in one pass
    over the samples in chunks of at most :data:`CHUNK_BYTES`.

    Args:
        high: per epoch, float32 ``[N, D]``; low: per epoch, float32 ``[N, 2]`` (T epochs, same N).
        k_slices: the interslice kNN's ``k``.

    Returns:
        ``ranking_first`` (the first epoch as reference, as in the TimeVis paper's evaluation),
        ``ranking_mean`` (averaged over every epoch as reference), ``ranking_per_epoch`` (each
        epoch as reference, in order), ``stability`` and ``interslice_knn`` (with ``k_slices``).
    """
    if not high:
        nan = float("nan")
        return {"ranking_first": nan, "ranking_mean": nan, "ranking_per_epoch": [], "stability": nan, "interslice_knn": nan}
    r = _pass(high, low, k_slices)
    per = r["ranking_per_epoch"]
    finite = [v for v in per if np.isfinite(v)]
    return {"ranking_first": per[0],
            "ranking_mean": float(np.mean(finite)) if finite else float("nan"),
            "ranking_per_epoch": per,
            "stability": _stability(r["moves"]),
            "interslice_knn": r["interslice_knn"]}
