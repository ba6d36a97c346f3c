"""Per-sample training dynamics: ``ttvis/samples`` (AUM, data-map statistics, forgetting) and
``ttvis/similar`` (nearest samples in representation space, from the run's vector index).
A mixin of :class:`~ttvis.server.api.TtvisApi`."""

from __future__ import annotations

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics
from ttvis.server.core import BAD_RUN, INVALID_PARAMS, ApiCore, ApiError, _ranges
from ttvis.server.encoding import encode_array


class SamplesMixin(ApiCore):
    """``ttvis/samples`` and ``ttvis/similar`` (see :class:`~ttvis.server.api.TtvisApi`)."""

    def _stats(self, run: TrainingDynamics) -> dict[str, np.ndarray]:
        from ttvis.dynamics.statistics import run_statistics

        files = tuple(f for e in run.epochs for f in run.prediction_files(e))
        try:
            return self._cached(("stats", run.path, files), lambda: run_statistics(run))
        except DynamicsError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None

    def samples(self, params: dict) -> dict:
        """``ttvis/samples {path, sort?="aum", split?="train", top?=100}`` -> ``{rows: [{index, split, label,
        aum, confidence, variability, correctness, forgetting_events, first_learned_epoch, flips}],
        stats: {each statistic: wire array [N]}, epochs}``: the rows most suspicious first, and every
        sample's statistics (for the data map)."""
        from ttvis.dynamics.statistics import sample_table
        from ttvis.metrics.sample_dynamics import KEYS

        run = self._run(params.get("path"))
        top = params.get("top", 100)
        if not isinstance(top, int) or isinstance(top, bool) or top < 0:
            raise ApiError(INVALID_PARAMS, "params.top: expected a whole number >= 0 (0: all)")
        stats = self._stats(run)
        try:
            rows = sample_table(run, str(params.get("sort", "aum")), str(params.get("split", "train")), top, stats)
        except ValueError as exc:
            raise ApiError(INVALID_PARAMS, f"params.{exc}") from None
        wire = {k: encode_array(stats[k], "int32" if stats[k].dtype.kind == "i" else "float32") for k in KEYS}
        return {"rows": rows, "stats": wire, "epochs": stats["epochs"].tolist()}

    def similar(self, params: dict) -> dict:
        """``ttvis/similar {path, epoch, index? | indices?, k?=10}`` -> ``{epoch, query: [indices], neighbours:
        [{index, distance}]}``: the samples nearest (Euclidean, representation space) to a sample or to a
        selection's mean at ``epoch``, nearest first, the query excluded; from the run's vector index
        (:mod:`ttvis.dynamics.vectors`; Milvus Lite, or ``vector_uri``)."""
        from ttvis.dynamics.vectors import VectorIndex

        run = self._run(params.get("path"), params.get("epoch"))
        e = params.get("epoch")
        if not isinstance(e, int) or isinstance(e, bool) or e not in run.epochs:
            raise ApiError(INVALID_PARAMS, f"params.epoch: expected a recorded epoch ({_ranges(run.epochs)})")
        q = params.get("indices", [params.get("index")] if "index" in params else None)
        if not isinstance(q, list) or not q or any(not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < run.n_samples for i in q):
            raise ApiError(INVALID_PARAMS, f"params.index / params.indices: expected sample indices in 0..{run.n_samples - 1}")
        k = params.get("k", 10)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= min(1000, run.n_samples - len(set(q))):
            raise ApiError(INVALID_PARAMS, f"params.k: expected 1..{min(1000, run.n_samples - len(set(q)))}")
        try:
            hits = VectorIndex(run, self.vector_uri).similar(e, q, k)
        except DynamicsError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None
        except RuntimeError as exc:
            raise ApiError(BAD_RUN, str(exc)) from None
        return {"epoch": e, "query": q, "neighbours": hits}
