"""Temporal faithfulness: does a dot move when, and as much as, its sample's representation moves?

Three published definitions, each over per-epoch RAW representations ``high[t]`` (float32
``[N, D]``, as recorded) and positions ``low[t]`` (float32 ``[N, 2]``) of the same samples at
epochs ``t = 0..T-1``, as the papers compare them. Arrays in, numbers out; vectorised over
samples (no Python loop over N).

- **Temporal ranking** (Yang et al., TimeVis, IJCAI 2022): per sample, the Spearman
  correlation between its high-D and its 2-D distances from a reference epoch to every
  other epoch; averaged over samples. Low: a dot's far and near epochs are not its
  representation's (it wanders when it should rest, or rests when it should move). Samples
  whose distances are constant (no ranking) are skipped. (TimeVis's evaluator code,
  ``eval_temporal_global_corr_train``, also keeps the reference epoch's own zero distance in
  both rankings; the paper's text and this code compare "every other epoch".)
- **Stability** ``stab_spearman`` (Vernier et al., "Quantitative evaluation of time-dependent
  multidimensional projection techniques", EuroVis 2020): the Spearman correlation between
  every sample's movement from one epoch to the next in representation space and in 2-D,
  over all (sample, step) pairs. Low: how far a dot moves says little about how far its
  sample moved. The movements are exact differences in float64, the same numbers as
  :func:`ttvis.metrics.published.stab_spearman`.
- **Interslice kNN preservation** (Gigante et al., M-PHATE, NeurIPS 2019): per sample, its
  ``k`` nearest epochs among its own positions over time, in representation space versus
  in 2-D, overlap / k, averaged. Low: the dot's trajectory does not keep which epochs of the
  sample resemble each other.

With ``standardise`` (per epoch the training samples' mean and root mean variance), the same
three are also computed on each epoch's representations standardised, the space the methods
project, in the same pass, under ``<name>_standardised``. They differ from the published
numbers: raw, the growth of the feature scale during training (per-dimension std 0.016 at
epoch 1 of the digits run, 0.70 at epoch 20) dominates every movement, so they are never
shown under the papers' names. DynaVis's own measures (:mod:`ttvis.metrics.dynavis`) come
from the same pass (step lengths, directions) and one loop over the epoch pairs (neighbour
changes).
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


#: bytes one chunk of samples may use (their [S, T, D] float64 representations, steps and
#: standardised copy, and [S, T, T] distance and rank arrays): the measures run in chunks of
#: samples, so their memory does not grow with the number of samples scored
CHUNK_BYTES = 128 * 2**20

#: the published measures' keys (TimeVis, Vernier et al., M-PHATE; raw representations)
PUBLISHED = ["ranking_first", "ranking_mean", "stability", "interslice_knn"]
#: DynaVis's measures (:mod:`ttvis.metrics.dynavis`; raw representations)
DYNAVIS = ["dynavis_motion_spearman", "dynavis_direction", "dynavis_neighbor_change"]
#: the suffix of the variants on per-epoch standardised representations
STANDARDISED = "_standardised"

Standardise = tuple[np.ndarray, np.ndarray]  # (means float [T, D], scales float [T])


def _chunk(t: int, d: int, views: int = 1) -> int:
    """Samples per chunk for ``t`` epochs of ``d`` dims, measured in ``views`` spaces (raw, and
    standardised in place): at most ~4 float64 ``[S, T, D]`` arrays at once (the chunk, its
    centred copy or its steps) and per view ~16 ``[S, T, T]`` (distances; rankdata's copies)."""
    return max(1, CHUNK_BYTES // (8 * (4 * t * d + 16 * views * t * t)))


def _distances(x: np.ndarray) -> np.ndarray:
    """Every sample's Euclidean distances between its own epochs: float64 ``[S, T, T]`` from
    float64 ``[S, T, D]``. From the Gram matrix (BLAS) of each sample's positions centred on its
    own mean over the epochs (so where the layout sits does not cost precision), with squared
    distances below 1e-14 of the squared norms (rounding in the Gram product) taken as 0: a
    sample that did not move has distance exactly 0 between those epochs."""
    import torch

    x = torch.as_tensor(x, dtype=torch.float64)
    x = x - x.mean(1, keepdim=True)
    g = torch.bmm(x, x.transpose(1, 2))
    n = torch.diagonal(g, dim1=1, dim2=2)
    d2 = n[:, :, None] + n[:, None, :] - 2 * g
    d2[d2 <= 1e-14 * (n[:, :, None] + n[:, None, :])] = 0.0
    return torch.sqrt(d2).numpy()


def _moves(x: np.ndarray) -> np.ndarray:
    """float64 ``[S * (T-1)]``: each (sample, step)'s movement ``||x(t+1) - x(t)||``, exact differences."""
    return np.linalg.norm(x[:, 1:] - x[:, :-1], axis=2).ravel()


def _off_diagonal(a: np.ndarray) -> np.ndarray:
    """``[S, T, T] -> [S, T, T-1]``: row ``r`` without its own epoch ``r``."""
    s, t, _ = a.shape
    return a[:, ~np.eye(t, dtype=bool)].reshape(s, t, t - 1)


class _Tally:
    """One space's running sums over the chunks: per reference epoch the sum and count of
    finite rankings, every (sample, step)'s movement, and the interslice hits."""

    def __init__(self, t: int):
        self.rank_sum, self.rank_count = np.zeros(t), np.zeros(t)
        self.moves: list[np.ndarray] = []
        self.hits, self.slots = 0.0, 0

    def add(self, dh: np.ndarray, dl: np.ndarray, mh: np.ndarray | None, k: int) -> None:
        """A chunk: its distances ``dh``/``dl`` ``[S, T, T]`` (not modified) and movements ``mh``."""
        s, t, _ = dh.shape
        if t >= 3:
            rho = _spearman_rows(_off_diagonal(dh), _off_diagonal(dl))  # [S, T]: each epoch as reference
            ok = np.isfinite(rho)
            self.rank_sum += np.where(ok, rho, 0).sum(0)
            self.rank_count += ok.sum(0)
        if mh is not None:
            self.moves.append(mh)
        if t > k + 1:
            eye = np.eye(t, dtype=bool)
            nh = np.argpartition(np.where(eye, np.inf, dh), k, axis=2)[..., :k]  # [S, T, k]: the k nearest other epochs
            nl = np.argpartition(np.where(eye, np.inf, dl), k, axis=2)[..., :k]
            self.hits += float((nh[..., :, None] == nl[..., None, :]).any(-1).sum()) / k
            self.slots += s * t

    def result(self, t: int, moves_low: np.ndarray | None) -> dict[str, Any]:
        with np.errstate(invalid="ignore"):
            per = np.where(self.rank_count > 0, self.rank_sum / np.maximum(self.rank_count, 1), np.nan) if t >= 3 else np.full(t, np.nan)
        moves = (np.concatenate(self.moves), moves_low) if self.moves and moves_low is not None else None
        return {"ranking_per_epoch": [float(v) for v in per], "stability": _stability(moves),
                "interslice_knn": self.hits / self.slots if self.slots else float("nan")}


def _pass(high: list[np.ndarray], low: list[np.ndarray], k: int, standardise: Standardise | None = None,
          dynavis: bool = True) -> dict[str, Any]:
    """One pass over the samples in chunks, sharing each chunk's arrays between the measures:
    ``{"raw": {...}, "standardised": {...} (with ``standardise``, else None), "dynavis": {motion,
    direction} (NaN without ``dynavis``)}``."""
    t = len(high)
    n = high[0].shape[0] if t else 0
    raw, std = _Tally(t), _Tally(t) if standardise is not None else None
    moves_low: list[np.ndarray] = []
    motion, direction = [], []
    step = _chunk(t, high[0].shape[1] if t else 1, 2 if standardise is not None else 1)
    for s0 in range(0, n, step):
        s = slice(s0, min(n, s0 + step))
        x = np.stack([np.asarray(r[s], np.float64) for r in high], 1)  # [S, T, D]
        y = np.stack([np.asarray(r[s], np.float64) for r in low], 1)  # [S, T, 2]
        dl = _distances(y)
        if t >= 2:
            moves_low.append(_moves(y))
        raw.add(_distances(x), dl, _moves(x) if t >= 2 else None, k)
        if t >= 3 and dynavis:
            from ttvis.metrics.dynavis import motion_rows

            m, d = motion_rows(x, y, _spearman_rows)
            motion.append(m)
            direction.append(d)
        if std is not None:
            means, scales = standardise
            x -= np.asarray(means, np.float64)[None]
            x /= np.asarray(scales, np.float64)[None, :, None]
            std.add(_distances(x), dl, _moves(x) if t >= 2 else None, k)
        del x
    ml = np.concatenate(moves_low) if moves_low else None
    nan = float("nan")
    return {"raw": raw.result(t, ml), "standardised": std.result(t, ml) if std is not None else None,
            "dynavis": {"dynavis_motion_spearman": float(np.mean(np.concatenate(motion))) if motion else nan,
                        "dynavis_direction": float(np.mean(np.concatenate(direction))) if direction else nan}}


def temporal_ranking(high: list[np.ndarray], low: list[np.ndarray], ref: int) -> float:
    """TimeVis's temporal ranking with epoch ``ref`` (index 0..T-1) as the reference.

    Args:
        high: per epoch, RAW representations float32 ``[N, D]`` (T epochs); low: per epoch,
            float32 ``[N, 2]``.
        ref: index of the reference epoch.

    Returns:
        Mean Spearman rho in [-1, 1]; NaN with fewer than 3 epochs. Samples whose
        distances are constant (no ranking) are skipped.
    """
    return _pass(high, low, len(high), dynavis=False)["raw"]["ranking_per_epoch"][ref] if len(high) >= 3 else float("nan")


def _stability(moves: tuple[np.ndarray, np.ndarray] | None) -> float:
    """Spearman rho of the paired movements (NaN without any, or when either side never moves)."""
    if moves is None or np.ptp(moves[0]) == 0 or np.ptp(moves[1]) == 0:
        return float("nan")
    return float(spearmanr(*moves).statistic)


def stability(high: list[np.ndarray], low: list[np.ndarray]) -> float:
    """Vernier et al.'s ``stab_spearman`` (:func:`ttvis.metrics.published.stab_spearman`, the one
    definition): Spearman between every (sample, step)'s movement in representation space (RAW)
    and in 2-D. NaN with fewer than 2 epochs."""
    from ttvis.metrics.published import stab_spearman

    return stab_spearman(high, low)


def interslice_knn(high: list[np.ndarray], low: list[np.ndarray], k: int = 5) -> float:
    """M-PHATE's interslice kNN preservation: per sample and epoch, the overlap of its ``k``
    nearest other epochs (its own positions) in representation space (RAW) and in 2-D, / k,
    averaged. NaN with ``k + 1`` epochs or fewer."""
    return _pass(high, low, k, dynavis=False)["raw"]["interslice_knn"]


def _named(r: dict[str, Any], suffix: str = "") -> dict[str, Any]:
    """One space's results under the measures' names (plus ``suffix``)."""
    per = r["ranking_per_epoch"]
    finite = [v for v in per if np.isfinite(v)]
    return {"ranking_first" + suffix: per[0] if per else float("nan"),
            "ranking_mean" + suffix: float(np.mean(finite)) if finite else float("nan"),
            "ranking_per_epoch" + suffix: per,
            "stability" + suffix: r["stability"],
            "interslice_knn" + suffix: r["interslice_knn"]}


def temporal_measures(high: list[np.ndarray], low: list[np.ndarray], k_slices: int = 5,
                      standardise: Standardise | None = None) -> dict[str, float | list[float]]:
    """All temporal measures of one run (the samples given are the ones scored), in one pass
    over the samples in chunks of at most :data:`CHUNK_BYTES` (and DynaVis's neighbour changes
    in one loop over the epoch pairs).

    Args:
        high: per epoch, the RAW representations float32 ``[N, D]``; low: per epoch, float32
            ``[N, 2]`` (T epochs, same N).
        k_slices: the interslice kNN's ``k``.
        standardise: ``(means [T, D], scales [T])``: also compute the published three on each
            epoch's representations minus ``means[t]``, divided by ``scales[t]`` (no copy of
            ``high`` is made: each chunk is standardised in place).

    Returns:
        The published measures on the raw representations: ``ranking_first`` (the first epoch
        as reference, as in the TimeVis paper's evaluation), ``ranking_mean`` (averaged over
        every epoch as reference), ``ranking_per_epoch`` (each epoch as reference, in order),
        ``stability`` (= ``stab_spearman``) and ``interslice_knn`` (with ``k_slices``); DynaVis's
        ``dynavis_motion_spearman``, ``dynavis_direction``, ``dynavis_neighbor_change``; with
        ``standardise``, the same five published keys ending in ``_standardised``.

    Raises:
        ValueError: ``standardise`` does not have one mean row and one scale per epoch.
    """
    nan = float("nan")
    if not high:
        out = {**_named({"ranking_per_epoch": [], "stability": nan, "interslice_knn": nan}), **{k: nan for k in DYNAVIS}}
        return {**out, **(_named({"ranking_per_epoch": [], "stability": nan, "interslice_knn": nan}, STANDARDISED) if standardise else {})}
    if standardise is not None and (len(standardise[0]) != len(high) or len(standardise[1]) != len(high)):
        raise ValueError(f"standardise: expected {len(high)} means and scales (one per epoch), "
                         f"found {len(standardise[0])} and {len(standardise[1])}")
    from ttvis.metrics.dynavis import neighbor_change

    r = _pass(high, low, k_slices, standardise)
    out = {**_named(r["raw"]), **r["dynavis"], "dynavis_neighbor_change": neighbor_change(high, low, chunk_bytes=CHUNK_BYTES)}
    if r["standardised"] is not None:
        out.update(_named(r["standardised"], STANDARDISED))
    return out
