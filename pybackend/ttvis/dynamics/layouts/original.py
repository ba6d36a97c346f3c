"""DeepVisualInsight's "training_dynamic" layout (``Model/Epoch_E``, ``config.json``), and its
non-classification variant (representations and per-sample text, no labelled data).

In this layout sample ``i`` counts the indexed training samples first (in ``index.json``
order), then the indexed test samples. ``config.json`` keeps one block per visualization
method (``{"DVI": {...}, "TimeVis": {...}}``, or one un-nested block, which is DVI's);
each method reads its own parameters from its block.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.files import load_json, load_tensor, peek_shape
from ttvis.dynamics.layouts.base import Layout, _check_labels, _indices


class OriginalLayout(Layout):
    """DeepVisualInsight's ``Model/Epoch_E`` layout with ``config.json`` (and its
    non-classification variant: representations and per-sample text, no labelled data)."""

    name = "original"

    def __init__(self, root: Path, roots: Sequence[Path] = ()):
        super().__init__(root, roots)
        self.config_path = self.file(root / "config.json")
        self.config: dict[str, Any] = {}
        self.config_key: str | None = None
        self.entries: dict[str, dict[str, Any]] = {}
        if self.config_path.exists():
            conf = load_json(self.config_path, '{"<METHOD>": {"CLASSES": [...], "EPOCH_START": ..., ...}}')
            if not isinstance(conf, dict):
                raise DynamicsError(self.config_path, '{"<METHOD>": {...}} (one entry per vis method)', type(conf).__name__)
            entries = {k: v for k, v in conf.items() if isinstance(v, dict)}
            if "EPOCH_START" in conf or "CLASSES" in conf:
                entries = {"": conf}  # an un-nested config
            self.entries = entries
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

    def vis_config(self, method: str) -> dict[str, Any] | None:
        """``config.json``'s entry for ``method`` (keys compared case-insensitively; an un-nested
        config is DVI's, as in the original project), or None."""
        for key, block in self.entries.items():
            if key.lower() == method.lower() or (key == "" and method.upper() == "DVI"):
                return block
        return None
