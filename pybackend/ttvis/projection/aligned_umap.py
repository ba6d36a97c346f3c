"""AlignedUMAP baseline: umap-learn's ``AlignedUMAP`` over all chosen epochs at once, each
sample related to itself in the next epoch (the alignment term keeps its positions close).

Fitted on the run's ``fit_on`` samples; the others are placed at the inverse-distance
weighted mean of their 15 nearest fitted samples' positions (representation space, same
epoch). No inverse map: no territories, no PPR. A stopped run refits (deterministic with
the seed) and writes only the epochs still missing.
"""

from __future__ import annotations

import threading
from typing import ClassVar, Iterator

import numpy as np
from pydantic import Field

from ttvis.projection.base import EpochResult, EpochSource, OnStage, Resume, VisMethod, check_cancel
from ttvis.projection.knn import place_by_neighbours
from ttvis.projection.schema import UmapFitParams
from ttvis.projection.umap_epochs import quiet


class AlignedUMAPParams(UmapFitParams):
    """umap-learn ``AlignedUMAP``'s parameters (its defaults)."""

    alignment_regularisation: float = Field(0.01, ge=0.0, le=100.0, description="weight of keeping a sample close to itself in neighbouring epochs")
    alignment_window_size: int = Field(3, ge=1, le=50, description="how many neighbouring epochs each epoch is aligned with")



class AlignedUMAP(VisMethod):
    """umap-learn's AlignedUMAP over the epochs (see the module docstring)."""

    name: ClassVar[str] = "AlignedUMAP"
    summary: ClassVar[str] = "umap-learn's AlignedUMAP over all epochs, each sample related to itself in the next epoch (baseline, no inverse map)"
    paper: ClassVar[str] = "McInnes, umap-learn AlignedUMAP (umap-learn.readthedocs.io, aligned_umap_basic_usage)"
    has_inverse: ClassVar[bool] = False
    per_epoch: ClassVar[bool] = False
    Params = AlignedUMAPParams
    params: AlignedUMAPParams

    def fit(self, source: EpochSource, epochs: list[int], *, resume: Resume | None = None,
            cancel: threading.Event | None = None, on_stage: OnStage | None = None) -> Iterator[EpochResult]:
        """Fit all ``epochs`` in one AlignedUMAP, then yield them; see :meth:`VisMethod.fit`."""
        import umap

        stage = on_stage or (lambda e, s: None)
        check_cancel(cancel)
        p = self.params
        fit = source.fit_index
        rest = np.setdiff1d(np.arange(source.n_samples), fit)
        stage(epochs[0], f"umap-learn AlignedUMAP over {len(epochs)} epochs")
        xs = [np.ascontiguousarray(source.representation(e)[fit], np.float32) for e in epochs]
        identity = {i: i for i in range(len(fit))}
        with quiet():
            if len(xs) == 1:  # AlignedUMAP needs two slices: one epoch is a plain UMAP
                embs = [umap.UMAP(n_neighbors=p.n_neighbors, min_dist=p.min_dist, spread=p.spread, n_epochs=p.n_epochs,
                                  random_state=self.seed).fit_transform(xs[0])]
            else:
                est = umap.AlignedUMAP(n_neighbors=p.n_neighbors, min_dist=p.min_dist, spread=p.spread, n_epochs=p.n_epochs,
                                       alignment_regularisation=p.alignment_regularisation,
                                       alignment_window_size=p.alignment_window_size, random_state=self.seed)
                est.fit(xs, relations=[identity] * (len(xs) - 1))
                embs = est.embeddings_
        for e, emb, x_fit in zip(epochs, embs, xs):
            if resume is not None and e <= resume.epoch:
                continue
            check_cancel(cancel)
            positions = np.zeros((source.n_samples, 2), np.float32)
            positions[fit] = np.asarray(emb, np.float32)
            if rest.size:
                positions[rest] = place_by_neighbours(x_fit, positions[fit], source.representation(e)[rest], 15, self.seed)
            yield EpochResult.make(e, positions, dim=source.dim)
