"""DynaVis's own temporal measures, as its evaluation scripts define them (code-philia/DynaVis at
db9e04b: ``scripts/eval_motion.py`` ``per_sample_motion_consistency`` and
``scripts/eval_neighbor_change.py`` ``neighbor_change_preservation_over_time_fast``, driven by
``evaluation.py`` with its defaults: ``k = 15``, Euclidean in both spaces, consecutive epoch pairs,
``eps = 1e-9``). They compare the RAW representations ``X_hd`` (float ``[T, N, D]``) with the
positions ``Y_ld`` (``[T, N, 2]``) of the same samples. Arrays in, numbers out; vectorised over
samples, in chunks of at most :data:`ttvis.metrics.temporal.CHUNK_BYTES`.

- ``dynavis_motion_spearman`` (``distance_spearman``, its mean over samples): per sample, the
  Spearman correlation between its ``T - 1`` step lengths ``||y(t+1) - y(t)||`` in 2-D and
  ``||x(t+1) - x(t)||`` in representation space; 0 for a sample whose step lengths are constant
  on either side (``np.allclose`` to the first, the script's ``_safe_corr``); no sample with
  fewer than 3 epochs (NaN).
- ``dynavis_direction`` (``cosine_direction_agreement``, mean over samples): per sample and step,
  the cosine between the step and the sample's total displacement ``x(T-1) - x(0)`` (0 when
  either norm is below 1e-12), in each space; the share of steps whose cosines agree in sign
  (``> 0`` on both sides or on neither).
- ``dynavis_neighbor_change`` (``sign_agreement_mean``, its mean over the consecutive epoch pairs):
  per pair ``(a, b)`` and sample ``i``, the union of its 15 nearest neighbours in representation
  space at ``a`` and at ``b`` (scikit-learn, self dropped as the script drops the first answer);
  the changes ``d_b(i, j) - d_a(i, j)`` of its distances to them in both spaces, signed with a
  dead zone of ``eps``; the share of neighbours, among those whose change is non-zero on either
  side, whose signs agree (0 when none); averaged over samples, then over the pairs. The
  neighbours are sought among the samples scored (``eval.json`` records how many).
"""

from __future__ import annotations

import numpy as np

#: DynaVis's evaluation defaults (evaluation.py: --k 15, --chg_eps 1e-9)
K = 15
EPS = 1e-9
#: DynaVis's guards (eval_motion.py ``_safe_cos``)
COS_EPS = 1e-12


def motion_rows(x: np.ndarray, y: np.ndarray, spearman_rows) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, DynaVis's ``distance_spearman`` and ``cosine_direction_agreement``.

    Args:
        x: float64 ``[S, T, D]`` raw representations of ``S`` samples over ``T >= 3`` epochs;
            y: float64 ``[S, T, 2]`` their positions.
        spearman_rows: Spearman rho of paired rows (``[S, M], [S, M] -> [S]``, NaN for a constant
            row), :func:`ttvis.metrics.temporal._spearman_rows`.

    Returns:
        ``(spearman [S], direction [S])`` float64, as ``per_sample_motion_consistency`` gives them.
    """
    fs, ps = x[:, 1:] - x[:, :-1], y[:, 1:] - y[:, :-1]  # [S, T-1, *]: the steps
    fd, pd = np.linalg.norm(fs, axis=2), np.linalg.norm(ps, axis=2)
    constant = np.isclose(pd, pd[:, :1]).all(1) | np.isclose(fd, fd[:, :1]).all(1)  # np.allclose(v, v[0])
    rho = spearman_rows(pd, fd)
    rho = np.where(constant | ~np.isfinite(rho), 0.0, rho)

    def cosines(steps: np.ndarray, lengths: np.ndarray, total: np.ndarray) -> np.ndarray:
        n2 = np.linalg.norm(total, axis=1)  # [S]
        dots = np.einsum("std,sd->st", steps, total)
        bad = (lengths < COS_EPS) | (n2 < COS_EPS)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(bad, 0.0, dots / np.where(bad, 1.0, lengths * n2[:, None]))

    fc = cosines(fs, fd, x[:, -1] - x[:, 0])
    pc = cosines(ps, pd, y[:, -1] - y[:, 0])
    return rho, ((pc > 0) == (fc > 0)).mean(1)


def _knn(x: np.ndarray, k: int) -> np.ndarray:
    """int64 ``[N, k]``: scikit-learn's ``k + 1`` nearest (Euclidean) rows of each row, the first
    dropped (itself, barring duplicates), as ``eval_neighbor_change._knn_indices_fast``."""
    from sklearn.neighbors import NearestNeighbors

    return NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)[:, 1:]


def _sign(v: np.ndarray, eps: float) -> np.ndarray:
    """``{-1, 0, +1}`` with a dead zone of ``eps`` around 0 (``_sign_with_eps``)."""
    return (v > eps).astype(np.int8) - (v < -eps).astype(np.int8)


def _pair(xa: np.ndarray, xb: np.ndarray, ya: np.ndarray, yb: np.ndarray, ka: np.ndarray, kb: np.ndarray,
          eps: float, chunk_bytes: int) -> float:
    """One epoch pair's mean sign agreement over the samples (see the module docstring)."""
    n, k = ka.shape
    nb = np.concatenate([ka, kb], 1)  # [N, 2k]; a neighbour at both epochs counts once (np.unique)
    keep = np.concatenate([np.ones_like(ka, bool), ~(kb[:, :, None] == ka[:, None, :]).any(2)], 1)
    step = max(1, chunk_bytes // (8 * 2 * k * (2 * xa.shape[1] + 8)))
    agree = np.empty(n)
    for s0 in range(0, n, step):
        s = slice(s0, min(n, s0 + step))
        j = nb[s]

        def change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            da = np.linalg.norm(a[j] - a[s][:, None], axis=2)
            db = np.linalg.norm(b[j] - b[s][:, None], axis=2)
            return db - da

        sh, sl = _sign(change(xa, xb), eps), _sign(change(ya, yb), eps)
        mask = ((sh != 0) | (sl != 0)) & keep[s]
        m = mask.sum(1)
        agree[s] = np.where(m > 0, ((sh == sl) & mask).sum(1) / np.maximum(m, 1), 0.0)
    return float(agree.mean())


def neighbor_change(high: list[np.ndarray], low: list[np.ndarray], k: int = K, eps: float = EPS,
                    chunk_bytes: int = 128 * 2**20) -> float:
    """DynaVis's ``dynavis_neighbor_change`` (``sign_agreement_mean`` over consecutive pairs).

    Args:
        high: per epoch, the RAW representations float ``[N, D]`` (T epochs); low: per epoch,
            the positions float ``[N, 2]`` (same samples, same order).
        k: neighbours per sample (DynaVis's default 15); eps: the sign's dead zone.
        chunk_bytes: memory for one chunk's gathered neighbours.

    Returns:
        The mean over the ``T - 1`` pairs of the mean over samples; NaN with fewer than 2 epochs
        or ``k + 1`` samples or fewer.
    """
    t = len(high)
    n = high[0].shape[0] if t else 0
    if t < 2 or n <= k:
        return float("nan")
    xs = [np.asarray(h, np.float64) for h in high[:1]]
    knn = [_knn(xs[0], k)]
    scores = []
    for b in range(1, t):
        xs.append(np.asarray(high[b], np.float64))
        knn.append(_knn(xs[1], k))
        scores.append(_pair(xs[0], xs[1], np.asarray(low[b - 1], np.float64), np.asarray(low[b], np.float64),
                            knn[0], knn[1], eps, chunk_bytes))
        xs.pop(0)
        knn.pop(0)
    return float(np.mean(scores))
