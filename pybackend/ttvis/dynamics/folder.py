"""Reader for the canonical training-dynamic folder (DESIGN.md, "Training-dynamic folder").

Layout (``E`` = 1-based epoch, ``N`` samples, ``D`` feature dims, ``C`` classes)::

    <content_path>/
      model/E.pth                      subject model state_dict (optional)
      model.py                         subject model class (optional)
      dataset/representation/E.npy     float32 [N, D]
      dataset/prediction/E.npy         float32 [N, C] (absent for non-classification)
      dataset/label/labels.npy         int64 [N]
      dataset/sprites/<i>.png | dataset/text.txt
      dataset/info.json                {"classes": [...], "task": ...}
      index.json                       {"train": [...], "test": [...]}

Every read is validated; a bad file raises one :class:`DynamicsError` naming it.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from ttvis.dynamics.errors import DynamicsError

_EPOCH_FILE = re.compile(r"^(\d+)\.npy$")


def load_array(path: Path, what: str) -> np.ndarray:
    """Load one ``.npy`` file without pickles.

    Args:
        path: the file.
        what: what the file should hold, for the error message ("float32 [N, D] representations").

    Raises:
        DynamicsError: missing, unreadable or corrupt file.
    """
    if not path.is_file():
        raise DynamicsError(path, f"a .npy file of {what}", "no such file")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DynamicsError(path, f"a readable .npy file of {what}", f"a corrupt file ({exc})") from None


def peek_shape(path: Path, what: str) -> tuple[int, ...]:
    """The shape stored in a ``.npy`` header, without reading the data.

    Raises:
        DynamicsError: missing or corrupt file.
    """
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, _ = read(f)
        return tuple(shape)
    except FileNotFoundError:
        raise DynamicsError(path, f"a .npy file of {what}", "no such file") from None
    except (ValueError, OSError, EOFError) as exc:
        raise DynamicsError(path, f"a readable .npy file of {what}", f"a corrupt file ({exc})") from None


def load_json(path: Path, what: str) -> Any:
    """Load a JSON file, raising :class:`DynamicsError` naming it on any problem."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DynamicsError(path, what, "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DynamicsError(path, f"valid JSON with {what}", f"unreadable ({exc})") from None


def check_finite(arr: np.ndarray, path: Path, what: str) -> None:
    """Raise :class:`DynamicsError` if ``arr`` holds NaN or inf."""
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=tuple(range(1, arr.ndim))).sum()) if arr.ndim > 1 else int((~np.isfinite(arr)).sum())
        raise DynamicsError(path, f"finite {what}", f"NaN or inf in {bad} row(s)")


def list_epochs(folder: Path) -> list[int]:
    """The sorted epoch numbers ``E`` of the ``E.npy`` files in ``folder`` (empty if none)."""
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for name in os.listdir(folder) if (m := _EPOCH_FILE.match(name)))


class TrainingDynamics:
    """In-memory view of one recorded training run (the canonical layout).

    Arrays are read lazily, validated, and kept in a small cache.

    Attributes:
        path (Path): the content path (run folder).
        layout (str): ``"canonical"``.
        epochs (list[int]): epochs with a representation file, ascending.
        n_samples (int): ``N``.
        labels (np.ndarray): int64 ``[N]`` ground-truth class (all -1 for a representation-only run).
        train_index, test_index (np.ndarray): int64 sample indices.
        classes (list[str]): class names, ``C`` of them.
        task (str): ``"classification"`` or ``"representation"``.

    Raises:
        DynamicsError: on open, if the folder is not a training-dynamic folder or its
            labels / index / info files are malformed; later, on reading a bad epoch.
    """

    layout = "canonical"
    _CACHE_EPOCHS = 6

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_dir():
            raise DynamicsError(self.path, "a training-dynamic folder", "no such folder")
        self.dataset_dir = self.path / "dataset"
        rep_dir = self.dataset_dir / "representation"
        self.epochs = list_epochs(rep_dir)
        if not self.epochs:
            raise DynamicsError(rep_dir, "one or more E.npy representation files (float32 [N, D])", "none")
        self.info: dict[str, Any] = {}
        info_path = self.dataset_dir / "info.json"
        if info_path.exists():
            self.info = load_json(info_path, '{"classes": [...], "task": ...}')
            if not isinstance(self.info, dict):
                raise DynamicsError(info_path, "a JSON object", type(self.info).__name__)
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        shape = peek_shape(rep_dir / f"{self.epochs[0]}.npy", "float32 [N, D] representations")
        if len(shape) != 2:
            raise DynamicsError(rep_dir / f"{self.epochs[0]}.npy", "a 2-D array [N samples, D features]", f"shape {list(shape)}")
        self.n_samples, self.dim = int(shape[0]), int(shape[1])
        self.has_predictions = (self.dataset_dir / "prediction").is_dir() and bool(
            list_epochs(self.dataset_dir / "prediction")
        )
        self.task = str(self.info.get("task", "classification" if self.has_predictions else "representation"))
        self.labels = self._read_labels()
        self.classes = self._read_classes()
        self.train_index, self.test_index = self._read_index()

    # ---- metadata -------------------------------------------------------
    def _read_labels(self) -> np.ndarray:
        path = self.dataset_dir / "label" / "labels.npy"
        if not path.exists() and self.task == "representation":
            return np.full(self.n_samples, -1, dtype=np.int64)
        arr = load_array(path, f"int [N={self.n_samples}] labels")
        if arr.ndim != 1 or arr.shape[0] != self.n_samples:
            raise DynamicsError(path, f"int labels of shape [{self.n_samples}] (one per sample)", f"shape {list(arr.shape)}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise DynamicsError(path, "integer class indices", f"dtype {arr.dtype}")
        if arr.min(initial=0) < 0:
            raise DynamicsError(path, "class indices >= 0", f"minimum {arr.min()}")
        return arr.astype(np.int64)

    def _read_classes(self) -> list[str]:
        classes = self.info.get("classes")
        n_from_labels = int(self.labels.max(initial=-1)) + 1
        if classes is None:
            n = n_from_labels
            if self.has_predictions:
                n = max(n, int(self.prediction(self.epochs[0]).shape[1]))
            return [str(i) for i in range(n)]
        if not isinstance(classes, list) or len(classes) < n_from_labels:
            raise DynamicsError(
                self.dataset_dir / "info.json",
                f'"classes": a list of at least {n_from_labels} names (labels go up to {n_from_labels - 1})',
                repr(classes)[:80],
            )
        return [str(c) for c in classes]

    def _read_index(self) -> tuple[np.ndarray, np.ndarray]:
        path = self.path / "index.json"
        if not path.exists():
            return np.arange(self.n_samples, dtype=np.int64), np.zeros(0, dtype=np.int64)
        obj = load_json(path, '{"train": [indices], "test": [indices]}')
        if not isinstance(obj, dict) or "train" not in obj:
            raise DynamicsError(path, '{"train": [indices], "test": [indices]}', repr(obj)[:80])
        out = []
        for key in ("train", "test"):
            try:
                idx = np.asarray(obj.get(key, []), dtype=np.int64).reshape(-1)
            except (TypeError, ValueError):
                raise DynamicsError(path, f'"{key}": a list of integer sample indices', repr(obj.get(key))[:80]) from None
            if idx.size and (idx.min() < 0 or idx.max() >= self.n_samples):
                raise DynamicsError(path, f'"{key}" indices in [0, {self.n_samples})', f"index {int(idx.max() if idx.max() >= self.n_samples else idx.min())}")
            out.append(idx)
        return out[0], out[1]

    @property
    def n_classes(self) -> int:
        """``C``, the number of classes."""
        return len(self.classes)

    @property
    def name(self) -> str:
        """A display name: the folder's name."""
        return self.path.name

    # ---- per-epoch arrays ----------------------------------------------
    def _cached(self, kind: str, epoch: int, loader) -> np.ndarray:
        key = (kind, epoch)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        arr = loader()
        self._cache[key] = arr
        while len(self._cache) > 2 * self._CACHE_EPOCHS:
            self._cache.popitem(last=False)
        return arr

    def _load_matrix(self, path: Path, what: str, shape: str, cols: int | None, col_name: str) -> np.ndarray:
        """Load a float32 ``[N, cols]`` per-epoch matrix, validated against the first epoch."""
        arr = load_array(path, f"float32 {shape} {what}")
        n = getattr(self, "n_samples", None) or (arr.shape[0] if arr.ndim else 0)
        if arr.ndim != 2:
            raise DynamicsError(path, f"a 2-D array {shape} of {what}", f"shape {list(arr.shape)}")
        if arr.shape[0] != n:
            raise DynamicsError(path, f"{n} rows (samples, as in epoch {self.epochs[0]})", f"{arr.shape[0]}")
        if cols is not None and arr.shape[1] != cols:
            raise DynamicsError(path, f"{cols} columns ({col_name})", f"{arr.shape[1]}")
        if not np.issubdtype(arr.dtype, np.number):
            raise DynamicsError(path, f"numeric {what}", f"dtype {arr.dtype}")
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        check_finite(arr, path, what)
        arr.setflags(write=False)
        return arr

    def _check_epoch(self, epoch: int) -> None:
        if epoch not in self.epochs:
            raise DynamicsError(
                self.dataset_dir / "representation" / f"{epoch}.npy",
                f"an epoch in {self.epochs[0]}..{self.epochs[-1]} ({len(self.epochs)} recorded)",
                f"no epoch {epoch}",
            )

    def representation(self, epoch: int) -> np.ndarray:
        """Penultimate-layer features of every sample at ``epoch``.

        Returns:
            float32 ``[N, D]``, read-only view shared with the cache.

        Raises:
            DynamicsError: unknown epoch, missing/corrupt file, wrong shape, NaN/inf.
        """
        self._check_epoch(epoch)
        path = self.dataset_dir / "representation" / f"{epoch}.npy"

        d = getattr(self, "dim", None)
        return self._cached("rep", epoch, lambda: self._load_matrix(path, "representations", "[N, D]", d, "feature dims"))

    def prediction(self, epoch: int) -> np.ndarray | None:
        """Raw class scores of every sample at ``epoch``: float32 ``[N, C]``, or None when not recorded.

        Raises:
            DynamicsError: corrupt file, wrong shape, NaN/inf.
        """
        self._check_epoch(epoch)
        path = self.dataset_dir / "prediction" / f"{epoch}.npy"
        if not path.exists():
            if getattr(self, "has_predictions", False):
                raise DynamicsError(path, f"float32 [N, C] class scores for epoch {epoch} (other epochs have them)", "no such file")
            return None

        c = len(getattr(self, "classes", [])) or None
        return self._cached("pred", epoch, lambda: self._load_matrix(path, "class scores", "[N, C]", c, "classes"))

    def predicted_class(self, epoch: int) -> np.ndarray | None:
        """Argmax of :meth:`prediction`: int64 ``[N]``, or None without predictions."""
        p = self.prediction(epoch)
        return None if p is None else p.argmax(axis=1).astype(np.int64)

    def validate(self) -> None:
        """Read every epoch once, raising the first :class:`DynamicsError` found."""
        for e in self.epochs:
            self.representation(e)
            if self.has_predictions:
                self.prediction(e)

    # ---- per-sample extras ---------------------------------------------
    def sprite_png(self, index: int) -> bytes | None:
        """PNG bytes of sample ``index``'s thumbnail, or None when the run has none."""
        p = self.dataset_dir / "sprites" / f"{int(index)}.png"
        return p.read_bytes() if p.is_file() else None

    def text(self, index: int) -> str | None:
        """Line ``index`` of ``dataset/text.txt`` (text data), or None when absent."""
        lines = self._text_lines()
        return lines[index] if lines is not None and 0 <= index < len(lines) else None

    def _text_lines(self) -> list[str] | None:
        if not hasattr(self, "_text"):
            p = self.dataset_dir / "text.txt"
            self._text = p.read_text(encoding="utf-8").splitlines() if p.is_file() else None
        return self._text

    # ---- subject model ---------------------------------------------------
    def checkpoint_path(self, epoch: int) -> Path | None:
        """``model/E.pth`` if recorded, else None."""
        p = self.path / "model" / f"{epoch}.pth"
        return p if p.is_file() else None

    @property
    def model_source(self) -> Path | None:
        """``model.py`` if recorded, else None."""
        p = self.path / "model.py"
        return p if p.is_file() else None

    def split_mask(self) -> np.ndarray:
        """bool ``[N]``: True for training samples, False for test (and unassigned) samples."""
        m = np.zeros(self.n_samples, dtype=bool)
        m[self.train_index] = True
        return m

    def summary(self) -> dict[str, Any]:
        """JSON-ready description: name, path, layout, epochs, samples, classes, predictions."""
        return {
            "name": self.name,
            "path": str(self.path),
            "layout": self.layout,
            "epochs": list(self.epochs),
            "samples": self.n_samples,
            "dims": self.dim,
            "classes": list(self.classes),
            "task": self.task,
            "hasPredictions": self.has_predictions,
            "train": int(self.train_index.size),
            "test": int(self.test_index.size),
        }
