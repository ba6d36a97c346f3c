"""StackedUMAP baseline (Vernier et al.'s "s4", EuroVis 2020): one umap-learn fit on all chosen
epochs' representations stacked (N x T points), split back per epoch.

Each epoch's representations are normalised first (mean and root mean variance of its fitted
samples), so early epochs, whose features are nearly identical, do not collapse into one
blob far from the rest. Above ``max_points`` stacked points, the fit uses an equal random
subsample of each epoch and umap-learn's ``transform`` places the rest; the samples that are
not fitted on (``fit_on``) are placed by ``transform`` too. No inverse map: no territories,
no PPR. A stopped run refits (deterministic with the seed) and writes the missing epochs.
"""

from __future__ import annotations

import threading
from typing import ClassVar, Iterator

import numpy as np
from pydantic import Field

from ttvis.projection.base import EpochResult, EpochSource, OnStage, Resume, VisMethod, check_cancel
from ttvis.projection.parametric import normaliser
from ttvis.projection.schema import UmapFitParams
from ttvis.projection.umap_epochs import quiet, umap_estimator


class StackedUMAPParams(UmapFitParams):
    """umap-learn's parameters, and the stacked fit's size cap."""

    max_points: int = Field(60000, ge=1000, le=10_000_000, description="most stacked points in the fit; above it, an equal random share of each epoch is fitted and the rest transformed")
    normalise: bool = Field(True, description="standardise each epoch's representations before stacking")



class StackedUMAP(VisMethod):
    """One UMAP over every epoch's samples stacked (see the module docstring)."""

    name: ClassVar[str] = "StackedUMAP"
    summary: ClassVar[str] = "one umap-learn fit on all epochs' representations stacked, split back per epoch (baseline, no inverse map)"
    paper: ClassVar[str] = "Vernier et al., Quantitative evaluation of time-dependent multidimensional projection techniques (s4), EuroVis 2020"
    has_inverse: ClassVar[bool] = False
    per_epoch: ClassVar[bool] = False
    Params = StackedUMAPParams
    params: StackedUMAPParams

    def fit(self, source: EpochSource, epochs: list[int], *, resume: Resume | None = None,
            cancel: threading.Event | None = None, on_stage: OnStage | None = None) -> Iterator[EpochResult]:
        """Fit once on the stacked epochs, then yield each epoch; see :meth:`VisMethod.fit`."""
        stage = on_stage or (lambda e, s: None)
        p = self.params
        fit = source.fit_index
        rng = np.random.default_rng(self.seed)
        per = min(len(fit), max(1, p.max_points // len(epochs)))
        chosen = [np.sort(rng.choice(fit, per, replace=False)) if per < len(fit) else fit for _ in epochs]
        norms, parts = [], []
        for t, e in enumerate(epochs):  # one epoch in memory at a time
            check_cancel(cancel)
            x = source.representation(e)
            mean, scale = normaliser(np.asarray(x[fit], np.float32)) if p.normalise else (np.zeros(x.shape[1], np.float32), 1.0)
            norms.append((mean, scale))
            parts.append(((x[chosen[t]] - mean) / scale).astype(np.float32))
        stacked = np.concatenate(parts)
        del parts
        stage(epochs[0], f"umap-learn fit on {len(stacked)} stacked points ({len(epochs)} epochs)")
        with quiet():
            est = umap_estimator(p, self.seed)
            emb = est.fit_transform(stacked).astype(np.float32)
        offsets = np.cumsum([0] + [len(c) for c in chosen])
        for t, e in enumerate(epochs):
            if resume is not None and e <= resume.epoch:
                continue
            check_cancel(cancel)
            positions = np.zeros((source.n_samples, 2), np.float32)
            positions[chosen[t]] = emb[offsets[t] : offsets[t + 1]]
            rest = np.setdiff1d(np.arange(source.n_samples), chosen[t])
            if rest.size:
                stage(e, f"placing {rest.size} samples (umap-learn transform)")
                x = source.representation(e)
                with quiet():
                    positions[rest] = est.transform(((x[rest] - norms[t][0]) / norms[t][1]).astype(np.float32))
            yield EpochResult.make(e, positions, dim=source.dim, stats={"stacked_points": int(len(stacked))})
