"""Reader and atomic writer for a method's results: ``<run>/visualize/<METHOD>/``.

::

    projection/E.npy   float32 [N, 2]   2-D position of every sample at epoch E
    bgimg/E.png        territory background (row 0 = top = y_max)
    bgimg/E.npy        uint8 [R, R]     the territory's class per pixel (same rows)
    scale/E.npy        float32 [4]      x_min, y_min, x_max, y_max covered by bgimg
    eval.json          {"epochs": {"E": {metric: value}}, "summary": {...}}
    params.json        the exact parameters used
    model/E.pth        the visualization model (encoder/decoder state dicts)

Earlier results are kept as generations in ``<METHOD>.history/`` (at most
:data:`ttvis.dynamics.history.KEEP`); a new run is staged in ``<METHOD>.new/`` and takes the
current results' place only once its first epoch is complete there, so a run that fails or
is stopped at any point before then leaves everything as it was (:mod:`ttvis.dynamics.history`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ttvis.dynamics import atomic
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.files import check_finite, inside, list_epochs, load_array, load_json


class VisResults:
    """One visualization method's outputs for one run.

    Args:
        run_path: the training-dynamic folder.
        method: method name as in DESIGN.md (``"DVI"``, ``"UMAP"``, ...).
        n_samples: ``N`` for shape validation (optional).
        roots: folders besides the run that result files may lie in (links are resolved
            and anything outside is refused, as for the run's own files).
    """

    def __init__(self, run_path: str | os.PathLike, method: str, n_samples: int | None = None,
                 roots: Sequence[str | os.PathLike] = ()):
        self.run_path = Path(run_path)
        self.method = method
        self.dir = self.run_path / "visualize" / method
        self.n_samples = n_samples
        self._roots = [Path(os.path.realpath(self.run_path)), *(Path(r).resolve() for r in roots)]

    def _safe(self, path: Path) -> Path:
        return inside(path, self._roots)

    # ---- paths -----------------------------------------------------------
    def projection_path(self, epoch: int) -> Path:
        """``projection/E.npy``."""
        return self.dir / "projection" / f"{epoch}.npy"

    def background_path(self, epoch: int) -> Path:
        """``bgimg/E.png``."""
        return self.dir / "bgimg" / f"{epoch}.png"

    def classes_path(self, epoch: int) -> Path:
        """``bgimg/E.npy`` (the territory's class grid)."""
        return self.dir / "bgimg" / f"{epoch}.npy"

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
        path = self._safe(self.projection_path(epoch))
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
        path = self._safe(self.scale_path(epoch))
        if not path.exists():
            return None
        arr = load_array(path, "float32 [4] x_min, y_min, x_max, y_max").astype(np.float32).reshape(-1)
        if arr.shape != (4,) or not (arr[2] > arr[0] and arr[3] > arr[1]):
            raise DynamicsError(path, "4 numbers x_min < x_max, y_min < y_max", f"{arr.tolist()}")
        return arr

    def background_png(self, epoch: int) -> bytes | None:
        """The territory PNG's bytes, or None when absent."""
        p = self._safe(self.background_path(epoch))
        return p.read_bytes() if p.is_file() else None

    def territory_classes(self, epoch: int) -> np.ndarray | None:
        """The territory's predicted class per pixel, uint8 ``[R, R]`` (row 0 = y_max), or
        None when not stored (a method without an inverse map, or results from before it was).

        Raises:
            DynamicsError: a corrupt file or one that is not a square 2-D grid.
        """
        path = self._safe(self.classes_path(epoch))
        if not path.exists():
            return None
        arr = load_array(path, "uint8 [R, R] territory classes")
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or not np.issubdtype(arr.dtype, np.integer):
            raise DynamicsError(path, "an integer [R, R] grid of classes", f"shape {list(arr.shape)} dtype {arr.dtype}")
        return arr

    def eval(self) -> dict[str, Any]:
        """Contents of ``eval.json`` (``{"epochs": {...}, "summary": {...}}``), empty if absent."""
        if not self._safe(self.eval_path).exists():
            return {"epochs": {}}
        obj = load_json(self._safe(self.eval_path), '{"epochs": {"E": {metric: value}}}')
        if not isinstance(obj, dict):
            raise DynamicsError(self.eval_path, "a JSON object", type(obj).__name__)
        obj.setdefault("epochs", {})
        return obj

    def epoch_metrics(self, epoch: int) -> dict[str, Any]:
        """One epoch's metrics from ``eval.json`` (empty dict if not evaluated)."""
        return dict(self.eval()["epochs"].get(str(epoch), {}))

    def params(self) -> dict[str, Any] | None:
        """Contents of ``params.json`` or None."""
        p = self._safe(self.params_path)
        return load_json(p, "the method's parameters") if p.exists() else None

    def planned_epochs(self) -> list[int] | None:
        """The epochs the run that wrote these results set out to do (``params.json``), or None."""
        try:
            ep = (self.params() or {}).get("epochs")
        except DynamicsError:
            return None
        return [int(e) for e in ep] if isinstance(ep, list) and all(isinstance(e, int) for e in ep) else None

    def is_complete(self) -> bool:
        """True when every planned epoch (``params.json``) has its projection on disk."""
        done, planned = set(self.epochs()), self.planned_epochs()
        return bool(done) and planned is not None and set(planned) <= done

    # ---- writing (atomic) ------------------------------------------------
    def write_projection(self, epoch: int, xy: np.ndarray) -> None:
        """Write float32 ``[N, 2]`` positions for ``epoch``."""
        atomic.save_npy(self.projection_path(epoch), np.asarray(xy, dtype=np.float32))

    def write_scale(self, epoch: int, scale: np.ndarray) -> None:
        """Write ``[x_min, y_min, x_max, y_max]`` (float32) for ``epoch``."""
        atomic.save_npy(self.scale_path(epoch), np.asarray(scale, dtype=np.float32).reshape(4))

    def write_background(self, epoch: int, rgb: np.ndarray, classes: np.ndarray) -> None:
        """Write the territory image, uint8 ``[R, R, 3]``, and its class grid ``[R, R]``
        (stored as uint8 when ``C`` <= 256, else int32), row 0 at ``y_max``."""
        classes = np.asarray(classes)
        atomic.save_npy(self.classes_path(epoch), classes.astype(np.uint8 if classes.max(initial=0) < 256 else np.int32))
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

    def stage_new_run(self, params: dict[str, Any]) -> str | None:
        """Point this object at ``<METHOD>.new/`` (:mod:`ttvis.dynamics.history`) and write the
        new run's ``params.json`` there; the current results stay untouched until
        :meth:`promote`. Debris of an earlier new run stopped inside its first epoch is cleared.

        Args:
            params: the new ``params.json`` (must include ``"epochs"``, the planned epochs).

        Returns:
            A note on cleared debris, or None.

        Raises:
            OSError: the folder cannot be written.
        """
        from ttvis.dynamics import history

        note = history.recover(self.run_path, self.method)
        self.dir = history.staging_dir(self.run_path, self.method)
        self.write_params(params)
        return note

    def promote(self) -> Path | None:
        """Once the staged run's first epoch is complete: move the current results into
        ``<METHOD>.history/`` and the staged ones into their place, and point this object at
        them again. Returns where the earlier results went, or None."""
        from ttvis.dynamics import history

        moved = history.promote(self.run_path, self.method)
        self.dir = history.current_dir(self.run_path, self.method)
        return moved
