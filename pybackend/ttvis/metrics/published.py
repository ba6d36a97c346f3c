"""Vernier et al.'s measures of a dynamic projection, under their published names and exactly as
published (Vernier, Garcia, da Silva, Comba, Telea, "Quantitative Evaluation of Time-Dependent
Multidimensional Projection Techniques", EuroVis 2020, CGF 39(3); metric code: the notebook
``Metrics/template.ipynb`` of github.com/EduardoVernier/dynamic-projections at a355329).

Each takes the RAW per-step data ``high[t]`` (float ``[N, D]``) and positions ``low[t]`` (float
``[N, 2]``) of the same ``N`` samples at steps ``t = 0..T-1`` (a list of arrays, or one
``[T, N, D]`` array). Neighbourhoods have ``k = max(1, int(0.01 * N))`` members (1 % of ``N``),
the sample itself excluded. Arrays in, numbers out; no file I/O.

- ``stab_spearman``: Spearman correlation between every (sample, step) movement
  ``||x_i(t+1) - x_i(t)||`` in the data and the same movement in 2-D, all pairs pooled.
- ``spat_np`` (NP@1 %): per step, the mean share of each sample's ``k`` nearest neighbours in the
  data that are also among its ``k`` nearest in 2-D; averaged over the steps.
- ``trust`` (the paper's "trustworthiness", trust@1 %): the notebook's ``trustworthiness_metric``,
  averaged over the steps. It is not scikit-learn's trustworthiness: it sums, over each sample's
  ``k`` data neighbours that are missing from its ``k`` nearest in 2-D, their 2-D rank minus
  ``k + 1`` (ranks from 1, self excluded), and gives ``1 - 2 / (N k (2N - 3k - 1)) * sum``. In
  Venna & Kaski's terms that is continuity, less one per missing neighbour; it is what the paper's
  table reports (scikit-learn's trustworthiness gives e.g. 0.9835 for the VAE row published as 0.989,
  this gives 0.9894), so it is kept under the published name. ``ttvis``'s own
  ``trustworthiness``/``continuity`` keys remain Venna & Kaski's (scikit-learn).

``tests/python/test_vernier.py`` reproduces the paper's table (cifar10cnn, five methods) to 3
decimals with this code.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.stats import spearmanr

#: the share of N the paper's neighbourhoods hold (1 %)
K_SHARE = 0.01
#: the published names, in the paper's table order
NAMES = ["stab_spearman", "spat_np", "trust"]


def k_of(n: int, share: float = K_SHARE) -> int:
    """The neighbourhood size for ``n`` samples: ``max(1, int(share * n))`` (the notebook's rule)."""
    return max(1, int(share * n))


def _steps(a: Sequence[np.ndarray] | np.ndarray, name: str) -> list[np.ndarray]:
    """``a`` as a list of float ``[N, d]`` arrays (their own float dtype, no copy: each step goes to
    float64 where it is used, so the whole run is never held twice), checked to share N."""
    out = [np.asarray(x) if np.issubdtype(np.asarray(x).dtype, np.floating) else np.asarray(x, np.float64) for x in a]
    if not out:
        return out
    n = out[0].shape[0]
    for t, x in enumerate(out):
        if x.ndim != 2 or x.shape[0] != n:
            raise ValueError(f"{name}[{t}]: expected a [N={n}, d] array, found shape {list(x.shape)}")
    return out


def stab_spearman(high: Sequence[np.ndarray] | np.ndarray, low: Sequence[np.ndarray] | np.ndarray) -> float:
    """Vernier et al.'s ``stab_spearman``: Spearman rho between the data movements and the 2-D
    movements of every (sample, step) pair, pooled (raw values, no per-step normalisation).

    Args:
        high: T steps of float ``[N, D]``; low: T steps of float ``[N, 2]`` (same samples, same order).

    Returns:
        rho in [-1, 1]; NaN with fewer than 2 steps or when either side never moves.

    Raises:
        ValueError: the two sides disagree in steps or samples.
    """
    h, lo = _steps(high, "high"), _steps(low, "low")
    if len(h) != len(lo) or (h and h[0].shape[0] != lo[0].shape[0]):
        raise ValueError(f"high/low: expected the same steps and samples, found {len(h)} and {len(lo)} steps")
    if len(h) < 2:
        return float("nan")
    f = lambda v: np.asarray(v, np.float64)  # noqa: E731
    mh = np.concatenate([np.linalg.norm(f(b) - f(a), axis=1) for a, b in zip(h, h[1:])])
    ml = np.concatenate([np.linalg.norm(f(b) - f(a), axis=1) for a, b in zip(lo, lo[1:])])
    if np.ptp(mh) == 0 or np.ptp(ml) == 0:
        return float("nan")
    return float(spearmanr(mh, ml).statistic)


def _distances(pool, rows: slice, exact: bool):
    """torch ``[c, N]`` Euclidean distances from the ``rows`` of ``pool`` (a torch ``[N, d]``) to
    every row, each row's own entry +inf (self excluded): exact differences (``exact``), or the
    Gram product (BLAS) for many dims."""
    import torch

    mode = "donot_use_mm_for_euclid_dist" if exact else "use_mm_for_euclid_dist"
    d = torch.cdist(pool[rows], pool, compute_mode=mode)
    i = torch.arange(rows.start, rows.stop)
    d[i - rows.start, i] = float("inf")
    return d


def _knn(d, k: int):
    """torch int64 ``[c, k]``: each row's ``k`` smallest entries of ``d``, nearest first."""
    import torch

    return torch.topk(d, k, dim=1, largest=False, sorted=True).indices


def step_scores(high: np.ndarray, low: np.ndarray, k: int | None = None, chunk: int | None = None) -> tuple[float, float]:
    """One step's NP and ``trust`` (see the module docstring) at ``k`` (default 1 % of N).

    Distances in float64, exact (differences, not a Gram product) up to 32 dims, so the paper's
    numbers come out as its ball-tree search gives them; above 32 dims the data side uses the
    Gram product on centred float32 data (a near-tie may swap order: fine for a metric, faster).
    Computed in chunks of rows (torch), so memory stays O(chunk x N).

    Args:
        high: float ``[N, D]``; low: float ``[N, 2]`` (same rows), N >= 3.
        k: neighbours per sample, 1 <= k with 3k + 1 < 2N (default :func:`k_of`).
        chunk: rows per chunk (default: at most 2^22 / N, and 2^25 / (k N)).

    Returns:
        ``(np, trust)``.

    Raises:
        ValueError: shapes disagree or ``k`` is out of range.
    """
    import torch

    x, y = np.asarray(high), np.asarray(low)
    n = x.shape[0]
    if y.shape[0] != n or x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"high/low: expected [N, D] and [N, 2] of the same N, found {list(x.shape)} and {list(y.shape)}")
    k = k_of(n) if k is None else int(k)
    if not 1 <= k < n or 2 * n - 3 * k - 1 <= 0:
        raise ValueError(f"k: expected 1 <= k with 3k + 1 < 2N (N = {n}), found {k}")
    exact = x.shape[1] <= 32
    # one step's float64 copy (writable: the steps may be read-only memory maps of the run)
    xt = torch.from_numpy(np.array(x, np.float64)) if exact else torch.as_tensor(x - x.mean(0, dtype=np.float64), dtype=torch.float32)
    yt = torch.from_numpy(np.array(y, np.float64))
    chunk = chunk or max(1, min((1 << 22) // n, (1 << 25) // (k * n)))  # [c, k, N] comparisons of at most 32 MB
    kept, total = 0, 0
    for s in range(0, n, chunk):
        rows = slice(s, min(n, s + chunk))
        nh = _knn(_distances(xt, rows, exact), k)  # [c, k] data neighbours
        dl = _distances(yt, rows, True)  # [c, N] 2-D distances
        nl = _knn(dl, k)
        missing = ~(nh[:, :, None] == nl[:, None, :]).any(2)  # [c, k]: data neighbours not among the 2-D ones
        kept += int((~missing).sum())
        d2, ref = dl.numpy(), dl.gather(1, nh).numpy()  # ref [c, k]: the 2-D distance to each data neighbour
        rank = np.count_nonzero(d2[:, None, :] < ref[:, :, None], axis=2) + 1  # its 2-D rank, from 1, self excluded
        total += int(((rank - k - 1) * missing.numpy()).sum())
    return kept / (n * k), float(1.0 - 2.0 / (n * k * (2 * n - 3 * k - 1)) * total)


def spat_np(high: Sequence[np.ndarray] | np.ndarray, low: Sequence[np.ndarray] | np.ndarray, k: int | None = None) -> float:
    """Vernier et al.'s NP@1 % (``spat_np``): neighbourhood preservation per step, averaged over
    the steps (args as :func:`stab_spearman`; ``k`` default 1 % of N). NaN for no step."""
    scores = [step_scores(a, b, k)[0] for a, b in zip(_steps(high, "high"), _steps(low, "low"))]
    return float(np.mean(scores)) if scores else float("nan")


def trust(high: Sequence[np.ndarray] | np.ndarray, low: Sequence[np.ndarray] | np.ndarray, k: int | None = None) -> float:
    """Vernier et al.'s ``trust`` (their notebook's trustworthiness, see the module docstring) per
    step, averaged over the steps (args as :func:`stab_spearman`). NaN for no step."""
    scores = [step_scores(a, b, k)[1] for a, b in zip(_steps(high, "high"), _steps(low, "low"))]
    return float(np.mean(scores)) if scores else float("nan")


def published_measures(high: Sequence[np.ndarray] | np.ndarray, low: Sequence[np.ndarray] | np.ndarray,
                       stab: float | None = None) -> dict[str, float | int]:
    """All three in one pass over the steps: ``{"stab_spearman", "spat_np", "trust", "k"}``
    (``k`` = 1 % of the N samples given; NaNs for too few samples or steps).

    ``stab``: :func:`stab_spearman` of these same ``high``/``low`` when the caller has it already
    (``ttvis.metrics.temporal``'s single pass gives the same number as ``temporal.stability``),
    so it is not computed twice; None computes it here."""
    h, lo = _steps(high, "high"), _steps(low, "low")
    n = h[0].shape[0] if h else 0
    k = k_of(n)
    nan = float("nan")
    st = (stab_spearman(h, lo) if n else nan) if stab is None else float(stab)
    if n < 3 or 2 * n - 3 * k - 1 <= 0:
        return {"stab_spearman": st, "spat_np": nan, "trust": nan, "k": k}
    per = [step_scores(a, b, k) for a, b in zip(h, lo)]
    return {"stab_spearman": st, "spat_np": float(np.mean([p[0] for p in per])),
            "trust": float(np.mean([p[1] for p in per])), "k": k}
