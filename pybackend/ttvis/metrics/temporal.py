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

import numpy as np
from scipy.stats import rankdata, spearmanr


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman rho of each row pair of float ``[S, M]`` arrays (NaN for a constant row)."""
    ra, rb = rankdata(a, axis=1), rankdata(b, axis=1)
    ra -= ra.mean(1, keepdims=True)
    rb -= rb.mean(1, keepdims=True)
    den = np.sqrt((ra**2).sum(1) * (rb**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (ra * rb).sum(1) / np.where(den > 0, den, 1), np.nan)


def temporal_ranking(high: list[np.ndarray], low: list[np.ndarray], ref: int, samples: np.ndarray | None = None) -> float:
    """Temporal ranking with epoch ``ref`` (index 0..T-1) as the reference.

    Args:
        high: per epoch, float32 ``[N, D]`` (T epochs); low: per epoch, float32 ``[N, 2]``.
        ref: index of the reference epoch.
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
    rho = _spearman_rows(dh, dl)
    return float(np.nanmean(rho)) if np.isfinite(rho).any() else float("nan")


def stability(high: list[np.ndarray], low: list[np.ndarray]) -> float:
    """Vernier et al.'s ``stab_spearman``: Spearman between every (sample, step)'s movement in
    representation space and in 2-D. NaN with fewer than 2 epochs."""
    if len(high) < 2:
        return float("nan")
    mh = np.concatenate([np.linalg.norm(high[t + 1] - high[t], axis=1) for t in range(len(high) - 1)])
    ml = np.concatenate([np.linalg.norm(low[t + 1] - low[t], axis=1) for t in range(len(low) - 1)])
    if np.ptp(mh) == 0 or np.ptp(ml) == 0:
        return float("nan")
    return float(spearmanr(mh, ml).statistic)


def interslice_knn(high: list[np.ndarray], low: list[np.ndarray], k: int = 5, chunk: int = 512) -> float:
    """M-PHATE's interslice kNN preservation: per sample and epoch, the overlap of its ``k``
    nearest other epochs (its own positions) in representation space and in 2-D, / k,
    averaged. NaN with ``k + 1`` epochs or fewer."""
    t = len(high)
    if t <= k + 1:
        return float("nan")
    import torch

    n = high[0].shape[0]
    total, count = 0.0, 0
    eye = torch.eye(t, dtype=torch.bool)
    for s in range(0, n, chunk):
        xh = torch.as_tensor(np.stack([h[s : s + chunk] for h in high], 1), dtype=torch.float64)  # [S, T, D]
        xl = torch.as_tensor(np.stack([l[s : s + chunk] for l in low], 1), dtype=torch.float64)
        dh, dl = torch.cdist(xh, xh), torch.cdist(xl, xl)
        dh[:, eye], dl[:, eye] = float("inf"), float("inf")
        nh = torch.topk(dh, k, dim=2, largest=False).indices  # [S, T, k]
        nl = torch.topk(dl, k, dim=2, largest=False).indices
        hits = (nh[..., :, None] == nl[..., None, :]).any(-1).sum(-1)  # [S, T]
        total += float(hits.sum()) / k
        count += hits.numel()
    return total / count if count else float("nan")


def temporal_measures(high: list[np.ndarray], low: list[np.ndarray], k_slices: int = 5) -> dict[str, float | list[float]]:
    """All temporal measures of one run (the samples given are the ones scored).

    Returns:
        ``ranking_first`` (the first epoch as reference, as in the TimeVis paper's evaluation),
        ``ranking_mean`` (averaged over every epoch as reference), ``ranking_per_epoch`` (each
        epoch as reference, in order), ``stability`` and ``interslice_knn`` (with ``k_slices``).
    """
    per = [temporal_ranking(high, low, i) for i in range(len(high))]
    finite = [v for v in per if np.isfinite(v)]
    return {"ranking_first": per[0] if per else float("nan"),
            "ranking_mean": float(np.mean(finite)) if finite else float("nan"),
            "ranking_per_epoch": per,
            "stability": stability(high, low),
            "interslice_knn": interslice_knn(high, low, k_slices)}
