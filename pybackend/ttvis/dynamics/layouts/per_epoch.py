"""The later time-travelling-visualizer layout: ``epochs/epoch_E/{embeddings,predictions}.npy``."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ttvis.dynamics.layouts.base import _OneFilePerEpoch

_EPOCH_DIR = re.compile(r"^epoch_(\d+)$")


class PerEpochLayout(_OneFilePerEpoch):
    """The later time-travelling-visualizer layout: ``epochs/epoch_E/{embeddings,predictions}.npy``."""

    name = "per-epoch"

    def _dir(self, epoch: int) -> Path:
        return self.root / "epochs" / f"epoch_{epoch}"

    def epochs(self) -> list[int]:
        d = self.root / "epochs"
        return sorted(int(m.group(1)) for name in os.listdir(d) if (m := _EPOCH_DIR.match(name)) and (d / name).is_dir())

    def _rep(self, epoch: int) -> Path:
        return self._dir(epoch) / "embeddings.npy"

    def _pred(self, epoch: int) -> Path:
        return self._dir(epoch) / "predictions.npy"

    @property
    def labels_path(self) -> Path:
        return self.root / "dataset" / "labels.npy"

    def _index_path(self) -> Path:
        return self.root / "dataset" / "index.json"

    sprite_folder = "image"

    def checkpoint_file(self, epoch: int) -> Path:
        return self._dir(epoch) / "model.pth"

    @property
    def model_source_path(self) -> Path:
        return self.root / "scripts" / "model.py"
