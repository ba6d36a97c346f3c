"""Adapters from each supported on-disk layout to one description of a training run.

A :class:`Layout` says *where* a layout keeps each thing (per-epoch representation and
prediction files, labels, train/test split, class names, sprites or text, checkpoints,
the model's source, the model inputs) and reads the layout-specific metadata.
:class:`~ttvis.dynamics.folder.TrainingDynamics` turns that into the one validated
in-memory view; nothing downstream knows which layout a run came from.

Supported layouts (``N`` samples, ``E`` an epoch number):

``canonical`` (DESIGN.md)::

    dataset/representation/E.npy, dataset/prediction/E.npy, dataset/label/labels.npy,
    dataset/info.json, dataset/sprites/<i>.png | dataset/text.txt, index.json,
    model/E.pth, model.py

``per-epoch`` (the later time-travelling-visualizer layout)::

    epochs/epoch_E/embeddings.npy, epochs/epoch_E/predictions.npy, epochs/epoch_E/model.pth,
    dataset/labels.npy, dataset/index.json {train, test}, dataset/info.json {classes, model},
    dataset/image/<i>.png | dataset/text.txt, scripts/model.py

``original`` (DeepVisualInsight's "training_dynamic" layout; also its non-classification
variant, which has representations and text instead of labelled data)::

    config.json                         {"<METHOD>": {CLASSES, EPOCH_START/END/PERIOD, TRAINING, VISUALIZATION}}
    Model/model.py                      the class named by TRAINING.NET, with feature/prediction
    Model/Epoch_E/subject_model.pth     state dict
    Model/Epoch_E/index.json            training indices (into Training_data)
    Model/Epoch_E/test_index.json       optional test indices (into Testing_data)
    Model/Epoch_E/train_data.npy        optional representations of the indexed training samples
    Model/Epoch_E/test_data.npy         optional representations of the indexed test samples
    Model/Epoch_E/labels/<i>.txt        optional text per sample (non-classification variant)
    Model/Epoch_E/train_pred.npy, test_pred.npy   predictions written by ``ttvis preprocess``
    Training_data/training_dataset_data.pth, training_dataset_label.pth
    Testing_data/testing_dataset_data.pth, testing_dataset_label.pth
    sprites/<i>.png

In the ``original`` layout sample ``i`` counts the indexed training samples first (in
``index.json`` order), then the indexed test samples.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.files import inside, list_epochs, load_array, load_json, load_tensor, peek_shape

#: DeepVisualInsight ``config.json`` VISUALIZATION keys -> DVI parameter names.
CONFIG_TO_DVI = {
    "N_NEIGHBORS": "n_neighbors",
    "LAMBDA1": "lambda1",
    "LAMBDA2": "lambda2",
    "MAX_EPOCH": "max_epochs",
    "PATIENT": "patience",
    "RESOLUTION": "resolution",
    "BATCH_SIZE": "batch_size",
}
#: keys of the original config with no counterpart, and why (reported, never silently dropped).
CONFIG_IGNORED = {
    "S_N_EPOCHS": "the original repeated each edge up to S_N_EPOCHS times per pass; ttvis samples edges by weight (max_epochs/first_epochs bound the passes)",
    "B_N_EPOCHS": "the original's edge filter with B_N_EPOCHS dropped every boundary edge; ttvis keeps them all",
    "L_BOUND": "ttvis bisects the whole mixup range; its tolerance is boundary_tolerance",
}


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

    def vis_params(self, method: str) -> tuple[dict[str, Any], list[str]]:
        """Visualization parameters stored with the run for ``method`` and notes about keys
        that were not used."""
        return {}, []


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


class OriginalLayout(Layout):
    """DeepVisualInsight's ``Model/Epoch_E`` layout with ``config.json`` (and its
    non-classification variant: representations and per-sample text, no labelled data)."""

    name = "original"

    def __init__(self, root: Path, roots: Sequence[Path] = ()):
        super().__init__(root, roots)
        self.config_path = self.file(root / "config.json")
        self.config: dict[str, Any] = {}
        self.config_key: str | None = None
        if self.config_path.exists():
            conf = load_json(self.config_path, '{"<METHOD>": {"CLASSES": [...], "EPOCH_START": ..., ...}}')
            if not isinstance(conf, dict):
                raise DynamicsError(self.config_path, '{"<METHOD>": {...}} (one entry per vis method)', type(conf).__name__)
            entries = {k: v for k, v in conf.items() if isinstance(v, dict)}
            if "EPOCH_START" in conf or "CLASSES" in conf:
                entries = {"": conf}  # an un-nested config
            if entries:
                self.config_key = "DVI" if "DVI" in entries else next(iter(entries))
                self.config = entries[self.config_key]
        self.epoch_name = str(self.config.get("EPOCH_NAME", "Epoch"))
        self._split: tuple[np.ndarray, np.ndarray] | None = None
        self._totals: dict[str, int | None] = {}
        self._checked: set[int] = set()

    # ---- epochs -----------------------------------------------------------------
    def _dir(self, epoch: int) -> Path:
        return self.root / "Model" / f"{self.epoch_name}_{epoch}"

    def epochs(self) -> list[int]:
        c = self.config
        if all(k in c for k in ("EPOCH_START", "EPOCH_END")):
            try:
                s, e, p = int(c["EPOCH_START"]), int(c["EPOCH_END"]), int(c.get("EPOCH_PERIOD", 1) or 1)
            except (TypeError, ValueError):
                raise DynamicsError(self.config_path, "integer EPOCH_START, EPOCH_END, EPOCH_PERIOD",
                                    repr({k: c.get(k) for k in ("EPOCH_START", "EPOCH_END", "EPOCH_PERIOD")})) from None
            if p < 1 or e < s:
                raise DynamicsError(self.config_path, "EPOCH_START <= EPOCH_END and EPOCH_PERIOD >= 1", f"{s}..{e} step {p}")
            return list(range(s, e + 1, p))
        pat = re.compile(rf"^{re.escape(self.epoch_name)}_(\d+)$")
        d = self.root / "Model"
        return sorted(int(m.group(1)) for name in os.listdir(d) if (m := pat.match(name)) and (d / name).is_dir())

    def representation_parts(self, epoch: int) -> list[Path]:
        d = self._dir(epoch)
        return [self.file(p) for p in [d / "train_data.npy"] + ([d / "test_data.npy"] if self._sizes()[1] else [])]

    def prediction_parts(self, epoch: int) -> list[Path]:
        d = self._dir(epoch)
        return [self.file(p) for p in [d / "train_pred.npy"] + ([d / "test_pred.npy"] if self._sizes()[1] else [])]

    # ---- split ---------------------------------------------------------------------
    def _first_dir(self) -> Path:
        eps = self.epochs()
        if not eps:
            raise DynamicsError(self.root / "Model", f"{self.epoch_name}_E folders (one per recorded epoch)", "none")
        return self._dir(eps[0])

    def _total(self, folder: str, stem: str, key: str) -> int | None:
        """Samples in ``<folder>/<stem>_label.pth`` (else config.json TRAINING[key]), cached."""
        if key not in self._totals:
            p = self.file(self.root / folder / f"{stem}_label.pth")
            n = (self.config.get("TRAINING") or {}).get(key)
            self._totals[key] = (int(load_tensor(p, "int class labels").shape[0]) if p.is_file()
                                 else int(n) if isinstance(n, int) else None)
        return self._totals[key]

    def _train_total(self) -> int | None:
        return self._total("Training_data", "training_dataset", "train_num")

    def _test_total(self) -> int | None:
        return self._total("Testing_data", "testing_dataset", "test_num")

    def _read_split(self, d: Path) -> tuple[np.ndarray, np.ndarray]:
        """(training indices into Training_data, test indices into Testing_data) of one epoch folder."""
        out = []
        for name, total_fn, data_file in (("index.json", self._train_total, "train_data.npy"),
                                          ("test_index.json", self._test_total, "test_data.npy")):
            path = self.file(d / name)
            total = total_fn()
            if path.exists():
                obj = load_json(path, "a list of sample indices")
                if isinstance(obj, dict):  # tolerate {"train": [...]} / {"test": [...]}
                    obj = obj.get("train" if name == "index.json" else "test", obj)
                out.append(_indices(obj, total if total is not None else np.iinfo(np.int64).max, path, name))
            elif total is not None:
                out.append(np.arange(total, dtype=np.int64))
            elif (d / data_file).is_file():
                out.append(np.arange(peek_shape(self.file(d / data_file), "representations")[0], dtype=np.int64))
            elif name == "index.json":
                raise DynamicsError(path, "the training sample indices (a JSON list)", "no such file, and no Training_data or config.json train_num to count them")
            else:
                out.append(np.zeros(0, np.int64))
        return out[0], out[1]

    def _index_pair(self) -> tuple[np.ndarray, np.ndarray]:
        if self._split is None:
            self._split = self._read_split(self._first_dir())
        return self._split

    def _sizes(self) -> tuple[int, int]:
        tr, te = self._index_pair()
        return int(tr.size), int(te.size)

    def part_sizes(self) -> list[int] | None:
        ntr, nte = self._sizes()
        return [ntr] + ([nte] if nte else [])

    def check_epoch_metadata(self, epoch: int) -> None:
        if epoch in self._checked:
            return
        d = self._dir(epoch)
        tr0, te0 = self._index_pair()
        tr, te = self._read_split(d)
        for name, a, b in (("index.json", tr0, tr), ("test_index.json", te0, te)):
            if a.size != b.size:
                raise DynamicsError(d / name, f"{a.size} indices, as in {self._first_dir().name} (every epoch must hold the same N samples)", f"{b.size}")
            if not np.array_equal(a, b):
                raise DynamicsError(d / name, f"the same indices as {self._first_dir().name}/{name} (every epoch must hold the same samples)", "different indices")
        self._checked.add(epoch)

    def split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        ntr, nte = self._sizes()
        return np.arange(ntr, dtype=np.int64), np.arange(ntr, ntr + nte, dtype=np.int64)

    # ---- samples -------------------------------------------------------------------
    @property
    def labels_path(self) -> Path:
        return self.root / "Training_data" / "training_dataset_label.pth"

    def _indexed_rows(self, kind: str, what: str) -> list[np.ndarray] | None:
        """The indexed rows of ``Training_data/training_dataset_<kind>.pth`` then
        ``Testing_data/testing_dataset_<kind>.pth`` (None when a needed file is absent)."""
        parts = []
        for path, idx in ((self.root / "Training_data" / f"training_dataset_{kind}.pth", self._index_pair()[0]),
                          (self.root / "Testing_data" / f"testing_dataset_{kind}.pth", self._index_pair()[1])):
            if not idx.size:
                continue
            path = self.file(path)
            if not path.is_file():
                return None
            arr = load_tensor(path, what)
            if arr.ndim < 1 or idx.max() >= arr.shape[0] or (kind == "label" and (arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer))):
                raise DynamicsError(path, f"{what}, at least {int(idx.max()) + 1} of them (the index files point that far)",
                                    f"shape {list(arr.shape)} dtype {arr.dtype}")
            parts.append(np.ascontiguousarray(arr[idx]))
        return parts

    def labels(self, n: int) -> np.ndarray | None:
        parts = self._indexed_rows("label", "a 1-D integer tensor of class labels")
        return _check_labels(np.concatenate(parts), n, self.labels_path) if parts else None

    @property
    def info_path(self) -> Path:
        return self.config_path

    @property
    def model_spec_source(self) -> Path:
        return self.config_path

    def info(self) -> dict[str, Any]:
        c = self.config
        info: dict[str, Any] = {}
        if isinstance(c.get("CLASSES"), list):
            info["classes"] = [str(v) for v in c["CLASSES"]]
        task = c.get("TASK_TYPE")
        if task:
            info["task"] = "classification" if str(task).lower().startswith("class") else "representation"
        net = (c.get("TRAINING") or {}).get("NET")
        if isinstance(net, str) and net:
            info["model"] = {"class": net, "kwargs": {}}
        return info

    def sprite_file(self, index: int) -> Path | None:
        p = self.file(self.root / "sprites" / f"{int(index)}.png")
        return p if p.is_file() else None

    def text_lines(self, n: int) -> list[str] | None:
        for e in self.epochs():
            d = self.file(self._dir(e) / "labels")
            if not d.is_dir():
                continue
            one = self.file(d / "labels.txt")
            if one.is_file():
                return one.read_text(encoding="utf-8").splitlines()
            files = [self.file(d / f"{i}.txt") for i in range(n)]
            return [f.read_text(encoding="utf-8").strip() if f.is_file() else "" for f in files]
        return None

    # ---- subject model ----------------------------------------------------------------
    @property
    def inputs_path(self) -> Path:  # type: ignore[override]
        return self.root / "Training_data" / "training_dataset_data.pth"

    def checkpoint_file(self, epoch: int) -> Path:
        return self._dir(epoch) / "subject_model.pth"

    @property
    def model_source_path(self) -> Path:
        return self.root / "Model" / "model.py"

    def inputs(self) -> Any | None:
        import torch

        parts = self._indexed_rows("data", "the model inputs [N, ...]")
        return torch.cat([torch.from_numpy(p) for p in parts]) if parts else None

    def vis_params(self, method: str) -> tuple[dict[str, Any], list[str]]:
        vis = self.config.get("VISUALIZATION") or {}
        if not isinstance(vis, dict) or method.upper() != "DVI":
            return {}, []
        flat = dict(vis)
        flat.update(vis.get("BOUNDARY") or {})
        out: dict[str, Any] = {}
        notes: list[str] = []
        for key, name in CONFIG_TO_DVI.items():
            if key in flat:
                out[name] = flat[key]
        enc = flat.get("ENCODER_DIMS")
        if isinstance(enc, list) and len(enc) >= 2:
            out["hidden"] = [int(v) for v in enc[1:-1]]
            dec = flat.get("DECODER_DIMS")
            if isinstance(dec, list) and list(dec) != list(reversed(enc)):
                notes.append("DECODER_DIMS is not ENCODER_DIMS reversed; ttvis's decoder mirrors the encoder")
        for key, why in CONFIG_IGNORED.items():
            if key in flat:
                notes.append(f"{key} not used: {why}")
        return out, notes


LAYOUTS: tuple[type[Layout], ...] = (CanonicalLayout, PerEpochLayout, OriginalLayout)


def detect_layout(path: Path) -> type[Layout] | None:
    """The layout class of the run folder ``path``, or None when it holds no run.

    Cheap (a few ``stat`` calls): used by workspace discovery.
    """
    if (path / "dataset" / "representation").is_dir():
        return CanonicalLayout
    if (path / "epochs").is_dir() and any(_EPOCH_DIR.match(n) for n in _names(path / "epochs")):
        return PerEpochLayout
    if (path / "Model").is_dir() and ((path / "config.json").is_file() or any(
            re.match(r"^Epoch_\d+$", n) for n in _names(path / "Model"))):
        return OriginalLayout
    return None


def _names(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def open_layout(path: Path, roots: Sequence[Path] = ()) -> Layout:
    """The layout adapter for the run folder ``path`` (files confined to it and ``roots``).

    Raises:
        DynamicsError: ``path`` holds no run in any supported layout, or its layout's
            top-level metadata (``config.json``) is malformed.
    """
    cls = detect_layout(path)
    if cls is None:
        raise DynamicsError(
            path, "a training run: dataset/representation/E.npy (canonical), epochs/epoch_E/ (per-epoch) "
            "or Model/Epoch_E/ with config.json (original)", "none of these")
    return cls(path, roots)
