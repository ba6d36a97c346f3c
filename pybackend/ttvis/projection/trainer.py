"""The one optimisation loop of the parametric methods (DVI, TimeVis, Trustvis).

Each step takes a batch of complex edges, draws ``negative_sample_rate`` random nodes per
edge end and a random subset of nodes for reconstruction, encodes only the nodes the batch
touches, and minimises the weighted sum of the method's loss terms
(:mod:`ttvis.projection.losses`) with Adam. An optimisation epoch is one pass over all
edges in a random order.

Stopping rule: training stops after ``patience`` rounds in which the mean loss over the last
pass (the last pass's worth of rounds, weighted by their edges) did not beat the best so far
by 0.5 % a pass, pro rata (0.125 % for a quarter of a pass), never before one whole pass
(every edge is seen), or after ``max_epochs`` passes. A round is a whole pass when the
complex has at most ``CHECK_EDGES`` undirected edges (the digits demo's: DVI's 17,000,
TimeVis's 109,000; the rule is then the per-pass rule, and their results are as before
rounds), else an equal share of a pass of about ``CHECK_EDGES`` edges (rounded up to whole
batches). Comparing single rounds instead made the stop a matter of chance: a round's mean
loss is over a random share of the edges, and a cold start on the digits (batch 256, 5
rounds a pass) stopped right after its first pass on some seeds, with a map of kNN accuracy
0.84 (0.82 on another CPU's floats) against 0.95 for the per-pass rule. With the last pass's
mean it stops after 310-536 steps (per-pass: 536) at kNN accuracy 0.888-0.958 (per-pass:
0.913-0.963) over seeds 0-23 (``python benchmarks/stopping_rule.py --seeds 0-23``;
tests/python/test_dvi.py). A warm-started DVI epoch of 50,000 samples reaches its plateau
within one pass of its 440,000 edges; checked once a pass, it ran 4 passes (852 steps), 3 of
them on the plateau; with rounds it stops ``patience`` rounds after its first pass (not
re-measured at that size since the last pass's mean replaced single rounds).

Negatives are uniform nodes by default. On a small complex a step encodes every node anyway.
On a large one a uniform draw over all nodes made a step encode 5x more rows than its edges touch, and
the encoder's first layer was 80 % of a 50,000 x 512 epoch (py-spy), so there a step draws
its negatives from a pool of ``NEGATIVE_POOL`` uniform nodes per edge (each negative is still
a uniform node; 2x faster steps), or, with ``negatives="batch"``, among the batch's own edge
ends, shuffled, as Parametric UMAP does (Sainburg, McInnes & Gentner 2021; 3x faster). On the
digits demo forced onto this path (batch 256): DVI's mean NPR/PPR 0.483/0.920 (all nodes),
0.484/0.920 (pool), 0.479/0.918 (batch); TimeVis's 0.391/0.864, 0.397/0.902, 0.363/0.886:
a spatio-temporal complex's edge ends are not a uniform sample of its nodes, a frame's are.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
import torch

from ttvis.projection.base import Cancelled, check_cancel
from ttvis.projection.complex import Edges
from ttvis.projection.losses import Batch, LossTerm

__all__ = ["Cancelled", "TrainStats", "train_vis_model", "RECON_NODES"]

RECON_NODES = 512  # nodes per step in the reconstruction-side terms (a random subset: the decoder is half the cost)
NEGATIVE_POOL = 2  # on a large complex, uniform nodes per edge that a step draws its negatives from
CHECK_EDGES = 1 << 17  # the stopping rule is checked at least every this many (undirected) edges
IMPROVEMENT = 0.005  # the least relative improvement of the mean loss over a pass that counts (pro rata per round)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass
class TrainStats:
    """What one training run of the vis model did (recorded in eval.json).

    Attributes:
        epochs: passes started (the last may be partial); steps: optimiser steps.
        loss: the last round's mean total loss (a whole pass on a small complex); terms: the
            last round's mean of each term, by name.
        boundary_weight: share of the edge weight on edges touching a boundary sample.
    """

    epochs: int
    steps: int
    loss: float
    terms: dict[str, float] = field(default_factory=dict)
    boundary_weight: float = 0.0

    def as_dict(self) -> dict:
        """JSON-ready: ``train_epochs``, ``steps``, ``loss``, ``loss_<term>`` per term, ``boundary_edge_weight``."""
        return {"train_epochs": self.epochs, "steps": self.steps, "loss": self.loss,
                **{f"loss_{k}": v for k, v in self.terms.items()}, "boundary_edge_weight": self.boundary_weight}


def train_vis_model(
    model: torch.nn.Module,
    nodes: torch.Tensor,
    edges: Edges,
    terms: list[LossTerm],
    *,
    negative_sample_rate: int,
    learning_rate: float,
    batch_size: int,
    max_epochs: int,
    patience: int,
    generator: torch.Generator,
    n_samples: int,
    cancel: threading.Event | None = None,
    on_pass: Callable[[int, int], None] | None = None,
    groups: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    negatives: Literal["uniform", "batch"] = "uniform",
) -> TrainStats:
    """Train ``model`` in place on one complex.

    Args:
        model: encoder/decoder (``encode``, ``decode``), on the same device as ``nodes``.
        nodes: float32 ``[M, D]`` normalised representations; rows ``0..n_samples-1`` are
            samples, the rest boundary samples.
        edges: complex over the ``M`` nodes (both directions of each undirected edge).
        terms: the weighted loss terms; those with weight 0 are skipped.
        negative_sample_rate: negatives per edge end; learning_rate: Adam's; batch_size:
            undirected edges per step; max_epochs (passes), patience (rounds): the stopping rule
            (see the module docstring).
        generator: torch generator on the nodes' device (batch order, negatives, subsets).
        cancel: set it to stop; raises :class:`Cancelled` at the next step.
        on_pass: ``on_pass(k, max_epochs)`` as optimisation epoch ``k`` starts (progress).
        groups: ``(group int64 [M], start int64 [G], size int64 [G])``: draw each edge end's
            negatives among the nodes of its own group (``start[g] .. start[g] + size[g]``), e.g.
            one group per epoch in a spatio-temporal complex, so repulsion acts within a frame;
            None: among all nodes.
        negatives: on a large complex, "uniform" (a pool of uniform nodes) or "batch" (the
            batch's own edge ends; for a one-epoch complex); see the module docstring.

    Returns:
        :class:`TrainStats`.

    Raises:
        Cancelled: when ``cancel`` is set.
    """
    dev = nodes.device
    active = [t for t in terms if t.weight > 0]
    # the complex is symmetric: keep each undirected edge once and repel both of its ends
    one = edges.head < edges.tail
    head = torch.as_tensor(edges.head[one], device=dev)
    tail = torch.as_tensor(edges.tail[one], device=dev)
    weight = torch.as_tensor(edges.weight[one], device=dev)
    touch_b = (head >= n_samples) | (tail >= n_samples)
    bshare = float(weight[touch_b].sum() / weight.sum().clamp_min(1e-12)) if len(head) else 0.0
    m, n_edges = nodes.shape[0], head.shape[0]
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate, fused=True)
    r = negative_sample_rate
    encode_all = m <= min(batch_size, n_edges) * (2 + 2 * r) // 2
    all_nodes = torch.arange(m, device=dev)
    if groups is not None:
        g_of, g_start, g_size = (torch.as_tensor(np.asarray(a), dtype=torch.int64, device=dev) for a in groups)
    n_recon = min(m, RECON_NODES)
    def step(bi: torch.Tensor) -> torch.Tensor:
        """One optimiser step on the undirected edges ``bi``; the total and each term's loss."""
        h, t, w = head[bi], tail[bi], weight[bi]
        e = h.shape[0]
        if groups is None and encode_all:
            neg = torch.randint(0, m, (2 * e * r,), generator=generator, device=dev)
        elif groups is None:  # large complex: from a pool of uniform nodes, or the batch's own edge ends
            pool = torch.cat([h, t]) if negatives == "batch" else \
                torch.randint(0, m, (NEGATIVE_POOL * e,), generator=generator, device=dev)
            neg = pool[torch.randint(0, pool.shape[0], (2 * e * r,), generator=generator, device=dev)]
        else:  # within the end node's group: start + floor(u * size)
            g = g_of[torch.cat([h, t])].repeat_interleave(r)
            u = torch.rand(2 * e * r, generator=generator, device=dev)
            neg = g_start[g] + (u * g_size[g]).long().clamp_max(g_size[g] - 1)
        rec = torch.randint(0, m, (n_recon,), generator=generator, device=dev)
        touched = torch.cat([h, t, neg, rec])
        if encode_all:  # small graphs: every batch touches nearly every node anyway
            uniq, inv = all_nodes, touched
        else:
            uniq, inv = torch.unique(touched, return_inverse=True)
        z = model.encode(nodes if encode_all else nodes[uniq])
        zi = z.index_select(0, inv)  # index_select: a cheaper backward than z[inv]
        batch = Batch(model=model, nodes=nodes, n_samples=n_samples, weight=w,
                      z_head=zi[:e], z_tail=zi[e : 2 * e], z_neg=zi[2 * e : 2 * e + 2 * e * r].reshape(2 * e, r, 2),
                      rec_idx=rec, z_rec=zi[2 * e + 2 * e * r :], enc_idx=uniq, z_enc=z)
        values = [term(batch) for term in active]
        loss = sum(term.weight * v for term, v in zip(active, values))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return torch.stack([loss.detach(), *(v.detach() for v in values)])

    # the stopping rule is checked after every round: a whole pass on a small complex, about
    # CHECK_EDGES edges of a pass (whole batches) on a large one (see the module docstring)
    starts = list(range(0, n_edges, batch_size))  # each step's first edge within a pass
    round_steps = max(1, _ceil_div(_ceil_div(n_edges, _ceil_div(n_edges, CHECK_EDGES) or 1), batch_size))
    rounds = [starts[i : i + round_steps] for i in range(0, max(len(starts), 1), round_steps)]
    best, bad, steps, ep = float("inf"), 0, 0, 0
    last = torch.zeros(1 + len(active))
    window: deque[tuple[float, int]] = deque(maxlen=len(rounds))  # the last pass's rounds: (mean loss, edges)
    done = False
    for ep in range(1, max_epochs + 1):
        if on_pass:
            on_pass(ep, max_epochs)
        order = torch.randperm(n_edges, generator=generator, device=dev)
        for k, round_starts in enumerate(rounds):
            span = max(1, min(n_edges, (k + 1) * round_steps * batch_size) - k * round_steps * batch_size)  # its edges
            tot = torch.zeros(1 + len(active), device=dev)
            for s in round_starts:
                check_cancel(cancel)
                bi = order[s : s + batch_size]
                tot += step(bi) * (bi.shape[0] / span)
                steps += 1
            last = tot.cpu()
            window.append((float(last[0]), span))
            if ep == 1 and k < len(rounds) - 1:
                continue  # never before one whole pass: the window holds a whole pass from here on
            loss = sum(v * n for v, n in window) / sum(n for _, n in window)  # the mean loss over the last pass
            if loss < best * (1 - IMPROVEMENT * (span / max(n_edges, 1))):  # 0.5 % a pass, pro rata
                best, bad = loss, 0
            else:
                bad += 1
                done = bad >= patience
                if done:
                    break
        if done:
            break
    return TrainStats(ep, steps, float(last[0]), {t.name: float(v) for t, v in zip(active, last[1:])}, bshare)
