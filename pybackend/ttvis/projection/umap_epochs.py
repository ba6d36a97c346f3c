"""UMAP baseline: umap-learn (McInnes et al. 2018) fit per epoch, each epoch initialised from
the previous epoch's layout so consecutive frames line up.

Fitted on the run's ``fit_on`` samples; the others (test samples by default) are placed by
umap-learn's ``transform``. No inverse map: no territories, no PPR.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from typing import ClassVar, Iterator

import numpy as np
from pydantic import Field

from ttvis.projection.base import EpochResult, EpochSource, OnStage, Resume, VisMethod, check_cancel
from ttvis.projection.schema import UmapFitParams


class UMAPParams(UmapFitParams):
    """umap-learn's parameters that shape the picture (its defaults)."""

    init_previous: bool = Field(True, description="initialise each epoch from the previous epoch's layout (false: spectral every epoch)")



def umap_estimator(p: UmapFitParams, seed: int, **kw) -> "object":
    """A umap-learn ``UMAP`` with ``p``'s shared fields and a fixed seed (deterministic, single-threaded)."""
    import umap

    return umap.UMAP(n_neighbors=p.n_neighbors, min_dist=p.min_dist, spread=p.spread, n_epochs=p.n_epochs,
                     random_state=seed, n_jobs=1, **kw)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence umap-learn's notes (e.g. "n_jobs overridden by random_state") inside a fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


class UMAP(VisMethod):
    """Per-epoch umap-learn, frames aligned by initialisation (see the module docstring)."""

    name: ClassVar[str] = "UMAP"
    summary: ClassVar[str] = "umap-learn per epoch, each epoch initialised from the previous layout (baseline, no inverse map)"
    paper: ClassVar[str] = "McInnes, Healy & Melville, UMAP, arXiv:1802.03426 (2018)"
    has_inverse: ClassVar[bool] = False
    Params = UMAPParams
    config_keys: ClassVar[dict[str, str]] = {"N_NEIGHBORS": "n_neighbors"}
    params: UMAPParams

    def fit(self, source: EpochSource, epochs: list[int], *, resume: Resume | None = None,
            cancel: threading.Event | None = None, on_stage: OnStage | None = None) -> Iterator[EpochResult]:
        """Fit umap-learn on each epoch in turn; see :meth:`VisMethod.fit`."""
        stage = on_stage or (lambda e, s: None)
        fit = source.fit_index
        rest = np.setdiff1d(np.arange(source.n_samples), fit)
        prev = None if resume is None else np.asarray(resume.positions)[fit].astype(np.float32)
        for e in [e for e in epochs if resume is None or e > resume.epoch]:
            check_cancel(cancel)
            x = source.representation(e)
            stage(e, "umap-learn fit")
            init = prev if (prev is not None and self.params.init_previous) else "spectral"
            with quiet():
                est = umap_estimator(self.params, self.seed, init=init)
                xy_fit = est.fit_transform(np.ascontiguousarray(x[fit], np.float32)).astype(np.float32)
                positions = np.zeros((source.n_samples, 2), np.float32)
                positions[fit] = xy_fit
                if rest.size:
                    stage(e, "placing the other samples (umap-learn transform)")
                    positions[rest] = est.transform(np.ascontiguousarray(x[rest], np.float32)).astype(np.float32)
            prev = xy_fit
            yield EpochResult.make(e, positions, dim=source.dim, stats={"init": "previous" if isinstance(init, np.ndarray) else "spectral"})
