"""Loss terms of the parametric projections (torch), each a small class the trainer sums.

A method hands :func:`~ttvis.projection.trainer.train_vis_model` a list of weighted terms;
adding a term never means copying the trainer. Every term reads what it needs from the
step's :class:`Batch` and returns a scalar.

The UMAP cross-entropy (McInnes et al. 2018) uses the low-dimensional kernel
``q = 1 / (1 + a * d^(2b))`` in log space so neither part saturates: with
``z = log a + b * log(d^2 + eps)``, ``-log q = softplus(z)`` and ``-log(1 - q) = softplus(-z)``.
The repulsive gradient therefore stays alive as ``d -> 0`` (the original DVI code clamped
``1 - q`` at 1e-4, which zeroed it below a 2-D distance of about 0.005 and let every epoch
collapse to a point). ``eps`` is umap-learn's 0.001.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, ClassVar

import torch
import torch.nn.functional as F

EPS = 1e-3


def umap_ab(spread: float = 1.0, min_dist: float = 0.1) -> tuple[float, float]:
    """The ``a, b`` of UMAP's low-dim kernel for ``spread`` and ``min_dist`` (umap-learn's fit)."""
    from umap.umap_ import find_ab_params

    a, b = find_ab_params(spread, min_dist)
    return float(a), float(b)


def _logit(za: torch.Tensor, zb: torch.Tensor, a: float, b: float) -> torch.Tensor:
    d2 = ((za - zb) ** 2).sum(-1)
    return torch.log(torch.tensor(a, dtype=za.dtype, device=za.device)) + b * torch.log(d2 + EPS)


def umap_cross_entropy(
    z_head: torch.Tensor, z_tail: torch.Tensor, z_neg: torch.Tensor, weight: torch.Tensor,
    a: float, b: float, repulsion: float = 1.0,
) -> torch.Tensor:
    """Weighted UMAP cross-entropy with negative sampling.

    Args:
        z_head, z_tail: float ``[E, 2]`` endpoints of positive edges.
        z_neg: float ``[E, R, 2]`` negative samples for each edge's head.
        weight: float ``[E]`` edge membership strengths (the attraction and its negatives are
            weighted by them, as UMAP's edge sampling does in expectation).

    Returns:
        Scalar: ``sum_e w_e (-log q_e + repulsion * sum_r -log(1 - q_er)) / sum_e w_e``.
    """
    attract = F.softplus(_logit(z_head, z_tail, a, b))
    repel = F.softplus(-_logit(z_head[:, None, :], z_neg, a, b)).sum(1)
    return (weight * (attract + repulsion * repel)).sum() / weight.sum().clamp_min(1e-12)


def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor, dim_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error between ``x`` and its reconstruction ``[M, D]`` (normalised units),
    optionally weighted per row and dimension by ``dim_weight`` ``[M, D]``."""
    if dim_weight is None:
        return F.mse_loss(x_hat, x)
    return (dim_weight * (x_hat - x) ** 2).mean()


@dataclass
class Batch:
    """What one optimisation step sees.

    Attributes:
        model: the encoder/decoder being trained (``encode``/``decode`` on normalised data).
        nodes: float32 ``[M, D]`` every node (normalised); rows ``< n_samples`` are samples.
        n_samples: how many nodes are samples (the rest are boundary samples).
        weight: float32 ``[E]`` the batch's edge weights.
        z_head, z_tail: float ``[E, 2]``; z_neg: ``[2E, R, 2]`` negatives of both ends.
        rec_idx: int64 ``[P]`` nodes drawn for reconstruction; z_rec: ``[P, 2]`` their positions.
        enc_idx: int64 ``[U]`` every node encoded this step; z_enc: ``[U, 2]`` their positions.
    """

    model: torch.nn.Module
    nodes: torch.Tensor
    n_samples: int
    weight: torch.Tensor
    z_head: torch.Tensor
    z_tail: torch.Tensor
    z_neg: torch.Tensor
    rec_idx: torch.Tensor
    z_rec: torch.Tensor
    enc_idx: torch.Tensor
    z_enc: torch.Tensor


class LossTerm:
    """A weighted term of the vis model's loss; ``name`` labels it in ``eval.json``'s training stats.

    Args:
        weight: its weight in the sum (0 switches it off).
    """

    name: ClassVar[str] = "term"

    def __init__(self, weight: float = 1.0):
        self.weight = float(weight)

    def __call__(self, b: Batch) -> torch.Tensor:
        """The term's value on one step (a scalar tensor)."""
        raise NotImplementedError


class UmapTerm(LossTerm):
    """UMAP cross-entropy over the batch's complex edges (see :func:`umap_cross_entropy`).

    Args:
        a, b: the low-dim kernel's parameters (:func:`umap_ab`).
    """

    name = "umap"

    def __init__(self, a: float, b: float, weight: float = 1.0):
        super().__init__(weight)
        self.a, self.b = a, b

    def __call__(self, b: Batch) -> torch.Tensor:
        zh, zt = torch.cat([b.z_head, b.z_tail]), torch.cat([b.z_tail, b.z_head])
        return umap_cross_entropy(zh, zt, b.z_neg, torch.cat([b.weight, b.weight]), self.a, self.b)


class ReconstructionTerm(LossTerm):
    """The decoder must invert the encoder: MSE of ``decode(encode(x))`` on a random subset of
    nodes (DVI's reconstruction loss).

    Args:
        dim_weight: optional float32 ``[M, D]`` per node and dimension weights (Trustvis's
            attention weights ``(1 + a)^beta``), on the nodes' device.
    """

    name = "reconstruction"

    def __init__(self, weight: float, dim_weight: torch.Tensor | None = None):
        super().__init__(weight)
        self.dim_weight = dim_weight

    def __call__(self, b: Batch) -> torch.Tensor:
        x = b.nodes.index_select(0, b.rec_idx)
        w = None if self.dim_weight is None else self.dim_weight.index_select(0, b.rec_idx)
        return reconstruction_loss(x, b.model.decode(b.z_rec), w)


class PositionAnchorTerm(LossTerm):
    """Temporal term on 2-D positions: ``mean_i w_i * ||z_i - z_prev_i||^2`` over the samples
    encoded this step, where ``z_prev`` is the previous epoch's position and ``w_i`` in [0, 1]
    how much of the sample's high-D neighbourhood survived since then (a stable sample should
    stay where it was; one whose neighbourhood changed may move).

    This is not the DVI paper's temporal loss, which anchors the encoder's *weights* to the
    previous epoch's (:class:`WeightAnchorTerm`); see :mod:`ttvis.projection.dvi` for which
    DVI uses and the measurements behind the choice.

    Args:
        prev_xy: float ``[n_samples, 2]`` previous-epoch positions; persistence: float ``[n_samples]``.
    """

    name = "temporal_position"

    def __init__(self, weight: float, prev_xy: torch.Tensor, persistence: torch.Tensor):
        super().__init__(weight)
        self.prev_xy, self.persistence = prev_xy, persistence

    def __call__(self, b: Batch) -> torch.Tensor:
        samp = b.enc_idx < b.n_samples
        idx = b.enc_idx[samp]
        z = b.z_enc[samp]
        return (self.persistence[idx] * ((z - self.prev_xy[idx]) ** 2).sum(1)).mean()


class WeightAnchorTerm(LossTerm):
    """The DVI paper's temporal loss: the squared distance of the encoder's weights from the
    previous epoch's, ``sum_theta ||theta - theta_prev||^2`` (Yang et al., AAAI 2022, Eq. 6).

    Args:
        previous: the previous epoch's encoder parameters, detached, same order as
            ``model.encoder.parameters()``.
    """

    name = "temporal_weights"

    def __init__(self, weight: float, previous: list[torch.Tensor]):
        super().__init__(weight)
        self.previous = previous

    def __call__(self, b: Batch) -> torch.Tensor:
        return sum(((p - q) ** 2).sum() for p, q in zip(b.model.encoder.parameters(), self.previous))


class MarginTerm(LossTerm):
    """Boundary-distance consistency (Trustvis): the subject model's top-1 minus top-2
    probability margin of ``x`` and of ``decode(encode(x))`` should agree; squared
    difference of the two margins on the reconstruction subset, differentiable (the original
    used a non-differentiable rank correlation).

    Args:
        head: torch callable, normalised representations ``[P, D]`` -> class scores ``[P, C]``.
        margins: float32 ``[M]`` every node's margin of ``x`` (precomputed, no gradient).
    """

    name = "margin"

    def __init__(self, weight: float, head: Callable[[torch.Tensor], torch.Tensor], margins: torch.Tensor):
        super().__init__(weight)
        self.head, self.margins = head, margins

    def __call__(self, b: Batch) -> torch.Tensor:
        p = torch.softmax(self.head(b.model.decode(b.z_rec)).float(), 1).topk(2, dim=1).values
        return ((p[:, 0] - p[:, 1] - self.margins.index_select(0, b.rec_idx)) ** 2).mean()


class MovementTerm(LossTerm):
    """Movement fidelity on 2-D positions: each sample's 2-D step from its previous epoch's
    (fixed) position should be as long as its representation's step, times one global scale:
    ``mean_i (sqrt(||z_i - z_prev_i||^2 + eps) - target_i)^2`` over the samples encoded this step,
    ``target_i = s * ||x_i(t) - x_i(t-1)||`` (raw representations, ``s`` fixed for the whole run).
    A sample that did not move stays put, one that moved far may move far. Aimed at Vernier
    et al.'s ``stab_spearman`` (EuroVis 2020), which pools every (sample, step) movement, hence
    one scale for all epochs. ``eps`` (1e-4, in squared 2-D units) keeps the gradient finite at 0.

    Args:
        prev_xy: float ``[n_samples, 2]`` previous-epoch positions; target: float ``[n_samples]``
            the 2-D step length each sample should make.
    """

    name = "temporal_movement"

    def __init__(self, weight: float, prev_xy: torch.Tensor, target: torch.Tensor):
        super().__init__(weight)
        self.prev_xy, self.target = prev_xy, target

    def __call__(self, b: Batch) -> torch.Tensor:
        samp = b.enc_idx < b.n_samples
        idx = b.enc_idx[samp]
        step = torch.sqrt(((b.z_enc[samp] - self.prev_xy[idx]) ** 2).sum(1) + 1e-4)
        return ((step - self.target[idx]) ** 2).mean()


class OriginDistanceTerm(MovementTerm):
    """:class:`MovementTerm` against a fixed reference epoch instead of the previous one: each
    sample's 2-D distance from its position at the reference epoch should follow its raw
    representation's distance from then (``prev_xy``: the reference epoch's positions, ``target``:
    the 2-D distance each sample should keep). Aimed at TimeVis's temporal ranking (Yang et al.,
    IJCAI 2022), which ranks, per sample, its distances from the first epoch; the step term alone
    fixes step lengths, not their directions, so a dot wanders instead of drifting away."""

    name = "temporal_origin"
