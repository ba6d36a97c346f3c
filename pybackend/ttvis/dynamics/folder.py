"""The one in-memory view of a recorded training run, whatever its on-disk layout.

:class:`TrainingDynamics` reads a run through a layout adapter
(:mod:`ttvis.dynamics.layouts`: canonical, per-epoch or original) and validates every
array it hands out; downstream code never sees the layout. The canonical layout
(DESIGN.md, ``E`` = 1-based epoch, ``N`` samples, ``D`` feature dims, ``C`` classes)::

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

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.files import check_finite, load_array, peek_shape, read_png
from ttvis.dynamics.layouts import Layout, open_layout


class TrainingDynamics:
    """In-memory view of one recorded training run, read through its layout adapter.

    Arrays are read lazily and validated. A float32 epoch kept in one file is memory-mapped
    (``np.load(mmap_mode="r")``), never read whole; a few recent epochs stay open (at most
    :attr:`CACHE_BYTES` of them), so no stage holds more than a few epochs.

    Args:
        path: the run folder, in any layout :func:`~ttvis.dynamics.layouts.detect_layout` knows.
        roots: folders besides the run that its files may lie in (links are resolved, and a
            file outside the run and these is refused; the server passes its workspace folders).

    Attributes:
        path (Path): the content path (run folder).
        layout (str): ``"canonical"``, ``"per-epoch"`` or ``"original"``.
        source (Layout): the layout adapter (file locations).
        epochs (list[int]): epochs whose representations are on disk, ascending.
        recorded_epochs (list[int]): every recorded epoch, including checkpoint-only ones
            that ``ttvis preprocess`` can complete.
        n_samples (int): ``N``; dim (int): ``D``.
        labels (np.ndarray): int64 ``[N]`` ground-truth class (all -1 for a representation-only run).
        train_index, test_index (np.ndarray): int64 sample indices.
        classes (list[str]): class names, ``C`` of them.
        task (str): ``"classification"`` or ``"representation"``.

    Raises:
        DynamicsError: on open, if the folder holds no run in a supported layout, has no
            representations yet (the message says to run ``ttvis preprocess``), or its
            labels / index / info files are malformed; later, on reading a bad epoch.
    """

    # open epochs kept, in bytes of array data; memory-mapped pages once read count in the
    # process's resident memory while mapped, so keep few (re-mapping an epoch is cheap)
    CACHE_BYTES = 192 << 20

    def __init__(self, path: str | os.PathLike, roots: Sequence[str | os.PathLike] = ()):
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_dir():
            raise DynamicsError(self.path, "a training-dynamic folder", "no such folder")
        self.roots = [Path(r).expanduser().resolve() for r in roots]
        self.source: Layout = open_layout(self.path, self.roots)
        self.layout = self.source.name
        self.recorded_epochs = self.source.epochs()
        self.epochs = self.epochs_on_disk()
        if not self.epochs:
            first = self.recorded_epochs[0] if self.recorded_epochs else 1
            hint = "none"
            if any(self.source.checkpoint_path(e) for e in self.recorded_epochs):
                hint = f"none yet: run `ttvis preprocess {self.path}` to compute them from the checkpoints"
            raise DynamicsError(self.source.representation_parts(first)[0], "one or more E.npy representation files (float32 [N, D])"
                                if self.layout == "canonical" else "representation files (float32 [N, D]) for each epoch", hint)
        self.info: dict[str, Any] = self.source.info()
        self._cache: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
        self._part_sizes, self.dim = self._first_shapes()
        self.n_samples = int(sum(self._part_sizes))
        e0 = self.epochs[0]
        self.has_predictions = all(p.is_file() for p in self.source.prediction_parts(e0))
        recorded_labels = self.source.labels(self.n_samples)
        self.task = str(self.info.get("task", "classification" if self.has_predictions or recorded_labels is not None
                                      else "representation"))
        self.labels = self._read_labels(recorded_labels)
        self.classes = self._read_classes()
        self.train_index, self.test_index = self.source.split(self.n_samples)

    def epochs_on_disk(self) -> list[int]:
        """Epochs whose representation files exist now (``epochs`` as of opening; compare the
        two to see whether the run grew). A few ``stat`` calls per epoch, no reads."""
        return [e for e in self.source.epochs() if all(p.is_file() for p in self.source.representation_parts(e))]

    def _first_shapes(self) -> tuple[list[int], int]:
        """Rows of each representation part and ``D``, from the first epoch's ``.npy`` headers."""
        parts = self.source.representation_parts(self.epochs[0])
        expected = self.source.part_sizes()
        sizes, dim = [], None
        for k, p in enumerate(parts):
            shape = peek_shape(p, "float32 [N, D] representations")
            if len(shape) != 2:
                raise DynamicsError(p, "a 2-D array [N samples, D features]", f"shape {list(shape)}")
            if expected is not None and shape[0] != expected[k]:
                raise DynamicsError(p, f"{expected[k]} rows (one per indexed sample)", f"{shape[0]}")
            if dim is not None and shape[1] != dim:
                raise DynamicsError(p, f"{dim} columns (feature dims, as in {parts[0].name})", f"{shape[1]}")
            sizes.append(int(shape[0]))
            dim = int(shape[1])
        return sizes, int(dim or 0)

    # ---- metadata -------------------------------------------------------
    def _read_labels(self, arr: np.ndarray | None) -> np.ndarray:
        if arr is None:
            if self.task == "classification":
                raise DynamicsError(self.source.labels_path, f"int [N={self.n_samples}] labels (a classification run)", "no such file")
            return np.full(self.n_samples, -1, dtype=np.int64)
        return arr

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
                self.source.info_path,
                f'"classes": a list of at least {n_from_labels} names (labels go up to {n_from_labels - 1})',
                repr(classes)[:80],
            )
        return [str(c) for c in classes]

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
        while len(self._cache) > 2 and sum(a.nbytes for a in self._cache.values()) > self.CACHE_BYTES:
            self._cache.popitem(last=False)
        return arr

    def _load_parts(self, parts: list[Path], what: str, shape: str, cols: int | None, col_name: str) -> np.ndarray:
        """Load the float32 ``[N, cols]`` matrix stored in ``parts`` (rows concatenated), each
        part validated against the first epoch's row counts."""
        out = []
        for k, path in enumerate(parts):
            arr = load_array(path, f"float32 {shape} {what}", mmap=len(parts) == 1)
            rows = self._part_sizes[k] if k < len(self._part_sizes) else None
            if arr.ndim != 2:
                raise DynamicsError(path, f"a 2-D array {shape} of {what}", f"shape {list(arr.shape)}")
            if rows is not None and arr.shape[0] != rows:
                raise DynamicsError(path, f"{rows} rows (samples, as in epoch {self.epochs[0]})", f"{arr.shape[0]}")
            if cols is not None and arr.shape[1] != cols:
                raise DynamicsError(path, f"{cols} columns ({col_name})", f"{arr.shape[1]}")
            if not np.issubdtype(arr.dtype, np.number):
                raise DynamicsError(path, f"numeric {what}", f"dtype {arr.dtype}")
            if arr.dtype != np.float32 or not arr.flags.c_contiguous:
                arr = np.ascontiguousarray(arr, dtype=np.float32)  # a copy; float32 files stay mapped
            check_finite(arr, path, what)
            out.append(arr)
        arr = out[0] if len(out) == 1 else np.concatenate(out)
        if arr.flags.writeable:
            arr.setflags(write=False)
        return arr

    def _check_epoch(self, epoch: int) -> None:
        if epoch not in self.epochs:
            part = self.source.representation_parts(epoch)[0]
            if epoch in self.recorded_epochs:
                raise DynamicsError(part, f"representations of epoch {epoch}",
                                    f"no such file: run `ttvis preprocess {self.path}` to compute them from the checkpoint")
            raise DynamicsError(part, f"an epoch in {self.epochs[0]}..{self.epochs[-1]} ({len(self.epochs)} recorded)",
                                f"no epoch {epoch}")
        self.source.check_epoch_metadata(epoch)

    def representation(self, epoch: int) -> np.ndarray:
        """Penultimate-layer features of every sample at ``epoch``.

        Returns:
            float32 ``[N, D]``, read-only view shared with the cache.

        Raises:
            DynamicsError: unknown epoch, missing/corrupt file, wrong shape, NaN/inf.
        """
        self._check_epoch(epoch)
        parts = self.source.representation_parts(epoch)
        return self._cached("rep", epoch, lambda: self._load_parts(parts, "representations", "[N, D]", self.dim, "feature dims"))

    def prediction_files(self, epoch: int) -> list[Path]:
        """The files holding ``epoch``'s class scores (their rows concatenated)."""
        return self.source.prediction_parts(epoch)

    def prediction(self, epoch: int) -> np.ndarray | None:
        """Raw class scores of every sample at ``epoch``: float32 ``[N, C]``, or None when not recorded.

        Raises:
            DynamicsError: corrupt file, wrong shape, NaN/inf.
        """
        self._check_epoch(epoch)
        parts = self.source.prediction_parts(epoch)
        missing = [p for p in parts if not p.exists()]
        if missing:
            if getattr(self, "has_predictions", False):
                raise DynamicsError(missing[0], f"float32 [N, C] class scores for epoch {epoch} (other epochs have them)", "no such file")
            return None

        c = len(getattr(self, "classes", [])) or None
        return self._cached("pred", epoch, lambda: self._load_parts(parts, "class scores", "[N, C]", c, "classes"))

    def predicted_class(self, epoch: int) -> np.ndarray | None:
        """Argmax of :meth:`prediction`: int64 ``[N]``, or None without predictions."""
        p = self.prediction(epoch)
        return None if p is None else p.argmax(axis=1).astype(np.int64)

    def validate(self, epochs: list[int] | None = None, full: int = 1) -> None:
        """Check ``epochs`` (default all) before work starts, raising the first
        :class:`DynamicsError` found: every file's header (2-D, rows and columns, a numeric dtype,
        not truncated, metadata consistent), and the first ``full`` epochs' values too (NaN/inf).
        The others' values are checked as they are read.
        """
        from ttvis.dynamics.files import peek_header

        chosen = list(self.epochs if epochs is None else epochs)
        for i, e in enumerate(chosen):
            if i < full:
                self.representation(e)
                if self.has_predictions:
                    self.prediction(e)
                continue
            self._check_epoch(e)
            kinds = [("representations", self.source.representation_parts(e), self.dim, "feature dims")]
            if self.has_predictions:
                kinds.append(("class scores", self.source.prediction_parts(e), len(self.classes), "classes"))
            for what, parts, cols, col_name in kinds:
                for k, p in enumerate(parts):
                    shape, dtype = peek_header(p, f"float32 [N, D] {what}")
                    if len(shape) != 2:
                        raise DynamicsError(p, f"a 2-D array of {what}", f"shape {list(shape)}")
                    if shape[0] != self._part_sizes[k]:
                        raise DynamicsError(p, f"{self._part_sizes[k]} rows (samples, as in epoch {self.epochs[0]})", f"{shape[0]}")
                    if shape[1] != cols:
                        raise DynamicsError(p, f"{cols} columns ({col_name})", f"{shape[1]}")
                    if not np.issubdtype(dtype, np.number):
                        raise DynamicsError(p, f"numeric {what}", f"dtype {dtype}")

    # ---- per-sample extras ---------------------------------------------
    @property
    def has_sprites(self) -> bool:
        """True when sample 0 has a thumbnail."""
        return self.source.sprite_file(0) is not None

    @property
    def has_text(self) -> bool:
        """True when the run stores one text per sample."""
        return self._text_lines() is not None

    def sprite_png(self, index: int) -> bytes | None:
        """PNG bytes of sample ``index``'s thumbnail, or None when the run has none.

        Raises:
            DynamicsError: the thumbnail is a link out of the run, not a PNG, or over 1 MiB.
        """
        p = self.source.sprite_file(int(index))
        return read_png(p) if p is not None else None

    def text(self, index: int) -> str | None:
        """The text of sample ``index`` (text data), or None when absent."""
        lines = self._text_lines()
        return lines[index] if lines is not None and 0 <= index < len(lines) else None

    def _text_lines(self) -> list[str] | None:
        if not hasattr(self, "_text"):
            self._text = self.source.text_lines(self.n_samples)
        return self._text

    # ---- subject model ---------------------------------------------------
    def checkpoint_path(self, epoch: int) -> Path | None:
        """The subject model's state dict at ``epoch`` if recorded, else None."""
        return self.source.checkpoint_path(epoch)

    @property
    def model_source(self) -> Path | None:
        """The subject model's ``model.py`` if recorded, else None."""
        return self.source.model_source

    @property
    def model_spec(self) -> dict[str, Any] | None:
        """``{"class": name, "kwargs": {...}}`` naming the subject model class, or None."""
        return self.info.get("model")

    @property
    def model_spec_source(self) -> Path:
        """The file that names the model class (``dataset/info.json`` or ``config.json``)."""
        return self.source.model_spec_source

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
            "needsPreprocess": len(self.epochs) < len(self.recorded_epochs) or (
                self.task == "classification" and not self.has_predictions and self.model_source is not None),
        }
