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
from typing import Sequence

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.layouts.base import Layout
from ttvis.dynamics.layouts.canonical import CanonicalLayout
from ttvis.dynamics.layouts.original import OriginalLayout
from ttvis.dynamics.layouts.per_epoch import _EPOCH_DIR, PerEpochLayout

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


__all__ = ["CanonicalLayout", "LAYOUTS", "Layout", "OriginalLayout", "PerEpochLayout", "detect_layout", "open_layout"]
