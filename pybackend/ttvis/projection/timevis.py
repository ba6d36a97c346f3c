"""TimeVis (Xianglin Yang et al., "Temporality Spatialization: A Scalable and Faithful
Time-Travelling Visualization for Deep Classifier Training", IJCAI 2022).

One encoder/decoder for all epochs, trained once on a spatio-temporal complex:

- **Nodes**: per epoch, a k-center greedy selection of the fitted samples (the first half of
  each epoch's picks are the previous epoch's, so a sample's nodes line up in time), each
  node its representation normalised with its epoch's mean and scale, plus that epoch's
  boundary samples (as in DVI). Each epoch keeps ``selection_share`` of the samples up to 10
  epochs and ``selection_share * sqrt(10 / T)`` beyond, so the complex grows as sqrt(T),
  not T.
- **Edges**: each node's neighbour list is its ``n_neighbors`` nearest nodes of the same epoch
  plus itself in the ``temporal_window`` epochs before and after, at their distances; umap-learn's
  ``fuzzy_simplicial_set`` turns that into membership strengths, so a sample that barely moved
  between epochs is tied to itself strongly, one that moved far only weakly.
- **Loss**: UMAP cross-entropy + lambda1 * reconstruction, one training for the whole run; then
  every epoch's frame is encoded with the one model (each with its epoch's normalisation).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, Iterator, Literal, Mapping

import numpy as np
import torch
from pydantic import Field

from ttvis.projection.base import EpochResult, EpochSource, OnStage, Resume, VisMethod, check_cancel
from ttvis.projection.boundary import boundary_samples
from ttvis.projection.complex import Edges, dvi_complex, fuzzy_complex
from ttvis.projection.knn import knn_graph
from ttvis.projection.losses import ReconstructionTerm, UmapTerm, umap_ab
from ttvis.projection.networks import VisModel
from ttvis.projection.parametric import frozen_inverse, model_from_state, normaliser, restore_epoch
from ttvis.projection.schema import EncoderParams
from ttvis.projection.selection import k_center_greedy
from ttvis.projection.trainer import train_vis_model


class TimeVisParams(EncoderParams):
    """Hyper-parameters of TimeVis (defaults: UMAP for the complex, TimeVis/DVI for the rest)."""

    temporal_window: int = Field(1, ge=1, le=10, description="a node is joined to itself in this many epochs before and after (temporal edges)")
    selection_share: float = Field(0.5, gt=0.0, le=1.0, description="share of the fitted samples each epoch keeps (k-center greedy); beyond 10 epochs it shrinks as sqrt(10/T)")
    negatives: Literal["all", "epoch"] = Field(
        "all", description="where each node's negative samples come from: any epoch (all) or its own epoch (epoch: "
        "repulsion within a frame; on the digits demo NPR +0.02, temporal ranking -0.24)")
    boundary_ratio: float = Field(0.05, ge=0.0, le=10.0, description="boundary samples per selected sample and epoch (0 disables them)")
    batch_size: int = Field(4096, ge=16, le=1 << 20, description="edges per optimisation step")
    max_epochs: int = Field(20, ge=1, le=10000, description="most passes over the spatio-temporal edge set")


def per_epoch_count(n: int, epochs: int, share: float, k: int) -> int:
    """How many samples each epoch keeps: ``share * n`` up to 10 epochs, shrinking as
    ``sqrt(10 / epochs)`` beyond (never below ``2k`` or above ``n``)."""
    m = share * n * min(1.0, (10.0 / max(epochs, 1)) ** 0.5)
    return int(min(n, max(round(m), 2 * k)))


class TimeVis(VisMethod):
    """TimeVis (see the module docstring)."""

    name: ClassVar[str] = "TimeVis"
    summary: ClassVar[str] = "one encoder/decoder for all epochs on a spatio-temporal complex (k-center selection, temporal edges)"
    paper: ClassVar[str] = "Yang et al., Temporality Spatialization (TimeVis), IJCAI 2022"
    has_inverse: ClassVar[bool] = True
    per_epoch: ClassVar[bool] = False
    Params = TimeVisParams
    config_keys: ClassVar[dict[str, str]] = {"N_NEIGHBORS": "n_neighbors", "LAMBDA1": "lambda1", "MAX_EPOCH": "max_epochs",
                                             "PATIENT": "patience", "BATCH_SIZE": "batch_size"}
    config_ignored: ClassVar[dict[str, str]] = {
        "S_N_EPOCHS": "every edge is visited once a pass, its loss weighted by its membership strength (max_epochs bounds the passes)",
        "T_N_EPOCHS": "temporal edges are weighted by their membership strength like the spatial ones",
        "B_N_EPOCHS": "the original's edge filter dropped every boundary edge; ttvis keeps them all",
        "L_BOUND": "ttvis bisects the whole mixup range; its tolerance is boundary_tolerance",
        "INIT_NUM": "selection_share sets how many samples k-center greedy keeps per epoch",
        "MAX_HAUSDORFF": "selection_share sets how many samples k-center greedy keeps per epoch",
        "ALPHA": "temporal edge weights come from umap-learn's membership strengths",
        "BETA": "temporal edge weights come from umap-learn's membership strengths",
        "LAMBDA2": "TimeVis has no separate temporal loss: the temporal edges carry it",
    }
    params: TimeVisParams

    def _complex(self, source: EpochSource, epochs: list[int], norms: list[tuple[np.ndarray, float]],
                 stage: OnStage, cancel: threading.Event | None) -> tuple[np.ndarray, int, Edges, list[np.ndarray]]:
        """Nodes (normalised), how many are samples, the spatio-temporal complex, each epoch's boundary samples (raw)."""
        p = self.params
        fit = source.fit_index
        k = min(p.n_neighbors, len(fit) - 1)
        m = per_epoch_count(len(fit), len(epochs), p.selection_share, k)
        rng = np.random.default_rng(self.seed)
        # only the selected samples' rows are kept (an epoch's full [N, D] is read, selected from, let go)
        picks: list[np.ndarray] = []
        feats: list[np.ndarray | None] = []
        prev = None
        for t, e in enumerate(epochs):
            check_cancel(cancel)
            stage(e, f"selecting {m} of {len(fit)} samples (k-center greedy)")
            mean, scale = norms[t]
            xn = ((source.representation(e)[fit] - mean) / scale).astype(np.float32)
            sel = np.sort(k_center_greedy(xn, m, self.seed + t, start=None if prev is None else prev[: m // 2]))
            picks.append(sel)
            feats.append(xn[sel])
            del xn
            prev = rng.permutation(sel)
        offsets = np.cumsum([0] + [len(s) for s in picks])
        n_nodes = int(offsets[-1])
        w = p.temporal_window
        rows_i = np.full((n_nodes, k + 1 + 2 * w), -1, np.int64)
        rows_d = np.zeros((n_nodes, k + 1 + 2 * w), np.float32)
        where = []  # per epoch: each sample's node row within the epoch, -1 where not selected
        for sel in picks:
            pos = np.full(len(fit), -1, np.int64)
            pos[sel] = np.arange(len(sel))
            where.append(pos)
        for t, e in enumerate(epochs):
            stage(e, "spatio-temporal complex")
            sel, xn = picks[t], feats[t]
            idx, dist = knn_graph(xn, k + 1, self.seed)
            o = offsets[t]
            rows_i[o : o + len(sel), : k + 1] = idx + o
            rows_d[o : o + len(sel), : k + 1] = dist
            col = k + 1
            for dt in [d for d in range(-w, w + 1) if d]:
                u = t + dt
                if 0 <= u < len(epochs):
                    there = where[u][sel]
                    ok = there >= 0  # the sample is a node of epoch u too: an edge to that node
                    rows_i[o + np.flatnonzero(ok), col] = offsets[u] + there[ok]
                    rows_d[o + np.flatnonzero(ok), col] = np.linalg.norm(xn[ok] - feats[u][there[ok]], axis=1)
                col += 1
        finite = rows_d[rows_i >= 0]
        rows_d[rows_i < 0] = 2 * float(finite.max()) if finite.size else 1.0  # missing: far away (and skipped: index -1)
        edges = [fuzzy_complex(rows_i, rows_d, self.seed)]
        del rows_i, rows_d, finite
        bnds: list[np.ndarray] = []  # raw, per epoch
        bns: list[np.ndarray] = []  # normalised
        b_off = n_nodes
        for t, e in enumerate(epochs):
            head = source.head(e)
            bnd = np.zeros((0, source.dim), np.float32)
            n_b = int(round(p.boundary_ratio * len(picks[t])))
            if head is not None and n_b > 0:
                stage(e, "boundary samples")
                x_sel = np.asarray(source.representation(e)[fit[picks[t]]], np.float32)
                bnd, _ = boundary_samples(x_sel, head.probabilities(x_sel).argmax(1), head.fn, n_b, rng,
                                          p.boundary_tolerance, p.boundary_steps, self.device)
            bnds.append(bnd)
            if len(bnd):
                mean, scale = norms[t]
                bn = ((bnd - mean) / scale).astype(np.float32)
                bns.append(bn)
                e_b = dvi_complex(feats[t], bn, k, self.seed)
                touch = (e_b.head >= len(picks[t])) | (e_b.tail >= len(picks[t]))
                remap = lambda a, t=t, ns=len(picks[t]), bo=b_off: np.where(a < ns, a + offsets[t], a - ns + bo)  # noqa: E731
                edges.append(Edges(remap(e_b.head[touch]), remap(e_b.tail[touch]), e_b.weight[touch]))
                b_off += len(bn)
        # every node in one array, filled block by block while each epoch's rows are let go (one copy at a time)
        all_nodes = np.empty((b_off, source.dim), np.float32)
        for t in range(len(epochs)):
            all_nodes[offsets[t] : offsets[t + 1]] = feats[t]
            feats[t] = None
        if bns:
            all_nodes[n_nodes:] = np.concatenate(bns)
        # each node's epoch (boundary nodes: their epoch's), for negatives drawn within the frame
        group = np.concatenate([np.full(len(picks[t]), t) for t in range(len(epochs))]
                               + [np.full(len(b), t) for t, b in enumerate(bnds)]).astype(np.int64)
        self._groups = (group, offsets[:-1].astype(np.int64), np.array([len(s) for s in picks], np.int64))
        return all_nodes, n_nodes, Edges.concat(edges), bnds

    def fit(self, source: EpochSource, epochs: list[int], *, resume: Resume | None = None,
            cancel: threading.Event | None = None, on_stage: OnStage | None = None) -> Iterator[EpochResult]:
        """Train the one model on the spatio-temporal complex of ``epochs``, then yield every
        epoch's frame; a resumed run loads the trained model and yields the rest. See
        :meth:`VisMethod.fit`."""
        p, dev = self.params, self.device
        stage = on_stage or (lambda e, s: None)
        fit = source.fit_index
        norms = [normaliser(np.ascontiguousarray(source.representation(e)[fit], np.float32)) for e in epochs]
        bnds: list[np.ndarray] = [np.zeros((0, source.dim), np.float32)] * len(epochs)
        stats: dict[str, Any] = {}
        if resume is not None:
            model, _, _ = model_from_state(resume.state, dev)
        else:
            nodes, n_samples, edges, bnds = self._complex(source, epochs, norms, stage, cancel)
            gen = torch.Generator(device=dev)
            gen.manual_seed(self.seed)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                model = VisModel(source.dim, p.hidden).to(dev)
            a, b = umap_ab(p.spread, p.min_dist)
            last = epochs[-1]
            tstats = train_vis_model(
                model, torch.as_tensor(nodes, device=dev), edges, [UmapTerm(a, b), ReconstructionTerm(p.lambda1)],
                negative_sample_rate=p.negative_sample_rate, learning_rate=p.learning_rate, batch_size=p.batch_size,
                max_epochs=p.max_epochs, patience=p.patience, generator=gen, n_samples=n_samples, cancel=cancel,
                groups=self._groups if p.negatives == "epoch" else None,
                on_pass=lambda k, n: stage(last, f"training the vis model for {len(epochs)} epochs: pass {k}/{n}"))
            stats = {**tstats.as_dict(), "nodes": int(len(nodes)), "sample_nodes": n_samples, "edges": len(edges)}
            del nodes, edges  # the frames and their metrics come next: let the complex go (580 MB at 50k x 512 x 20)
        model.eval()
        for t, e in enumerate(epochs):
            if resume is not None and e <= resume.epoch:
                continue
            check_cancel(cancel)
            stage(e, "encoding the epoch")
            inv, self._state = frozen_inverse(model, norms[t][0], norms[t][1], dev)
            bnd = bnds[t]
            self._state["boundary"] = torch.as_tensor(bnd)
            yield EpochResult.make(e, inv.encode(source.representation(e)), inv, bnd,
                                   inv.encode(bnd) if len(bnd) else None, dim=source.dim,
                                   stats={**stats, "boundary_samples": int(len(bnd))})

    def epoch_state(self, result: EpochResult) -> dict[str, Any]:
        """The one model with this epoch's normalisation and boundary samples."""
        return dict(self._state)

    def restore(self, state: Mapping[str, Any], source: EpochSource, epoch: int, positions: np.ndarray) -> EpochResult:
        """Rebuild a saved epoch (its inverse map and boundary samples)."""
        return restore_epoch(state, source, epoch, positions, self.device)
