"""Reader and atomic writer for a method's results: ``<run>/visualize/<METHOD>/``.

::

    projection/E.npy   float32 [N, 2]   2-D position of every sample at epoch E
    bgimg/E.png        territory background (row 0 = top = y_max)
    scale/E.npy        float32 [4]      x_min, y_min, x_max, y_max covered by bgimg
    eval.json          {"epochs": {"E": {metric: value}}, "summary": {...}}
    params.json        the exact parameters used
    model/E.pth        the visualization model (encoder/decoder state dicts)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ttvis.dynamics import atomic
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.files import check_finite, list_epochs, load_array, load_json


class VisResults:
    """One visualization method's outputs for one run.

    Args:
        run_path: the training-dynamic folder.
        method: method name as in DESIGN.md (``"DVI"``, ``"UMAP"``, ...).
        n_samples: ``N`` for shape validation (optional).
    """

    def __init__(self, run_path: str | os.PathLike, method: str, n_samples: int | None = None):
        self.run_path = Path(run_path)
        self.method = method
        self.dir = self.run_path / "visualize" / method
        self.n_samples = n_samples

    # ---- paths -----------------------------------------------------------
    def projection_path(self, epoch: int) -> Path:
        """``projection/E.npy``."""
        return self.dir / "projection" / f"{epoch}.npy"

    def background_path(self, epoch: int) -> Path:
        """``bgimg/E.png``."""
        return self.dir / "bgimg" / f"{epoch}.png"

    def scale_path(self, epoch: int) -> Path:
        """``scale/E.npy``."""
        return self.dir / "scale" / f"{epoch}.npy"

    def model_path(self, epoch: int) -> Path:
        """``model/E.pth`` (the vis model)."""
        return self.dir / "model" / f"{epoch}.pth"

    @property
    def eval_path(self) -> Path:
        """``eval.json``."""
        return self.dir / "eval.json"

    @property
    def params_path(self) -> Path:
        """``params.json``."""
        return self.dir / "params.json"

    # ---- reading ---------------------------------------------------------
    def epochs(self) -> list[int]:
        """Complete epochs, ascending: writers put ``projection/E.npy`` last, so its presence
        means the epoch's other outputs are on disk."""
        return list_epochs(self.dir / "projection")

    def exists(self) -> bool:
        """True once at least one epoch's projection is on disk."""
        return bool(self.epochs())

    def projection(self, epoch: int) -> np.ndarray:
        """float32 ``[N, 2]`` positions at ``epoch``.

        Raises:
            DynamicsError: missing (run training first), corrupt, wrong shape, NaN.
        """
        path = self.projection_path(epoch)
        if not path.exists():
            raise DynamicsError(path, f"the {self.method} projection of epoch {epoch}", "nothing: run training first")
        arr = load_array(path, "float32 [N, 2] positions")
        n = self.n_samples or arr.shape[0]
        if arr.ndim != 2 or arr.shape != (n, 2):
            raise DynamicsError(path, f"shape [{n}, 2]", f"shape {list(arr.shape)}")
        arr = arr.astype(np.float32, copy=False)
        check_finite(arr, path, "positions")
        return arr

    def scale(self, epoch: int) -> np.ndarray | None:
        """float32 ``[4]`` = x_min, y_min, x_max, y_max of the background, or None if absent."""
        path = self.scale_path(epoch)
        if not path.exists():
            return None
        arr = load_array(path, "float32 [4] x_min, y_min, x_max, y_max").astype(np.float32).reshape(-1)
        if arr.shape != (4,) or not (arr[2] > arr[0] and arr[3] > arr[1]):
            raise DynamicsError(path, "4 numbers x_min < x_max, y_min < y_max", f"{arr.tolist()}")
        return arr

    def background_png(self, epoch: int) -> bytes | None:
        """The territory PNG's bytes, or None when absent."""
        p = self.background_path(epoch)
        return p.read_bytes() if p.is_file() else None

    def eval(self) -> dict[str, Any]:
        """Contents of ``eval.json`` (``{"epochs": {...}, "summary": {...}}``), empty if absent."""
        if not self.eval_path.exists():
            return {"epochs": {}}
        obj = load_json(self.eval_path, '{"epochs": {"E": {metric: value}}}')
        if not isinstance(obj, dict):
            raise DynamicsError(self.eval_path, "a JSON object", type(obj).__name__)
        obj.setdefault("epochs", {})
        return obj

    def epoch_metrics(self, epoch: int) -> dict[str, Any]:
        """One epoch's metrics from ``eval.json`` (empty dict if not evaluated)."""
        return dict(self.eval()["epochs"].get(str(epoch), {}))

    def params(self) -> dict[str, Any] | None:
        """Contents of ``params.json`` or None."""
        return load_json(self.params_path, "the method's parameters") if self.params_path.exists() else None

    # ---- writing (atomic) ------------------------------------------------
    def write_projection(self, epoch: int, xy: np.ndarray) -> None:
        """Write float32 ``[N, 2]`` positions for ``epoch``."""
        atomic.save_npy(self.projection_path(epoch), np.asarray(xy, dtype=np.float32))

    def write_scale(self, epoch: int, scale: np.ndarray) -> None:
        """Write ``[x_min, y_min, x_max, y_max]`` (float32) for ``epoch``."""
        atomic.save_npy(self.scale_path(epoch), np.asarray(scale, dtype=np.float32).reshape(4))

    def write_background(self, epoch: int, rgb: np.ndarray) -> None:
        """Write the territory image, uint8 ``[R, R, 3]``, row 0 at ``y_max``."""
        atomic.save_png(self.background_path(epoch), rgb)

    def write_model(self, epoch: int, state: dict[str, Any]) -> None:
        """Write the visualization model's state dicts for ``epoch``."""
        atomic.save_torch(self.model_path(epoch), state)

    def write_params(self, params: dict[str, Any]) -> None:
        """Write ``params.json``."""
        atomic.save_json(self.params_path, params)

    def write_eval(self, obj: dict[str, Any]) -> None:
        """Write ``eval.json``."""
        atomic.save_json(self.eval_path, obj)

    def update_epoch_metrics(self, epoch: int, metrics: dict[str, Any]) -> dict[str, Any]:
        """Merge ``metrics`` into epoch ``epoch`` of ``eval.json`` (atomically) and return the whole file."""
        obj = self.eval()
        obj["epochs"].setdefault(str(epoch), {}).update(metrics)
        obj["epochs"] = dict(sorted(obj["epochs"].items(), key=lambda kv: int(kv[0])))
        self.write_eval(obj)
        return obj

    def start_fresh(self) -> Path | None:
        """Move earlier results aside to ``visualize/<METHOD>.previous`` before a new run.

        Nothing on disk is lost (one generation is kept) and the new run never mixes
        its epochs with an older run's. Returns the backup folder, or None.
        """
        if not self.dir.exists():
            return None
        import shutil

        backup = self.dir.with_name(self.method + ".previous")
        if backup.exists():
            shutil.rmtree(backup)
        os.replace(self.dir, backup)
        return backup
