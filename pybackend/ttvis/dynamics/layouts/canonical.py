"""DESIGN.md's canonical training-dynamic folder (``dataset/representation/E.npy``, ...)."""

from __future__ import annotations

from pathlib import Path

from ttvis.dynamics.files import list_epochs
from ttvis.dynamics.layouts.base import _OneFilePerEpoch


class CanonicalLayout(_OneFilePerEpoch):
    """DESIGN.md's canonical training-dynamic folder."""

    name = "canonical"

    def epochs(self) -> list[int]:
        ckpts = {int(p.stem) for p in (self.root / "model").glob("*.pth") if p.stem.isdigit()}
        return sorted(set(list_epochs(self.root / "dataset" / "representation")) | ckpts)

    def _rep(self, epoch: int) -> Path:
        return self.root / "dataset" / "representation" / f"{epoch}.npy"

    def _pred(self, epoch: int) -> Path:
        return self.root / "dataset" / "prediction" / f"{epoch}.npy"

    @property
    def labels_path(self) -> Path:
        return self.root / "dataset" / "label" / "labels.npy"

    def _index_path(self) -> Path:
        return self.root / "index.json"

    sprite_folder = "sprites"

    def checkpoint_file(self, epoch: int) -> Path:
        return self.root / "model" / f"{epoch}.pth"

    @property
    def model_source_path(self) -> Path:
        return self.root / "model.py"
