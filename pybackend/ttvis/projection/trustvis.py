"""Trustvis: the original time-travelling-visualizer's newest method (``trustvis_tempo``), on DVI.

DVI's per-epoch encoder/decoder, warm-started, with its UMAP, reconstruction and temporal
terms, plus:

(a) **attention-weighted reconstruction**: each representation dimension's squared error is
    weighted by ``(1 + a)^beta``, where ``a`` is the sample's attention, the gradient of the
    predicted class's score with respect to the representation, in absolute value and
    divided by its largest entry (so in [0, 1]), as in DVI's paper (Sec. 4.3): the dimensions
    the prediction depends on are reconstructed most faithfully.
(b) **boundary-distance consistency**: the subject model's top-1 minus top-2 probability
    margin of ``x`` and of ``decode(encode(x))`` should agree
    (:class:`~ttvis.projection.losses.MarginTerm`), written differentiably (the original used
    a non-differentiable rank correlation).
(c) optional **active-learning rounds** (the original's "trustvis with AL"): after an
    epoch's training, the fitted samples whose reconstruction changes the predicted class get
    ``al_boost`` times the reconstruction weight and the model trains again, up to
    ``al_rounds`` times or until none is left.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from ttvis.projection.base import EpochSource, OnStage
from ttvis.projection.dvi import DVI, DVIParams
from ttvis.projection.losses import LossTerm, MarginTerm, ReconstructionTerm
from ttvis.projection.networks import VisModel
from ttvis.projection.trainer import train_vis_model


class TrustvisParams(DVIParams):
    """DVI's parameters plus Trustvis's three additions."""

    beta: float = Field(1.0, ge=0.0, le=10.0, description="attention exponent: reconstruction weight (1 + a)^beta per dimension (0: plain DVI reconstruction)")
    lambda3: float = Field(0.5, ge=0.0, le=1e4, description="weight of the boundary-distance consistency term (top-1 minus top-2 margin of x and of its reconstruction agree)")
    al_rounds: int = Field(2, ge=0, le=20, description="active-learning rounds per epoch: retrain with more weight on samples whose reconstruction changes the prediction (0: off)")
    al_boost: float = Field(4.0, ge=1.0, le=100.0, description="reconstruction weight multiplier of those samples in an active-learning round")


def attention(head_fn: Any, x: torch.Tensor, batch: int = 4096) -> torch.Tensor:
    """Per-sample attention over representation dimensions: |d score_pred / d x|, divided by
    its row maximum. ``x`` float32 ``[M, D]`` (the head's input space) -> float32 ``[M, D]`` in [0, 1]."""
    out = []
    for s in range(0, x.shape[0], batch):
        xb = x[s : s + batch].detach().clone().requires_grad_(True)
        scores = head_fn(xb)
        picked = scores.gather(1, scores.argmax(1, keepdim=True)).sum()
        (g,) = torch.autograd.grad(picked, xb)
        g = g.abs()
        out.append((g / g.amax(1, keepdim=True).clamp_min(1e-12)).detach())
    return torch.cat(out) if out else torch.zeros_like(x)


class Trustvis(DVI):
    """Trustvis (see the module docstring)."""

    name: ClassVar[str] = "Trustvis"
    summary: ClassVar[str] = ("DVI plus attention-weighted reconstruction, boundary-margin consistency and optional "
                              "active-learning rounds")
    paper: ClassVar[str] = "time-travelling-visualizer's trustvis_tempo (after Yang et al., DeepVisualInsight, AAAI 2022)"
    Params = TrustvisParams
    config_keys: ClassVar[dict[str, str]] = {**DVI.config_keys, "BETA": "beta"}
    params: TrustvisParams

    def _head_on_nodes(self, source: EpochSource, epoch: int, norm: tuple[np.ndarray, float]):
        head = source.head(epoch)
        if head is None:
            return None
        mean = torch.as_tensor(np.asarray(norm[0], np.float32), device=self.device)
        scale = norm[1]
        return lambda z: head.fn(z * scale + mean)  # the head on normalised representations

    def terms(self, epoch_index: int, model: VisModel, nodes: torch.Tensor, prev: dict[str, Any] | None,
              source: EpochSource, epoch: int, norm: tuple[np.ndarray, float]) -> list[LossTerm]:
        """DVI's terms with the reconstruction attention-weighted, plus the margin term."""
        terms = super().terms(epoch_index, model, nodes, prev, source, epoch, norm)
        f = self._head_on_nodes(source, epoch, norm)
        if f is None:
            return terms
        p = self.params
        if getattr(self, "_attention_epoch", None) != epoch:  # once per epoch; active-learning rounds boost it
            self._dim_weight = (1.0 + attention(f, nodes)) ** p.beta
            self._attention_epoch = epoch
        terms = [ReconstructionTerm(p.lambda1, self._dim_weight) if isinstance(t, ReconstructionTerm) else t for t in terms]
        with torch.no_grad():
            top2 = torch.cat([torch.softmax(f(nodes[s : s + 65536]).float(), 1).topk(2, dim=1).values
                              for s in range(0, nodes.shape[0], 65536)])
        terms.append(MarginTerm(p.lambda3, f, top2[:, 0] - top2[:, 1]))
        return terms

    def train_epoch(self, i: int, epoch: int, nodes: torch.Tensor, edges: Any, prev: dict[str, Any] | None,
                    source: EpochSource, norm: tuple[np.ndarray, float], cancel: threading.Event | None,
                    stage: OnStage) -> dict[str, Any]:
        """DVI's training, then up to ``al_rounds`` active-learning rounds."""
        stats = super().train_epoch(i, epoch, nodes, edges, prev, source, norm, cancel, stage)
        p = self.params
        f = self._head_on_nodes(source, epoch, norm)
        n = len(source.fit_index)
        rounds = []
        for r in range(p.al_rounds):
            if f is None:
                break
            with torch.no_grad():
                self._model.eval()
                x = nodes[:n]
                wrong = f(self._model.decode(self._model.encode(x))).argmax(1) != f(x).argmax(1)
                self._model.train()
            rounds.append(int(wrong.sum()))
            if not wrong.any():
                break
            stage(epoch, f"active-learning round {r + 1}: {int(wrong.sum())} samples")
            self._dim_weight[:n][wrong] *= p.al_boost
            train_vis_model(self._model, nodes, edges, self.terms(i, self._model, nodes, prev, source, epoch, norm), negative_sample_rate=p.negative_sample_rate,
                            learning_rate=p.learning_rate, batch_size=p.batch_size, max_epochs=p.max_epochs,
                            patience=p.patience, generator=self._gen, n_samples=n, cancel=cancel, negatives="batch")
        if rounds:
            stats["al_changed_predictions"] = rounds
        return stats
