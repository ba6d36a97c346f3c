"""DVI: DeepVisualInsight (Xianglin Yang et al., "DeepVisualInsight: Time-Travelling
Visualization for Spatio-Temporal Causality of Deep Classification Training", AAAI 2022).

One encoder/decoder per epoch, warm-started from the previous epoch's; each epoch's
complex joins the fitted samples' UMAP fuzzy simplicial complex with boundary samples;
loss = UMAP cross-entropy + lambda1 * reconstruction + lambda2 * temporal.

The temporal term: the paper anchors the encoder's weights to the previous epoch's
(:class:`~ttvis.projection.losses.WeightAnchorTerm`); ttvis anchors each sample's 2-D
position to its previous one, weighted by how much of its high-D neighbourhood survived
(:class:`~ttvis.projection.losses.PositionAnchorTerm`, ``temporal="position"``, the default):
a dot should stay put exactly when its neighbourhood does. Both are available; measured on
the digits demo run (``benchmarks/RESULTS.md``), the position anchor moves dots more in
step with their representations at the same NPR.

Departures from the original code, each fixing a measured failure (DESIGN.md):
representations are normalised per epoch; the repulsive loss never saturates; boundary
edges always reach the loss; every random choice is seeded.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Iterator, Literal, Mapping

import numpy as np
import torch
from pydantic import Field

from ttvis.projection.base import EpochResult, EpochSource, OnStage, Resume, VisMethod, check_cancel
from ttvis.projection.boundary import boundary_samples
from ttvis.projection.complex import Edges, dvi_complex
from ttvis.projection.knn import knn_graph, neighbour_overlap
from ttvis.projection.losses import LossTerm, PositionAnchorTerm, ReconstructionTerm, UmapTerm, WeightAnchorTerm, umap_ab
from ttvis.projection.networks import VisModel
from ttvis.projection.parametric import frozen_inverse, model_from_state, normaliser, restore_epoch
from ttvis.projection.schema import EncoderParams
from ttvis.projection.trainer import train_vis_model


class DVIParams(EncoderParams):
    """Hyper-parameters of DVI. Defaults: UMAP (McInnes et al. 2018) for the complex,
    DeepVisualInsight (AAAI 2022) for the losses and schedule."""

    lambda2: float = Field(0.1, ge=0.0, le=1e4, description="weight of the temporal loss (keep consecutive epochs' pictures alike)")
    temporal: Literal["position", "weights"] = Field(
        "position", description="what the temporal loss anchors to the previous epoch: each sample's 2-D position, weighted "
        "by how much of its neighbourhood survived (position), or the encoder's weights as in the DVI paper (weights)")
    first_epochs: int = Field(60, ge=1, le=10000, description="most optimisation epochs for the first training epoch (cold start)")


class DVI(VisMethod):
    """The DVI method (see the module docstring)."""

    name: ClassVar[str] = "DVI"
    summary: ClassVar[str] = "one encoder/decoder per epoch, warm-started; UMAP + reconstruction + temporal loss; boundary samples"
    paper: ClassVar[str] = "Yang et al., DeepVisualInsight, AAAI 2022"
    has_inverse: ClassVar[bool] = True
    Params = DVIParams
    config_keys: ClassVar[dict[str, str]] = {"N_NEIGHBORS": "n_neighbors", "LAMBDA1": "lambda1", "LAMBDA2": "lambda2",
                                             "MAX_EPOCH": "max_epochs", "PATIENT": "patience", "BATCH_SIZE": "batch_size"}
    config_ignored: ClassVar[dict[str, str]] = {
        "S_N_EPOCHS": "the original repeated each edge up to S_N_EPOCHS times per pass; ttvis visits every edge once a pass and weights its loss by its membership strength (max_epochs/first_epochs bound the passes)",
        "B_N_EPOCHS": "the original's edge filter with B_N_EPOCHS dropped every boundary edge; ttvis keeps them all",
        "L_BOUND": "ttvis bisects the whole mixup range; its tolerance is boundary_tolerance",
    }
    params: DVIParams

    def terms(self, epoch_index: int, model: VisModel, nodes: torch.Tensor, prev: dict[str, Any] | None,
              source: EpochSource, epoch: int, norm: tuple[np.ndarray, float]) -> list[LossTerm]:
        """This epoch's loss terms (Trustvis extends them): UMAP, reconstruction, temporal."""
        p = self.params
        a, b = umap_ab(p.spread, p.min_dist)
        terms: list[LossTerm] = [UmapTerm(a, b), ReconstructionTerm(p.lambda1)]
        if prev is not None and p.lambda2 > 0:
            if p.temporal == "position":
                terms.append(PositionAnchorTerm(p.lambda2, prev["xy"], prev["persistence"]))
            else:  # the weights as the previous epoch left them (taken once per epoch, before any training)
                if getattr(self, "_anchor_epoch", None) != epoch:
                    self._anchor = [t.detach().clone() for t in model.encoder.parameters()]
                    self._anchor_epoch = epoch
                terms.append(WeightAnchorTerm(p.lambda2, self._anchor))
        return terms

    def prepare(self, source: EpochSource, epoch: int, on_stage: OnStage | None = None) -> dict[str, Any]:
        """One epoch's independent work (it can run ahead, or on another machine): the
        normalisation, the boundary samples (drawn with the epoch's own seed), the kNN graph and
        the complex. Returns ``{"mean", "scale", "boundary" [B, D] raw, "knn" int64 [M, k],
        "head", "tail", "weight"}`` (the edges)."""
        p = self.params
        stage = on_stage or (lambda e, s: None)
        fit = source.fit_index
        k = min(p.n_neighbors, len(fit))
        xf = np.ascontiguousarray(source.representation(epoch)[fit], dtype=np.float32)
        mean, scale = normaliser(xf)
        head = source.head(epoch)
        bnd = np.zeros((0, source.dim), np.float32)
        if head is not None and p.boundary_ratio > 0:
            stage(epoch, "boundary samples")
            pred = head.probabilities(xf).argmax(1)
            bnd, _ = boundary_samples(xf, pred, head.fn, int(round(p.boundary_ratio * len(fit))),
                                      np.random.default_rng([self.seed, epoch]), p.boundary_tolerance, p.boundary_steps,
                                      head.device)
        stage(epoch, "kNN graph and fuzzy complex")
        xn = ((xf - mean) / scale).astype(np.float32)
        knn = knn_graph(xn, k, self.seed)
        edges = dvi_complex(xn, ((bnd - mean) / scale).astype(np.float32), k, self.seed, train_knn=knn)
        return {"mean": mean, "scale": scale, "boundary": bnd, "knn": knn[0], "head": edges.head, "tail": edges.tail,
                "weight": edges.weight}

    def fit(self, source: EpochSource, epochs: list[int], *, resume: Resume | None = None,
            cancel: threading.Event | None = None, on_stage: OnStage | None = None) -> Iterator[EpochResult]:
        """Train the vis model epoch by epoch (warm start) and yield each epoch's result.

        See :meth:`VisMethod.fit`. Each epoch's :meth:`prepare` comes through
        ``source.prepared`` when the source has it (which may run epochs ahead on a Ray
        cluster). ``on_stage`` hears "boundary samples", "kNN graph and fuzzy complex" and
        "training the vis model" for each epoch.
        """
        p, dev = self.params, self.device
        stage = on_stage or (lambda e, s: None)
        self._gen = torch.Generator(device=dev)
        self._gen.manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self._model = VisModel(source.dim, p.hidden).to(dev)
        fit = source.fit_index
        prev_xy = prev_knn = None
        todo = list(epochs)
        first = 0
        if resume is not None:
            self._model, _, _ = model_from_state(resume.state, dev)
            self._gen.set_state(resume.state["rng"]["torch"])
            prev_xy = torch.as_tensor(np.asarray(resume.positions)[fit], device=dev)
            prev_knn = self.prepare(source, resume.epoch)["knn"] if len(todo) > 1 else None
            first = len([e for e in todo if e <= resume.epoch])
            todo = [e for e in todo if e > resume.epoch]
        prepared = source.prepared(self, todo, stage) if hasattr(source, "prepared") else \
            ((e, self.prepare(source, e, stage)) for e in todo)
        for i, (e, prep) in enumerate(prepared, start=first):
            check_cancel(cancel)
            mean, scale, bnd = prep["mean"], prep["scale"], prep["boundary"]
            x = source.representation(e)
            xn = ((np.asarray(x[fit], np.float32) - mean) / scale).astype(np.float32)
            nodes = torch.as_tensor(np.concatenate([xn, ((bnd - mean) / scale).astype(np.float32)]), device=dev)
            del xn
            edges = Edges(prep["head"], prep["tail"], prep["weight"])
            prev = None
            if prev_knn is not None:
                prev = {"xy": prev_xy, "persistence": torch.as_tensor(neighbour_overlap(prep["knn"][:, 1:], prev_knn[:, 1:]), device=dev)}
            stage(e, "training the vis model")
            stats = self.train_epoch(i, e, nodes, edges, prev, source, (mean, scale), cancel, stage)
            self._model.eval()
            inv, self._state = frozen_inverse(self._model, mean, scale, dev)
            self._model.train()
            positions = inv.encode(x)
            bpos = inv.encode(bnd) if len(bnd) else np.zeros((0, 2), np.float32)
            prev_xy = torch.as_tensor(positions[fit], device=dev)
            prev_knn = prep["knn"]
            self._state["boundary"] = torch.tensor(np.asarray(bnd))  # a copy: a Ray worker's array is read-only
            n_edges = len(edges)
            del nodes, edges, prev, prep  # not held while the caller measures this epoch and the next is prepared
            yield EpochResult.make(e, positions, inv, bnd, bpos, dim=source.dim, stats={
                **stats, "boundary_samples": int(len(bnd)), "edges": n_edges})

    def train_epoch(self, i: int, epoch: int, nodes: torch.Tensor, edges: Any, prev: dict[str, Any] | None,
                    source: EpochSource, norm: tuple[np.ndarray, float], cancel: threading.Event | None,
                    stage: OnStage) -> dict[str, Any]:
        """Train the (warm-started) model on one epoch's complex; returns the training stats.
        Subclasses add rounds (Trustvis's active learning)."""
        p = self.params
        return train_vis_model(
            self._model, nodes, edges, self.terms(i, self._model, nodes, prev, source, epoch, norm),
            negative_sample_rate=p.negative_sample_rate, learning_rate=p.learning_rate, batch_size=p.batch_size,
            max_epochs=p.first_epochs if i == 0 else p.max_epochs, patience=p.patience, generator=self._gen,
            n_samples=len(source.fit_index), cancel=cancel, negatives="batch").as_dict()

    def epoch_state(self, result: EpochResult) -> dict[str, Any]:
        """The frozen encoder/decoder with its normalisation, the boundary samples, and the
        training's random stream (a resumed run continues exactly as an uninterrupted one;
        boundary samples draw from each epoch's own seed)."""
        return {**self._state, "rng": {"torch": self._gen.get_state()}}

    def restore(self, state: Mapping[str, Any], source: EpochSource, epoch: int, positions: np.ndarray) -> EpochResult:
        """Rebuild a saved epoch (its inverse map and boundary samples)."""
        return restore_epoch(state, source, epoch, positions, self.device)
