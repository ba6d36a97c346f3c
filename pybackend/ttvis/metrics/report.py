"""The numbers ``eval.json`` holds: one epoch's faithfulness metrics, and the run's temporal
measures, from arrays (DESIGN.md "Faithfulness metrics"). No file I/O."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ttvis.metrics import faithfulness as fm
from ttvis.metrics.temporal import DYNAVIS, STANDARDISED, Standardise, temporal_measures
from ttvis.metrics.temporal import PUBLISHED as PUBLISHED_TEMPORAL
from ttvis.projection.base import EpochResult

K = 15
TEMPORAL_MAX = 3000  # samples scored by the temporal measures (a fixed random subset above this)
TEMPORAL_BYTES = 256 * 2**20  # at most this much of the scored samples' float32 representations over all epochs...
TEMPORAL_MIN = 500  # ...unless that leaves fewer samples than this

#: per-epoch keys summarised as "final" and "mean" (in this order in tables); ``temporal_ranking``
#: is TimeVis's (raw representations), ``temporal_ranking_standardised`` its variant
EPOCH_KEYS = ["npr_train", "npr_test", "npr_boundary", "ppr_train", "ppr_test", "temporal_ranking",
              "trustworthiness", "continuity", "territory_agreement", "temporal_ranking_standardised"]
#: run-level temporal keys under the papers' names, on the RAW representations as published:
#: TimeVis (IJCAI 2022) ranking, Vernier et al. (EuroVis 2020) stability, M-PHATE (NeurIPS 2019)
TEMPORAL_KEYS = list(PUBLISHED_TEMPORAL)
#: DynaVis's own measures (code-philia/DynaVis scripts/eval_motion.py, eval_neighbor_change.py)
DYNAVIS_KEYS = list(DYNAVIS)
#: the same four on per-epoch standardised representations (never under the papers' names)
STANDARDISED_KEYS = [k + STANDARDISED for k in TEMPORAL_KEYS]
#: every run-level key of ``eval.json["temporal"]`` and ``summary.temporal``, in table order
RUN_KEYS = TEMPORAL_KEYS + DYNAVIS_KEYS + STANDARDISED_KEYS
#: Vernier et al.'s (EuroVis 2020) measures, published names, on raw representations
PUBLISHED_KEYS = ["stab_spearman", "spat_np", "trust"]
#: ``eval.json["temporal"]["definition"]`` since the published names mean the published measures;
#: an ``eval.json`` without it holds standardised numbers under those names (see :func:`temporal_of`)
DEFINITION = ("raw representations as recorded, as published: TimeVis (IJCAI 2022) temporal ranking, Vernier et al. "
              "(EuroVis 2020) stab_spearman, M-PHATE (NeurIPS 2019) interslice kNN; DynaVis scripts/eval_motion.py, "
              "eval_neighbor_change.py; *_standardised: each epoch minus its training samples' mean, / their root mean variance")


def epoch_metrics(x: np.ndarray, result: EpochResult, train: np.ndarray, test: np.ndarray, *,
                  probabilities: Callable[[np.ndarray], np.ndarray] | None = None, predicted: np.ndarray | None = None,
                  labels: np.ndarray | None = None, territory: np.ndarray | None = None, scale: np.ndarray | None = None,
                  k: int = K) -> dict[str, Any]:
    """Faithfulness metrics of one epoch, a JSON-ready dict.

    Args:
        x: float32 ``[N, D]`` representations; result: the method's epoch (positions, boundary
            samples, inverse map); train, test: int64 sample indices.
        probabilities: the prediction head ``[M, D] -> [M, C]`` (None: no PPR).
        predicted: int64 ``[N]`` recorded predicted classes; labels: int64 ``[N]`` (-1 = none).
        territory: int ``[R, R]`` territory class grid over ``scale`` ``[x0, y0, x1, y1]``.

    Returns:
        ``npr_train`` (neighbours among training samples), ``npr_test`` (test samples'
        neighbours among all samples), ``npr_boundary`` (boundary samples' neighbours among
        training samples), ``ppr_train``/``ppr_test`` (None without an inverse map),
        ``trustworthiness``/``continuity``, ``territory_agreement``, ``accuracy_train/test``,
        and ``scored``: how many samples NPR (at most ``NPR_MAX``, a fixed random subset) and
        trustworthiness/continuity (at most 3,000) scored.
    """
    from ttvis.render.territory import position_to_pixel

    xy = result.positions
    x_train = np.asarray(x[train], np.float32)
    m: dict[str, Any] = {
        "npr_train": fm.neighbour_preserving_rate(x_train, xy[train], k),
        "npr_test": fm.neighbour_preserving_rate(x, xy, k, query=test) if test.size else None,
        "npr_boundary": fm.neighbour_preserving_rate_cross(result.boundary, x_train, result.boundary_positions, xy[train], k)
        if len(result.boundary) else None,
        "trustworthiness": fm.trustworthiness(x, xy, k),
        "continuity": fm.continuity(x, xy, k),
        "ppr_train": None, "ppr_test": None,
        # how many samples each sampled metric scored (all of them up to fm.NPR_MAX / 3,000)
        "scored": {"npr_train": int(len(fm.npr_queries(len(train)))), "npr_test": int(len(fm.npr_queries(len(x), test))),
                   "npr_boundary": int(len(fm.npr_queries(len(result.boundary)))),
                   "trustworthiness": int(min(len(x), fm.TRUST_MAX))},
    }
    inv = result.inverse
    if probabilities is not None and inv is not None:
        m["ppr_train"] = fm.prediction_preserving_rate(x_train, inv.encode, inv.decode, probabilities)
        m["ppr_test"] = fm.prediction_preserving_rate(x[test], inv.encode, inv.decode, probabilities) if test.size else None
    if predicted is None and probabilities is not None:
        predicted = probabilities(x).argmax(1)
    if predicted is not None and labels is not None and (labels >= 0).any():
        m["accuracy_train"] = float((predicted[train] == labels[train]).mean())
        m["accuracy_test"] = float((predicted[test] == labels[test]).mean()) if test.size else None
    if territory is not None and scale is not None and predicted is not None:
        r, c = position_to_pixel(xy, scale, territory.shape[0])
        m["territory_agreement"] = float((territory[r, c] == predicted).mean())
    return m


def temporal_sample(n: int, seed: int = 0, limit: int = TEMPORAL_MAX, epochs: int = 1, dims: int = 1) -> np.ndarray:
    """The samples the temporal measures score: all up to ``limit``, else a fixed random subset
    (int64 indices, sorted). The measures hold the scored samples' representations of every epoch
    at once, so with ``epochs`` x ``dims`` large the limit drops to keep them within
    :data:`TEMPORAL_BYTES` of float32 (never below :data:`TEMPORAL_MIN` samples); ``eval.json``
    records the count scored."""
    limit = min(limit, max(TEMPORAL_MIN, TEMPORAL_BYTES // (4 * max(1, epochs) * max(1, dims))))
    return np.arange(n) if n <= limit else np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def run_temporal(high: list[np.ndarray], low: list[np.ndarray], epochs: list[int], n_samples: int,
                 standardise: Standardise | None = None) -> dict[str, Any]:
    """The run's temporal measures (:func:`~ttvis.metrics.temporal.temporal_measures`) on the
    scored samples' rows (``high``/``low`` already restricted to them), as recorded in
    ``eval.json["temporal"]``.

    Args:
        high: per epoch, the scored samples' RAW representations float32 ``[S, D]``; low: their
            positions ``[S, 2]``; epochs: the epoch numbers; n_samples: the run's sample count.
        standardise: ``(means [T, D], scales [T])`` per epoch (the training samples'), for the
            ``*_standardised`` variants.

    Returns:
        :data:`RUN_KEYS` (the standardised ones only with ``standardise``), ``samples`` scored
        of ``of``, the interslice ``k``, ``epochs``, ``definition``, and each epoch's ranking
        with itself as reference (``ranking_per_epoch``, ``ranking_per_epoch_standardised``).
    """
    k = 5 if len(epochs) > 6 else max(1, len(epochs) - 2)
    t = temporal_measures(high, low, k_slices=k, standardise=standardise)
    out = {**{key: t[key] for key in RUN_KEYS if key in t}, "samples": int(high[0].shape[0]) if high else 0,
           "of": int(n_samples), "interslice_k": k, "epochs": list(epochs), "definition": DEFINITION,
           "ranking_per_epoch": dict(zip(map(str, epochs), t["ranking_per_epoch"]))}
    if "ranking_per_epoch" + STANDARDISED in t:
        out["ranking_per_epoch" + STANDARDISED] = dict(zip(map(str, epochs), t["ranking_per_epoch" + STANDARDISED]))
    return out


def run_published(high: list[np.ndarray], low: list[np.ndarray], n_samples: int, stab_spearman: float | None = None) -> dict[str, Any]:
    """Vernier et al.'s (EuroVis 2020) measures under their published names
    (:func:`~ttvis.metrics.published.published_measures`: ``stab_spearman``, ``spat_np``, ``trust``
    at ``k`` = 1 % of the samples scored), as recorded in ``eval.json["published"]``.

    Args:
        high: per epoch, the scored samples' RAW representations float32 ``[S, D]`` (as recorded,
            not standardised: the paper's definition); low: their positions ``[S, 2]``.
        n_samples: the run's sample count (``of``).
        stab_spearman: the value already computed on the same samples
            (``eval.json["temporal"]["stability"]``), reused rather than computed twice.
    """
    from ttvis.metrics.published import published_measures

    p = published_measures(high, low, stab=stab_spearman) if high else {k: float("nan") for k in PUBLISHED_KEYS}
    return {**p, "samples": int(high[0].shape[0]) if high else 0, "of": int(n_samples),
            "definition": "Vernier et al., EuroVis 2020 (dynamic-projections Metrics/template.ipynb), on raw representations; "
                          "stab_spearman is temporal.stability"}


def temporal_of(evals: dict[str, Any]) -> dict[str, Any]:
    """The run-level temporal numbers of an ``eval.json`` (its ``temporal`` block) by
    :data:`RUN_KEYS`, each number under its true name. An ``eval.json`` written before the
    published definitions (no ``definition``) held standardised numbers under the published
    names: they come back as ``*_standardised``, the published ones as None (``ttvis evaluate``
    recomputes them)."""
    tm = evals.get("temporal") or {}
    if tm and "definition" not in tm:
        return {**{k: None for k in RUN_KEYS}, **{k + STANDARDISED: tm.get(k) for k in TEMPORAL_KEYS}}
    return {k: tm.get(k) for k in RUN_KEYS}


def summary(evals: dict[str, Any]) -> dict[str, Any]:
    """``{"last_epoch", "final": {key: value at the last epoch}, "mean": {key: mean over epochs},
    "temporal": {the run's temporal measures, :func:`temporal_of`}, "published": {Vernier et al.'s
    three}}`` of an ``eval.json`` (``published`` only when ``eval.json`` has them)."""
    ep = evals.get("epochs", {})
    if not ep:
        return {}
    last = max(ep, key=int)

    def mean(key: str) -> float | None:
        vals = [v[key] for v in ep.values() if isinstance(v.get(key), (int, float)) and np.isfinite(v[key])]
        return float(np.mean(vals)) if vals else None

    out = {"last_epoch": int(last), "final": {k: ep[last].get(k) for k in EPOCH_KEYS},
           "mean": {k: mean(k) for k in EPOCH_KEYS}, "temporal": temporal_of(evals)}
    if evals.get("published"):
        out["published"] = {k: evals["published"].get(k) for k in PUBLISHED_KEYS}
    return out
