"""Encoder ``D -> 2`` and decoder ``2 -> D`` MLPs (torch), as in DVI and parametric UMAP."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


def mlp(dims: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class VisModel(nn.Module):
    """The visualization model: ``encode`` float32 ``[M, D] -> [M, 2]`` and ``decode`` ``[M, 2] -> [M, D]``.

    Args:
        dim: ``D``, the representation width.
        hidden: hidden widths of the encoder; the decoder uses them reversed.
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (128, 128)):
        super().__init__()
        self.dim = dim
        self.hidden = list(hidden)
        self.encoder = mlp([dim, *hidden, 2])
        self.decoder = mlp([2, *reversed(list(hidden)), dim])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """float32 ``[M, D]`` (normalised representations) -> ``[M, 2]``."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """float32 ``[M, 2]`` -> ``[M, D]`` (normalised representations)."""
        return self.decoder(z)
