"""Subject model of the demo: a small CNN for 8x8 digit images.

This file is copied into the recorded run as ``model.py``, so it imports only torch.
"""

import torch
from torch import nn


class DigitsCNN(nn.Module):
    """Two conv layers and a 64-d penultimate layer for ``[B, 1, 8, 8]`` float32 images in [0, 1].

    ``feature(x)`` -> float32 ``[B, 64]`` representation; ``prediction(h)`` -> ``[B, 10]`` class scores.
    """

    def __init__(self, n_classes: int = 10, width: int = 64):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, width), nn.ReLU())
        self.head = nn.Linear(width, n_classes)

    def feature(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, 1, 8, 8]`` images -> ``[B, 64]`` representations."""
        return self.fc(self.conv(x))

    def prediction(self, h: torch.Tensor) -> torch.Tensor:
        """``[B, 64]`` representations -> ``[B, n_classes]`` raw class scores."""
        return self.head(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores of images: ``prediction(feature(x))``."""
        return self.prediction(self.feature(x))
