"""The :class:`Layout` contract (where a layout keeps each part of a run) and the logic shared
by the layouts that keep all ``N`` rows of an epoch in one file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.files import inside, load_array, load_json


class Layout:
    """Where one layout keeps each part of a training run (abstract base).

    Every path it hands out for reading has its links resolved and must lie inside the
    run folder or one of ``roots`` (:func:`~ttvis.dynamics.files.inside`).

    Args:
        root: the run folder (resolved).
        roots: further folders that files may lie in (the server's workspace folders).

    Attributes:
        name (str): layout name (``"canonical"``, ``"per-epoch"``, ``"original"``).
    """

    name = "?"

    def __init__(self, root: Path, roots: Sequence[Path] = ()):
        self.root = root
        self.roots = [root, *(Path(r).resolve() for r in roots)]

    def file(self, path: Path) -> Path:
        """``path`` resolved and confined to the run (or ``roots``).

        Raises:
            DynamicsError: it resolves to a place outside them.
        """
        return inside(path, self.roots)

    # ---- epochs and per-epoch arrays ------------------------------------------
    def epochs(self) -> list[int]:
        """Every recorded epoch (with representations or a checkpoint), ascending."""
        raise NotImplementedError

    def representation_parts(self, epoch: int) -> list[Path]:
        """Files whose rows, concatenated, are the float32 ``[N, D]`` representations."""
        raise NotImplementedError

    def prediction_parts(self, epoch: int) -> list[Path]:
        """Files whose rows, concatenated, are the float32 ``[N, C]`` class scores."""
        raise NotImplementedError

    def part_sizes(self) -> list[int] | None:
        """Rows of each part as the metadata says (None: learn them from the first epoch)."""
        return None

    def check_epoch_metadata(self, epoch: int) -> None:
        """Raise :class:`DynamicsError` if ``epoch``'s own metadata disagrees with the run's."""

    # ---- samples --------------------------------------------------------------
    def labels(self, n: int) -> np.ndarray | None:
        """int64 ``[n]`` class indices, or None when the run has no labels.

        Raises:
            DynamicsError: wrong length, non-integer or negative labels.
        """
        raise NotImplementedError

    @property
    def labels_path(self) -> Path:
        """Where the labels are (or would be) stored, for error messages."""
        raise NotImplementedError

    def split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """int64 train and test sample indices in ``[0, n)``."""
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        """``{"classes"?, "task"?, "model"?: {"class", "kwargs"}}`` from the layout's metadata."""
        return {}

    @property
    def info_path(self) -> Path:
        """The file the class names come from (for error messages)."""
        raise NotImplementedError

    def sprite_file(self, index: int) -> Path | None:
        """The thumbnail PNG of sample ``index``, or None."""
        return None

    def text_lines(self, n: int) -> list[str] | None:
        """One text per sample, or None when the run has no text."""
        return None

    # ---- subject model ----------------------------------------------------------
    def checkpoint_file(self, epoch: int) -> Path:
        """Where this layout keeps the subject model's state dict at ``epoch``."""
        raise NotImplementedError

    def checkpoint_path(self, epoch: int) -> Path | None:
        """The subject model's state dict at ``epoch``, or None when absent."""
        p = self.file(self.checkpoint_file(epoch))
        return p if p.is_file() else None

    @property
    def model_source_path(self) -> Path:
        """Where this layout keeps the ``model.py`` defining the subject model."""
        raise NotImplementedError

    @property
    def model_source(self) -> Path | None:
        """The ``model.py`` defining the subject model, or None when absent."""
        p = self.file(self.model_source_path)
        return p if p.is_file() else None

    @property
    def model_spec_source(self) -> Path:
        """The file that names the model class (for error messages)."""
        return self.info_path

    #: where the model inputs are stored (for messages); None: the layout does not store them
    inputs_path: Path | None = None

    def inputs(self) -> Any | None:
        """The model inputs of every sample in sample order (a torch tensor ``[N, ...]``), or
        None when the layout does not store them."""
        return None

    def vis_config(self, method: str) -> dict[str, Any] | None:
        """The block of settings the run stores for visualization method ``method`` (an
        original-layout ``config.json``'s ``{"<METHOD>": {...}}`` entry), or None. The method
        reads its own parameters from it (:meth:`~ttvis.projection.base.VisMethod.params_from_config`)."""
        return None


def _model_spec(spec: Any) -> dict[str, Any] | None:
    """Normalise ``info["model"]``: a class name or ``{"class", "kwargs"}``."""
    if isinstance(spec, str) and spec:
        return {"class": spec, "kwargs": {}}
    if isinstance(spec, dict) and spec.get("class"):
        return {"class": str(spec["class"]), "kwargs": dict(spec.get("kwargs") or {})}
    return None


def _check_labels(arr: np.ndarray, n: int, path: Path) -> np.ndarray:
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DynamicsError(path, f"int labels of shape [{n}] (one per sample)", f"shape {list(arr.shape)}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise DynamicsError(path, "integer class indices", f"dtype {arr.dtype}")
    if arr.min(initial=0) < 0:
        raise DynamicsError(path, "class indices >= 0", f"minimum {arr.min()}")
    return arr.astype(np.int64)


def _indices(values: Any, limit: int, path: Path, what: str) -> np.ndarray:
    """int64 indices in ``[0, limit)`` from a JSON list, or a DynamicsError naming ``path``."""
    try:
        idx = np.asarray(values, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError):
        raise DynamicsError(path, f"{what}: a list of integer sample indices", repr(values)[:80]) from None
    if idx.size and (idx.min() < 0 or idx.max() >= limit):
        bad = int(idx.max() if idx.max() >= limit else idx.min())
        raise DynamicsError(path, f"{what} indices in [0, {limit})", f"index {bad}")
    return idx


class _OneFilePerEpoch(Layout):
    """Shared logic of the layouts that keep all ``N`` rows of an epoch in one file."""

    rep_dir_hint = ""

    def _rep(self, epoch: int) -> Path:
        raise NotImplementedError

    def _pred(self, epoch: int) -> Path:
        raise NotImplementedError

    def _index_path(self) -> Path:
        raise NotImplementedError

    def representation_parts(self, epoch: int) -> list[Path]:
        return [self.file(self._rep(epoch))]

    def prediction_parts(self, epoch: int) -> list[Path]:
        return [self.file(self._pred(epoch))]

    def labels(self, n: int) -> np.ndarray | None:
        path = self.file(self.labels_path)
        if not path.exists():
            return None
        return _check_labels(load_array(path, f"int [N={n}] labels"), n, path)

    def split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        path = self.file(self._index_path())
        if not path.exists():
            return np.arange(n, dtype=np.int64), np.zeros(0, dtype=np.int64)
        obj = load_json(path, '{"train": [indices], "test": [indices]}')
        if not isinstance(obj, dict) or "train" not in obj:
            raise DynamicsError(path, '{"train": [indices], "test": [indices]}', repr(obj)[:80])
        return _indices(obj.get("train", []), n, path, '"train"'), _indices(obj.get("test", []), n, path, '"test"')

    @property
    def info_path(self) -> Path:
        return self.root / "dataset" / "info.json"

    #: the folder under ``dataset/`` holding ``<i>.png`` thumbnails
    sprite_folder = "sprites"

    def sprite_file(self, index: int) -> Path | None:
        p = self.file(self.root / "dataset" / self.sprite_folder / f"{int(index)}.png")
        return p if p.is_file() else None

    def text_lines(self, n: int) -> list[str] | None:
        p = self.file(self.root / "dataset" / "text.txt")
        return p.read_text(encoding="utf-8").splitlines() if p.is_file() else None

    def info(self) -> dict[str, Any]:
        path = self.file(self.info_path)
        if not path.exists():
            return {}
        info = load_json(path, '{"classes": [...], "task": ...}')
        if not isinstance(info, dict):
            raise DynamicsError(path, "a JSON object", type(info).__name__)
        info = dict(info)
        spec = _model_spec(info.get("model"))
        if spec is None:
            info.pop("model", None)
        else:
            info["model"] = spec
        return info
