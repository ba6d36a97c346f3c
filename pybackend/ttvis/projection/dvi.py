"""DVI: DeepVisualInsight (Xianglin Yang et al., "DeepVisualInsight: Time-Travelling
Visualization for Spatio-Temporal Causality of Deep Classification Training", AAAI 2022).

One encoder/decoder per epoch, warm-started from the previous epoch's; each epoch's
complex joins the training samples' UMAP fuzzy simplicial complex with boundary
samples; loss = UMAP cross-entropy + lambda1 * reconstruction + lambda2 * temporal.

Departures from the original code, each fixing a measured failure (DESIGN.md):
representations are normalised per epoch (epoch-1 features of a fresh network are
nearly identical); the repulsive loss never saturates; boundary edges always reach
the loss; every random choice is seeded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch

from ttvis.dynamics.folder import TrainingDynamics
from ttvis.projection.boundary import boundary_samples
from ttvis.projection.complex import dvi_complex
from ttvis.projection.device import job_determinism, resolve_device
from ttvis.projection.head import PredictionHead
from ttvis.projection.knn import knn_graph, neighbour_overlap
from ttvis.projection.losses import umap_ab
from ttvis.projection.networks import VisModel
from ttvis.projection.params import DVIParams
from ttvis.projection.trainer import TrainStats, train_vis_model


@dataclass
class EpochProjection:
    """One epoch's result from a visualization method.

    Attributes:
        epoch: the training epoch.
        positions: float32 ``[N, 2]`` every sample's 2-D position.
        encode: ``encode(x float32 [M, D]) -> float32 [M, 2]`` (raw representation space).
        decode: ``decode(xy float32 [M, 2]) -> float32 [M, D]``, or None for methods without an inverse.
        boundary: float32 ``[B, D]`` boundary samples used (raw space), ``[0, D]`` if none.
        boundary_positions: float32 ``[B, 2]``.
        head: the prediction head used, or None.
        stats: training statistics (JSON-able dict).
        state: what to save as the epoch's vis model (state dicts, normalisation).
    """

    epoch: int
    positions: np.ndarray
    encode: Callable[[np.ndarray], np.ndarray]
    decode: Callable[[np.ndarray], np.ndarray] | None
    boundary: np.ndarray
    boundary_positions: np.ndarray
    head: PredictionHead | None
    stats: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray, device: str, batch: int = 65536) -> np.ndarray:
    out = []
    with torch.no_grad():
        for s in range(0, x.shape[0], batch):
            out.append(fn(torch.from_numpy(np.array(x[s : s + batch], dtype=np.float32)).to(device)).cpu().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0,), np.float32)


class DVI:
    """The DVI method (see module docstring). ``run`` yields one :class:`EpochProjection` per epoch.

    Args:
        params: :class:`DVIParams`.
    """

    name = "DVI"
    params_cls = DVIParams
    has_inverse = True

    def __init__(self, params: DVIParams | None = None):
        self.params = params or DVIParams()

    def run(self, run: TrainingDynamics, epochs: list[int], heads: Callable[[int], PredictionHead | None],
            cancel: threading.Event | None = None, on_stage: Callable[[int, str], None] | None = None) -> Iterator[EpochProjection]:
        """Train the vis model epoch by epoch (warm start) and yield each epoch's projection.

        Args:
            run: the training run.
            epochs: epochs to visualise, ascending (a subset of ``run.epochs``).
            heads: ``heads(epoch)`` -> that epoch's prediction head (None: no territories).
            cancel: a set event stops training (:class:`~ttvis.projection.trainer.Cancelled`).
            on_stage: ``on_stage(epoch, stage)`` as each step of an epoch starts ("kNN graph",
                "boundary samples", "training").

        Raises:
            Cancelled: when ``cancel`` is set mid-epoch.
            DynamicsError: a bad epoch file.
        """
        gen = self._run(run, epochs, heads, cancel, on_stage or (lambda e, s: None))
        device = resolve_device(self.params.device)
        while True:
            with job_determinism(device):
                try:
                    ep = next(gen)
                except StopIteration:
                    return
            yield ep

    def _run(
        self,
        run: TrainingDynamics,
        epochs: list[int],
        heads: Callable[[int], PredictionHead | None],
        cancel: threading.Event | None,
        stage: Callable[[int, str], None],
    ) -> Iterator[EpochProjection]:
        p = self.params
        device = resolve_device(p.device)
        a, b = umap_ab(p.spread, p.min_dist)
        rng = np.random.default_rng(p.seed)
        gen = torch.Generator(device=device)
        gen.manual_seed(p.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(p.seed)
            model = VisModel(run.dim, p.hidden).to(device)
        tr = run.train_index if p.fit_on == "train" else np.arange(run.n_samples)
        k = min(p.n_neighbors, len(tr))
        prev_xy = prev_knn = None
        for i, e in enumerate(epochs):
            x = run.representation(e)
            mean = x[tr].mean(0)
            scale = float(np.sqrt(x[tr].var(0).sum() / x.shape[1])) + 1e-12
            norm = lambda v, m=mean, s=scale: (v - m) / s  # noqa: E731
            head = heads(e)
            bnd = np.zeros((0, run.dim), np.float32)
            if head is not None and p.boundary_ratio > 0:
                stage(e, "boundary samples")
                pred = head.probabilities(x[tr]).argmax(1)
                bnd, _ = boundary_samples(
                    x[tr], pred, head.fn, int(round(p.boundary_ratio * len(tr))), rng,
                    p.boundary_tolerance, p.boundary_steps, device,
                )
            xn_tr = norm(x[tr]).astype(np.float32)
            stage(e, "kNN graph and fuzzy complex")
            knn = knn_graph(xn_tr, k, p.seed)
            edges = dvi_complex(xn_tr, norm(bnd).astype(np.float32), k, p.seed, train_knn=knn)
            nodes = torch.as_tensor(np.concatenate([xn_tr, norm(bnd).astype(np.float32)]), device=device)
            tw = None
            if prev_knn is not None:
                tw = torch.as_tensor(neighbour_overlap(knn[0][:, 1:], prev_knn[:, 1:]), device=device)
            stage(e, "training the vis model")
            stats: TrainStats = train_vis_model(
                model, nodes, edges, a=a, b=b, lambda1=p.lambda1, lambda2=p.lambda2,
                negative_sample_rate=p.negative_sample_rate, learning_rate=p.learning_rate,
                batch_size=p.batch_size, max_epochs=p.first_epochs if i == 0 else p.max_epochs,
                patience=p.patience, generator=gen, n_samples=len(tr),
                prev_xy=prev_xy, prev_weight=tw, cancel=cancel,
            )
            model.eval()
            ep = self._frozen(model, mean, scale, run.dim, device)
            positions = ep.encode(x)
            bpos = ep.encode(bnd) if len(bnd) else np.zeros((0, 2), np.float32)
            prev_xy = torch.as_tensor(positions[tr], device=device)
            prev_knn = knn[0]
            model.train()
            ep.epoch, ep.positions, ep.boundary, ep.boundary_positions, ep.head = e, positions, bnd, bpos, head
            ep.stats = {"train_epochs": stats.epochs, "steps": stats.steps, "loss": stats.loss,
                        "loss_umap": stats.umap, "loss_recon": stats.recon, "loss_temporal": stats.temporal,
                        "boundary_samples": int(len(bnd)), "boundary_edge_weight": stats.boundary_weight,
                        "edges": len(edges)}
            ep.state["boundary"] = torch.as_tensor(bnd)
            yield ep

    def _frozen(self, model: VisModel, mean: np.ndarray, scale: float, dim: int, device: str) -> EpochProjection:
        """A copy of ``model`` fixed at this epoch, wrapped as encode/decode in raw representation space."""
        frozen = VisModel(dim, model.hidden).to(device)
        frozen.load_state_dict(model.state_dict())
        frozen.eval()
        m_t = torch.as_tensor(np.asarray(mean, np.float32), device=device)
        return EpochProjection(
            epoch=0, positions=np.zeros((0, 2), np.float32),
            encode=lambda v: _batched(lambda t: frozen.encode((t - m_t) / scale), v, device),
            decode=lambda xy: _batched(lambda t: frozen.decode(t) * scale + m_t, xy, device),
            boundary=np.zeros((0, dim), np.float32), boundary_positions=np.zeros((0, 2), np.float32), head=None,
            state={"model": {k: v.detach().cpu() for k, v in frozen.state_dict().items()},
                   "mean": torch.as_tensor(np.asarray(mean, np.float32)), "scale": float(scale), "dim": dim,
                   "hidden": list(model.hidden)},
        )

    def load_epoch(self, state: dict, run: TrainingDynamics, epoch: int, positions: np.ndarray,
                   head: PredictionHead | None) -> EpochProjection:
        """Rebuild an epoch's :class:`EpochProjection` from the state saved in ``model/E.pth``.

        Raises:
            KeyError/RuntimeError: a state dict that does not fit (callers turn it into DynamicsError).
        """
        device = resolve_device(self.params.device)
        model = VisModel(int(state["dim"]), state["hidden"])
        model.load_state_dict(state["model"])
        ep = self._frozen(model.to(device), state["mean"].numpy(), float(state["scale"]), int(state["dim"]), device)
        bnd = state.get("boundary")
        ep.epoch, ep.positions, ep.head = epoch, positions, head
        if bnd is not None and len(bnd):
            ep.boundary = bnd.numpy().astype(np.float32)
            ep.boundary_positions = ep.encode(ep.boundary)
        return ep
