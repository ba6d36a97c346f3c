"""Losses of DVI-style parametric projections (torch).

The UMAP cross-entropy (McInnes et al. 2018) with the low-dimensional kernel
``q = 1 / (1 + a * d^(2b))``, written in log space so neither term saturates:
with ``z = log a + b * log(d^2 + eps)``, ``-log q = softplus(z)`` and
``-log(1 - q) = softplus(-z)``. The repulsive gradient therefore stays alive as
``d -> 0`` (the original DVI code clamped ``1 - q`` at 1e-4, which zeroed it below
a 2-D distance of about 0.005 and let every epoch collapse to a point). ``eps``
is umap-learn's 0.001.
"""

from __future__ import annotations

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


def reconstruction_loss(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Mean squared error between ``x`` and its reconstruction ``[M, D]`` (normalised units)."""
    return F.mse_loss(x_hat, x)


def temporal_loss(z: torch.Tensor, z_prev: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """DVI's temporal term: ``mean_i w_i * ||z_i - z_prev_i||^2``.

    Args:
        z, z_prev: float ``[M, 2]`` current and previous-epoch positions of the same samples.
        weight: float ``[M]`` in [0, 1]: how much of the sample's high-D neighbourhood
            survived since the previous epoch (stable samples should stay in place).
    """
    return (weight * ((z - z_prev) ** 2).sum(1)).mean()
