"""Optimisation loop shared by the parametric methods (DVI, TimeVis, ...).

Each step takes a batch of complex edges, draws ``negative_sample_rate`` random
nodes per edge, encodes only the nodes the batch touches, and minimises
``UMAP cross-entropy + lambda1 * reconstruction + lambda2 * temporal`` with Adam.
An optimisation epoch is one pass over all edges; training stops after
``patience`` epochs without a 0.5 % improvement of the epoch loss, or at the cap.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

from ttvis.projection.complex import Edges
from ttvis.projection.losses import reconstruction_loss, temporal_loss, umap_cross_entropy
from ttvis.projection.networks import VisModel


RECON_NODES = 512  # nodes per step in the reconstruction loss (a random subset: the decoder is half the cost)


class Cancelled(Exception):
    """Raised inside training when the caller's cancellation token is set."""


@dataclass
class TrainStats:
    """What one training run of the vis model did (recorded in eval.json).

    Attributes:
        epochs: optimisation epochs run; steps: optimiser steps.
        loss, umap, recon, temporal: last epoch's mean loss terms.
        boundary_weight: share of the UMAP loss weight on edges touching a boundary sample.
    """

    epochs: int
    steps: int
    loss: float
    umap: float
    recon: float
    temporal: float
    boundary_weight: float


def train_vis_model(
    model: VisModel,
    nodes: torch.Tensor,
    edges: Edges,
    *,
    a: float,
    b: float,
    lambda1: float,
    lambda2: float,
    negative_sample_rate: int,
    learning_rate: float,
    batch_size: int,
    max_epochs: int,
    patience: int,
    generator: torch.Generator,
    n_samples: int,
    prev_xy: torch.Tensor | None = None,
    prev_weight: torch.Tensor | None = None,
    cancel: threading.Event | None = None,
) -> TrainStats:
    """Train ``model`` in place on one complex.

    Args:
        model: encoder/decoder, on the same device as ``nodes``.
        nodes: float32 ``[M, D]`` normalised representations; rows ``0..n_samples-1`` are
            samples, the rest boundary samples.
        edges: complex over the ``M`` nodes.
        a, b: UMAP kernel parameters; lambda1/lambda2: loss weights.
        generator: torch generator on the nodes' device (batch order, negatives).
        prev_xy: float32 ``[n_samples, 2]`` previous-epoch positions (temporal loss), or None.
        prev_weight: float32 ``[n_samples]`` per-sample temporal weight in [0, 1].
        cancel: set it to stop; raises :class:`Cancelled` at the next step.

    Returns:
        :class:`TrainStats`.

    Raises:
        Cancelled: when ``cancel`` is set.
    """
    dev = nodes.device
    # the complex is symmetric: keep each undirected edge once and repel both of its ends
    one = edges.head < edges.tail
    head = torch.as_tensor(edges.head[one], device=dev)
    tail = torch.as_tensor(edges.tail[one], device=dev)
    weight = torch.as_tensor(edges.weight[one], device=dev)
    touch_b = (head >= n_samples) | (tail >= n_samples)
    bshare = float(weight[touch_b].sum() / weight.sum().clamp_min(1e-12)) if len(head) else 0.0
    m, n_edges = nodes.shape[0], head.shape[0]
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate, fused=True)
    use_temporal = prev_xy is not None and lambda2 > 0
    r = negative_sample_rate
    encode_all = m <= min(batch_size, n_edges) * (2 + 2 * r) // 2
    all_nodes = torch.arange(m, device=dev)
    n_recon = min(m, RECON_NODES)
    best, bad, steps = float("inf"), 0, 0
    last = (0.0, 0.0, 0.0, 0.0)
    ep = 0
    for ep in range(1, max_epochs + 1):
        order = torch.randperm(n_edges, generator=generator, device=dev)
        tot = torch.zeros(4, device=dev)
        for s in range(0, n_edges, batch_size):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            bi = order[s : s + batch_size]
            h, t, w = head[bi], tail[bi], weight[bi]
            e = h.shape[0]
            neg = torch.randint(0, m, (2 * e * r,), generator=generator, device=dev)
            rec = torch.randint(0, m, (n_recon,), generator=generator, device=dev)
            touched = torch.cat([h, t, neg, rec])
            if encode_all:  # small graphs: every batch touches nearly every node anyway
                uniq, inv = all_nodes, touched
            else:
                uniq, inv = torch.unique(touched, return_inverse=True)
            z = model.encode(nodes if encode_all else nodes[uniq])
            zi = z.index_select(0, inv)  # index_select: a cheaper backward than z[inv]
            zh, zt = zi[:e], zi[e : 2 * e]
            zn = zi[2 * e : 2 * e + 2 * e * r].reshape(2 * e, r, 2)
            l_umap = umap_cross_entropy(torch.cat([zh, zt]), torch.cat([zt, zh]), zn, torch.cat([w, w]), a, b)
            if lambda1 > 0:
                ri = inv[2 * e + 2 * e * r :]
                l_rec = reconstruction_loss(nodes.index_select(0, uniq.index_select(0, ri)), model.decode(zi[2 * e + 2 * e * r :]))
            else:
                l_rec = torch.zeros((), device=dev)
            loss = l_umap + lambda1 * l_rec
            if use_temporal:
                if encode_all:
                    l_tmp = temporal_loss(z[:n_samples], prev_xy, prev_weight)
                else:
                    samp = uniq < n_samples
                    l_tmp = temporal_loss(z[samp], prev_xy[uniq[samp]], prev_weight[uniq[samp]])
                loss = loss + lambda2 * l_tmp
            else:
                l_tmp = torch.zeros((), device=dev)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            tot += torch.stack([loss.detach(), l_umap.detach(), l_rec.detach(), l_tmp.detach()]) * (e / n_edges)
        last = tuple(tot.tolist())
        if last[0] < best * (1 - 0.005):
            best, bad = last[0], 0
        else:
            bad += 1
            if bad >= patience:
                break
    return TrainStats(ep, steps, *(float(v) for v in last), bshare)
