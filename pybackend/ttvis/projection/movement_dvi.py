"""MovementDVI: DVI's per-epoch parametric UMAP with a movement-fidelity temporal loss.

Where it comes from: the per-epoch encoder/decoder, complex, boundary samples and UMAP +
reconstruction losses are DVI's (Yang et al., "DeepVisualInsight", AAAI 2022; ttvis's
:mod:`ttvis.projection.dvi`, which it subclasses). What it changes is the temporal term. DVI
anchors each dot to its previous position (or the encoder's weights to the previous epoch's),
which moves dots that did not move and holds back dots that did. Here each sample's 2-D step
from its previous epoch's (fixed) position is pulled towards a target length that grows with
its representation's step (:class:`~ttvis.projection.losses.MovementTerm`)::

    target_i(t) = L * log1p(||x_i(t) - x_i(t-1)|| / m) / log 2

with ``x`` the RAW representations (not the per-epoch normalised ones the spatial part sees),
``m`` the median raw step of the first step and ``L = move_scale * `` the first epoch's 2-D rms
spread. ``L`` and ``m`` are fixed once for the whole run, so the targets are one monotone
function of the raw steps: the measure it aims at, Vernier et al.'s ``stab_spearman``
(EuroVis 2020), pools every (sample, step) movement and compares ranks. The log keeps a run
whose feature scale grows during training (the digits demo: x100) from flinging dots off the
picture; a step of ``m`` becomes ``L``.

The idea is ttvis's (issue #22, "a method that holds both axes"), measured on Vernier et al.'s
cifar10cnn benchmark and the digits demo run (``benchmarks/method_search.md``).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Iterator, Mapping

import numpy as np
import torch
from pydantic import Field

from ttvis.projection.base import EpochResult, EpochSource, OnStage, Resume
from ttvis.projection.dvi import DVI, DVIParams
from ttvis.projection.losses import LossTerm, MovementTerm, OriginDistanceTerm, ReconstructionTerm, UmapTerm, umap_ab
from ttvis.projection.networks import VisModel


class MovementDVIParams(DVIParams):
    """Hyper-parameters of MovementDVI: DVI's, plus the movement-fidelity term's."""

    lambda_move: float = Field(1.0, ge=0.0, le=1e4, description="weight of the movement-fidelity loss (a dot's step "
                               "follows its representation's raw step)")
    move_scale: float = Field(0.1, gt=0.0, le=10.0, description="2-D step of a median first-step move, as a share of "
                              "the first epoch's 2-D rms spread")
    lambda_origin: float = Field(0.0, ge=0.0, le=1e4, description="weight of the origin-distance loss (a dot's distance "
                                 "from its first-epoch position follows its representation's raw distance from then)")
    origin_scale: float = Field(0.1, gt=0.0, le=10.0, description="2-D distance from the first-epoch position of a raw "
                                "distance equal to the median first step, as a share of the first epoch's 2-D rms spread")


def _rms_spread(a: np.ndarray) -> float:
    """Root mean squared distance of the rows of float ``[M, d]`` from their mean."""
    a = np.asarray(a, np.float64)
    return float(np.sqrt(((a - a.mean(0)) ** 2).sum(1).mean()))


class MovementDVI(DVI):
    """MovementDVI (see the module docstring)."""

    name: ClassVar[str] = "MovementDVI"
    summary: ClassVar[str] = "DVI's per-epoch encoder/decoder with a movement-fidelity temporal loss: each dot steps as far as its raw representation did (one scale for the run)"
    paper: ClassVar[str] = "ttvis (issue #22), on DVI (Yang et al., AAAI 2022); measured with Vernier et al., EuroVis 2020"
    Params = MovementDVIParams
    params: MovementDVIParams

    def terms(self, epoch_index: int, model: VisModel, nodes: torch.Tensor, prev: dict[str, Any] | None,
              source: EpochSource, epoch: int, norm: tuple[np.ndarray, float]) -> list[LossTerm]:
        """UMAP, reconstruction and, after the first epoch, the movement term against the
        previous epoch's positions (``prev["xy"]``) and raw representations."""
        p = self.params
        a, b = umap_ab(p.spread, p.min_dist)
        terms: list[LossTerm] = [UmapTerm(a, b), ReconstructionTerm(p.lambda1)]
        if prev is not None and p.lambda_move > 0 and self._last is not None and self._ref is not None:
            fit = source.fit_index
            step = np.linalg.norm(np.asarray(source.representation(epoch)[fit], np.float64)
                                  - np.asarray(source.representation(self._last)[fit], np.float64), axis=1)
            length, m = self._ref
            target = length * np.log1p(step / m) / np.log(2.0)
            terms.append(MovementTerm(p.lambda_move, prev["xy"], torch.as_tensor(target, dtype=torch.float32, device=self.device)))
        if prev is not None and p.lambda_origin > 0 and self._origin is not None and self._ref is not None:
            fit = source.fit_index
            dist = np.linalg.norm(np.asarray(source.representation(epoch)[fit], np.float64)
                                  - np.asarray(source.representation(self._origin[0])[fit], np.float64), axis=1)
            length = p.origin_scale * self._ref[0] / p.move_scale
            target = length * np.log1p(dist / self._ref[1]) / np.log(2.0)
            terms.append(OriginDistanceTerm(p.lambda_origin, self._origin[1],
                                            torch.as_tensor(target, dtype=torch.float32, device=self.device)))
        return terms

    def fit(self, source: EpochSource, epochs: list[int], *, resume: Resume | None = None,
            cancel: threading.Event | None = None, on_stage: OnStage | None = None) -> Iterator[EpochResult]:
        """DVI's epoch-by-epoch training (see :meth:`DVI.fit`); the run's movement scale is fixed
        after the first epoch (and read back from the saved state on ``resume``)."""
        self._last = resume.epoch if resume is not None else None
        self._ref: tuple[float, float] | None = None
        if resume is not None and resume.state.get("move_ref"):
            self._ref = tuple(float(v) for v in resume.state["move_ref"])
        self._origin: tuple[int, torch.Tensor] | None = None
        if resume is not None and resume.state.get("move_origin"):
            o = resume.state["move_origin"]
            self._origin = (int(o["epoch"]), torch.as_tensor(o["xy"], dtype=torch.float32, device=self.device))
        for r in super().fit(source, epochs, resume=resume, cancel=cancel, on_stage=on_stage):
            if self._ref is None:
                self._ref = self._reference(source, epochs, r)
            if self._origin is None:
                self._origin = (r.epoch, torch.as_tensor(np.asarray(r.positions)[source.fit_index], dtype=torch.float32,
                                                         device=self.device))
            self._last = r.epoch
            yield r

    def _reference(self, source: EpochSource, epochs: list[int], first: EpochResult) -> tuple[float, float]:
        """``(L, m)``: the 2-D length of a median first-step move and that raw move (see the
        module docstring); ``m`` falls back to the raw rms spread / 10 for a single epoch or no move."""
        fit = source.fit_index
        x0 = np.asarray(source.representation(first.epoch)[fit], np.float64)
        later = [e for e in epochs if e > first.epoch]
        m = 0.0
        if later:
            m = float(np.median(np.linalg.norm(np.asarray(source.representation(later[0])[fit], np.float64) - x0, axis=1)))
        if not m > 0:
            m = _rms_spread(x0) / 10 or 1.0
        return self.params.move_scale * _rms_spread(first.positions[fit]), m

    def epoch_state(self, result: EpochResult) -> dict[str, Any]:
        """DVI's state plus the run's movement scale ``move_ref`` = ``[L, m]`` and, with the
        origin term on, ``move_origin`` = ``{"epoch", "xy"}`` (the first epoch's fitted positions)."""
        state = {**super().epoch_state(result), "move_ref": list(self._ref) if self._ref else None}
        if self.params.lambda_origin > 0 and self._origin is not None:
            state["move_origin"] = {"epoch": self._origin[0], "xy": self._origin[1].detach().cpu()}
        return state

    def restore(self, state: Mapping[str, Any], source: EpochSource, epoch: int, positions: np.ndarray) -> EpochResult:
        """Rebuild a saved epoch (as DVI)."""
        return super().restore(state, source, epoch, positions)
