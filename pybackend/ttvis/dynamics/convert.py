"""``ttvis convert``: write any supported layout as the canonical one (DESIGN.md).

Everything the reader sees is written: per-epoch representations and predictions,
labels, the train/test split, class names and task, sprites or text, ``model.py`` and
the checkpoints. The new folder is assembled beside the destination and renamed into
place at the end, so an interrupted conversion leaves nothing half-written.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable

from ttvis.dynamics import atomic
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics

OnEpoch = Callable[[int, int, dict], None]


def convert(run_path: str | os.PathLike, out: str | os.PathLike, on_epoch: OnEpoch | None = None,
            cancel: threading.Event | None = None) -> dict[str, Any]:
    """Write the run at ``run_path`` (any layout) to ``out`` in the canonical layout.

    Args:
        run_path: the source run folder.
        out: the destination folder; must not exist yet (or be empty).
        on_epoch: ``on_epoch(epoch, total, {})`` after each epoch is copied.
        cancel: set to stop; nothing is left at ``out``.

    Returns:
        ``{"from": layout, "path": out, "epochs": [...], "samples": N}``.

    Raises:
        DynamicsError: a bad source run, epochs still to preprocess, or ``out`` not empty.
    """
    run = TrainingDynamics(run_path)
    dst = Path(out).expanduser().resolve()
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise DynamicsError(dst, "a new or empty folder to write the canonical run into", "it exists and is not empty")
    missing = [e for e in run.recorded_epochs if e not in run.epochs]
    if missing:
        raise DynamicsError(run.source.representation_parts(missing[0])[0], "representations for every recorded epoch",
                            f"{len(missing)} epoch(s) without: run `ttvis preprocess {run.path}` first")
    if run.summary()["needsPreprocess"]:
        raise DynamicsError(run.prediction_files(run.epochs[0])[0], "the class scores of every epoch",
                            f"none yet: run `ttvis preprocess {run.path}` first")
    run.validate()
    with atomic.new_folder(dst, "converting") as tmp:
        ds = tmp / "dataset"
        info: dict[str, Any] = {"classes": run.classes, "task": run.task, "converted_from": run.layout}
        if run.model_spec:
            info["model"] = {**run.model_spec, "source": "model.py"}
        atomic.save_json(ds / "info.json", info)
        if (run.labels >= 0).any():
            atomic.save_npy(ds / "label" / "labels.npy", run.labels)
        atomic.save_json(tmp / "index.json", {"train": run.train_index.tolist(), "test": run.test_index.tolist()})
        if run.has_sprites:
            for i in range(run.n_samples):
                png = run.sprite_png(i)
                if png is not None:
                    atomic.save_bytes(ds / "sprites" / f"{i}.png", png)
        if run.has_text:
            lines = [run.text(i) or "" for i in range(run.n_samples)]
            atomic.save_bytes(ds / "text.txt", ("\n".join(t.replace("\n", " ") for t in lines) + "\n").encode())
        if run.model_source is not None:
            atomic.save_bytes(tmp / "model.py", run.model_source.read_bytes())
        for k, e in enumerate(run.epochs):
            if cancel is not None and cancel.is_set():
                raise KeyboardInterrupt
            ckpt = run.checkpoint_path(e)
            if ckpt is not None:
                atomic.save_bytes(tmp / "model" / f"{e}.pth", ckpt.read_bytes())
            pred = run.prediction(e)
            if pred is not None:
                atomic.save_npy(ds / "prediction" / f"{e}.npy", pred)
            atomic.save_npy(ds / "representation" / f"{e}.npy", run.representation(e))
            if on_epoch:
                on_epoch(e, len(run.epochs), {})
    return {"from": run.layout, "path": str(dst), "epochs": list(run.epochs), "samples": run.n_samples}
