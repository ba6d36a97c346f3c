"""Subject model of the Fashion-MNIST demo: a small CNN for 28x28 grey images.

This file is copied into the recorded run as ``model.py``, so it imports only torch.
"""

import torch
from torch import nn


class FashionCNN(nn.Module):
    """Two conv layers (each followed by 2x2 max-pooling) and a ``width``-d (default 256)
    penultimate layer for ``[B, 1, 28, 28]`` float32 images in [0, 1].

    ``feature(x)`` -> float32 ``[B, width]`` representation; ``prediction(h)`` -> ``[B, n_classes]`` scores.
    """

    def __init__(self, n_classes: int = 10, width: int = 256):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, width), nn.ReLU())
        self.head = nn.Linear(width, n_classes)

    def feature(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 1, 28, 28]`` images -> ``[B, width]`` representations."""
        return self.fc(self.conv(x))

    def prediction(self, h: torch.Tensor) -> torch.Tensor:
        """``[B, width]`` representations -> ``[B, n_classes]`` raw class scores."""
        return self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of images: ``prediction(feature(x))``."""
        return self.prediction(self.feature(x))
