"""``ttvis import``: turn a published benchmark's files into a canonical run folder (DESIGN.md).

One importer so far, ``vernier``: the datasets of Vernier et al., "Quantitative Evaluation of
Time-Dependent Multidimensional Projection Techniques" (EuroVis 2020; github.com/EduardoVernier/
dynamic-projections, ``Datasets/*.zip``). A dataset is one CSV per time step, ``<name>-<t>.csv``
(``t`` = 0, 1, ...), each with a header ``id,f0,f1,...`` and one row per sample; the ids are
``<class>-<n>`` and the same in every step. Step ``t`` becomes epoch ``t + 1``:

- ``dataset/representation/E.npy``: the step's values, float32 ``[N, D]``, as published (raw);
- ``dataset/prediction/E.npy``: their natural log, when every row is a probability vector over the
  classes (``cifar10cnn``: a CNN's softmax outputs), values clipped at 1e-30 first so that a 0
  stays finite; other datasets get no predictions and ``task: representation``;
- ``dataset/label/labels.npy`` from the ``<class>`` of each id (CIFAR-10's class order when the
  names are CIFAR-10's, else sorted), ``dataset/text.txt`` the ids (one line per sample);
- ``index.json``: every sample a training sample (the benchmark has no split);
- ``dataset/info.json``: classes, task and ``source`` (file, sha256, paper, licence caveat).

There is no model: ``ttvis visualize`` then uses its logistic-regression prediction head.
The source is read where it lies (a zip through :mod:`zipfile`, or a folder); the new run is
assembled beside ``out`` and renamed into place, so an interrupted import leaves nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ttvis.dynamics import atomic
from ttvis.dynamics.errors import DynamicsError

#: CIFAR-10's class names, in its label order
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PAPER = ("Vernier, Garcia, da Silva, Comba, Telea, \"Quantitative Evaluation of Time-Dependent Multidimensional "
         "Projection Techniques\", EuroVis 2020 (CGF 39(3), arXiv 2002.07481)")
URL = "https://github.com/EduardoVernier/dynamic-projections"
LICENCE = ("no licence is stated in the source repository: use as test data, cite the paper, do not redistribute "
           "(the files are read where they lie and not copied into ttvis)")
_STEP = re.compile(r"^(?:.*/)?([^/]+)-(\d+)\.csv$")

OnStep = Callable[[int, int, dict], None]


class _Files:
    """The step CSVs of one source: a zip file, or a folder of CSVs or of zips holding them.

    Args:
        source: a ``.zip`` file or a folder.
        dataset: the dataset name (the ``<name>`` of ``<name>-<t>.csv``) when the source holds several.

    Raises:
        DynamicsError: no step CSVs found, or several datasets and no ``dataset`` given.
    """

    def __init__(self, source: str | os.PathLike, dataset: str | None = None):
        self.path = Path(source).expanduser().resolve()
        self.zip_path: Path | None = None
        if self.path.is_file():
            if not zipfile.is_zipfile(self.path):
                raise DynamicsError(self.path, "a zip of <name>-<t>.csv step files (e.g. cifar10cnn.zip) or a folder", "not a zip file")
            self.zip_path = self.path
        elif self.path.is_dir():
            direct = sorted(p for p in self.path.rglob("*.csv") if _STEP.match(p.name))
            if not direct:
                zips = [z for z in sorted(self.path.glob("*.zip")) if zipfile.is_zipfile(z) and self._zip_steps(z, dataset)]
                if zips:
                    self.zip_path = zips[0]
        else:
            raise DynamicsError(self.path, "a zip of <name>-<t>.csv step files or a folder holding them", "no such file or folder")
        if self.zip_path is not None:
            with zipfile.ZipFile(self.zip_path) as z:
                names = [n for n in z.namelist() if _STEP.match(n)]
        else:
            names = [str(p.relative_to(self.path)).replace(os.sep, "/") for p in self.path.rglob("*.csv") if _STEP.match(p.name)]
        groups: dict[str, dict[int, str]] = {}
        for n in names:
            m = _STEP.match(n)
            groups.setdefault(m.group(1), {})[int(m.group(2))] = n
        if dataset is not None:
            groups = {k: v for k, v in groups.items() if k == dataset}
        where = self.zip_path or self.path
        if not groups:
            want = f"{dataset}-<t>.csv" if dataset else "<name>-<t>.csv"
            raise DynamicsError(where, f"step files named {want} (t = 0, 1, ...; Vernier et al.'s dataset format)", "none")
        if len(groups) > 1:
            raise DynamicsError(where, "the step files of one dataset (choose one with --dataset)",
                                f"several: {', '.join(sorted(groups))}")
        (self.dataset, steps), = groups.items()
        self.steps = dict(sorted(steps.items()))

    @staticmethod
    def _zip_steps(z: Path, dataset: str | None) -> bool:
        with zipfile.ZipFile(z) as f:
            return any((m := _STEP.match(n)) and (dataset is None or m.group(1) == dataset) for n in f.namelist())

    def label(self, member: str) -> str:
        """How error messages name one member: ``archive.zip:member`` or the file's path."""
        return f"{self.zip_path}:{member}" if self.zip_path else str(self.path / member)

    def read(self) -> Iterator[tuple[int, str, str]]:
        """``(t, label, text)`` of each step in order (the zip opened once)."""
        if self.zip_path is None:
            for t, m in self.steps.items():
                yield t, self.label(m), (self.path / m).read_text(encoding="utf-8-sig")
            return
        with zipfile.ZipFile(self.zip_path) as z:
            for t, m in self.steps.items():
                yield t, self.label(m), z.read(m).decode("utf-8-sig")


def parse_step(text: str, where: str, ids: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """One step CSV: its ids and float64 ``[N, D]`` values, rows in the order of ``ids`` when given.

    Args:
        text: the CSV (header ``id,f0,...``, one row per sample); where: its name for errors.
        ids: the first step's ids (the other steps must hold the same ones).

    Raises:
        DynamicsError: naming ``where``: no header or rows, a row of another length, a value that
            is not a finite number, a repeated id, or ids other than the first step's.
    """
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2 or len(rows[0]) < 2:
        raise DynamicsError(where, "a header id,f0,f1,... and one row per sample", f"{len(rows)} line(s)")
    width = len(rows[0])
    names, vals = [], np.empty((len(rows) - 1, width - 1))
    for i, r in enumerate(rows[1:]):
        if len(r) != width:
            raise DynamicsError(where, f"{width} columns on every row (as in the header)", f"{len(r)} on line {i + 2}")
        try:
            vals[i] = [float(v) for v in r[1:]]
        except ValueError:
            raise DynamicsError(where, "numbers after the id on every row", f"{r[1:]!r:.80} on line {i + 2}") from None
        names.append(r[0])
    if not np.isfinite(vals).all():
        raise DynamicsError(where, "finite numbers", "NaN or inf")
    pos = {n: i for i, n in enumerate(names)}
    if len(pos) != len(names):
        raise DynamicsError(where, "each id once", "a repeated id")
    if ids is None:
        return names, vals
    if len(ids) != len(names) or any(n not in pos for n in ids):
        missing = next((n for n in ids if n not in pos), None)
        raise DynamicsError(where, f"the first step's {len(ids)} ids", f"{len(names)} ids" + (f", without {missing!r}" if missing else ""))
    return ids, vals[[pos[n] for n in ids]]


def _classes(ids: list[str], where: str) -> tuple[list[str], np.ndarray]:
    """Class names and int64 labels ``[N]`` from ``<class>-<n>`` ids."""
    bad = next((i for i in ids if "-" not in i), None)
    if bad is not None:
        raise DynamicsError(where, "ids of the form <class>-<n> (e.g. cat-0)", repr(bad))
    names = [i.rsplit("-", 1)[0] for i in ids]
    classes = CIFAR10_CLASSES if set(names) <= set(CIFAR10_CLASSES) else sorted(set(names))
    pos = {c: k for k, c in enumerate(classes)}
    return list(classes), np.array([pos[n] for n in names], np.int64)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def import_vernier(source: str | os.PathLike, out: str | os.PathLike, dataset: str | None = None,
                   on_step: OnStep | None = None) -> dict[str, Any]:
    """Write one of Vernier et al.'s datasets (module docstring) as a canonical run at ``out``.

    Args:
        source: the dataset's zip (e.g. ``cifar10cnn.zip``), or a folder holding its step CSVs or
            that zip (e.g. ``../shared/benchmarks/vernier-cifar10cnn``).
        out: the new run folder; must not exist yet (or be empty).
        dataset: the ``<name>`` to import when the source holds several datasets.
        on_step: ``on_step(epoch, total, {})`` after each step is written.

    Returns:
        ``{"path", "dataset", "epochs", "samples", "dims", "classes", "probabilities"}``.

    Raises:
        DynamicsError: a bad source (the message names the file and what was expected), or
            ``out`` exists and is not empty.
    """
    files = _Files(source, dataset)
    dst = Path(out).expanduser().resolve()
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise DynamicsError(dst, "a new or empty folder to write the run into", "it exists and is not empty")
    ids: list[str] | None = None
    dims = None
    probs = True
    epochs: list[int] = []
    with atomic.new_folder(dst, "importing") as tmp:
        ds = tmp / "dataset"
        for t, where, text in files.read():
            ids, x = parse_step(text, where, ids)
            if dims is None:
                dims, first = x.shape[1], where
                classes, labels = _classes(ids, where)
            elif x.shape[1] != dims:
                raise DynamicsError(where, f"{dims} values per row (as in {first})", f"{x.shape[1]}")
            probs = probs and x.shape[1] == len(classes) and bool((x >= 0).all()) and bool(np.allclose(x.sum(1), 1.0, atol=1e-3))
            e = t + 1
            atomic.save_npy(ds / "prediction" / f"{e}.npy", np.log(np.maximum(x, 1e-30)).astype(np.float32))
            atomic.save_npy(ds / "representation" / f"{e}.npy", x.astype(np.float32))
            epochs.append(e)
            if on_step:
                on_step(e, len(files.steps), {})
        if not probs:  # not class probabilities: no predictions, a representation-only run
            shutil.rmtree(ds / "prediction")
        atomic.save_npy(ds / "label" / "labels.npy", labels)
        atomic.save_bytes(ds / "text.txt", ("\n".join(ids) + "\n").encode())
        atomic.save_json(tmp / "index.json", {"train": list(range(len(ids))), "test": []})
        src: dict[str, Any] = {"format": "vernier", "dataset": files.dataset, "file": str(files.zip_path or files.path),
                               "paper": PAPER, "url": URL, "licence": LICENCE,
                               "epochs": f"epoch E is step E-1 of {files.dataset}-<t>.csv",
                               "representation": "the published values, raw",
                               "prediction": "natural log of the values (class probabilities), clipped at 1e-30" if probs else None,
                               "split": "none in the benchmark: every sample is a training sample"}
        if files.zip_path is not None:
            src["sha256"] = _sha256(files.zip_path)
        atomic.save_json(ds / "info.json", {"classes": classes, "task": "classification" if probs else "representation",
                                            "source": src})
    return {"path": str(dst), "dataset": files.dataset, "epochs": epochs, "samples": len(ids), "dims": int(dims),
            "classes": classes, "probabilities": probs}


def read_vernier(source: str | os.PathLike, dataset: str | None = None) -> tuple[list[str], list[np.ndarray]]:
    """The ids and the raw float64 ``[N, D]`` values of every step of a Vernier dataset (as
    :func:`import_vernier` reads them, without writing anything)."""
    files = _Files(source, dataset)
    ids: list[str] | None = None
    steps = []
    for _, where, text in files.read():
        ids, x = parse_step(text, where, ids)
        steps.append(x)
    return ids or [], steps


def read_vernier_projection(path: str | os.PathLike, member: str | None = None, ids: list[str] | None = None) -> np.ndarray:
    """A published projection (``id,t0d0,t0d1,t1d0,...``: x, y per step) as float64 ``[T, N, 2]``,
    rows in the order of ``ids`` when given.

    Args:
        path: a CSV file, or a zip holding ``member``.

    Raises:
        DynamicsError: naming the file: not ``id`` then x, y column pairs per step, or other ids.
    """
    p = Path(path)
    where = f"{p}:{member}" if member else str(p)
    if member:
        with zipfile.ZipFile(p) as z:
            text = z.read(member).decode("utf-8-sig")
    else:
        text = p.read_text(encoding="utf-8-sig")
    header = next(csv.reader(io.StringIO(text)), [])
    cols = header[1:]
    want = [f"t{t}d{d}" for t in range(len(cols) // 2) for d in (0, 1)]
    if not cols or cols != want:
        raise DynamicsError(where, "a header id,t0d0,t0d1,t1d0,t1d1,... (x, y per step)", f"{','.join(header)[:80]!r}")
    ids, v = parse_step(text, where, ids)
    return v.reshape(len(ids), -1, 2).transpose(1, 0, 2)
