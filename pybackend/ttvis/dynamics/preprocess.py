"""``ttvis preprocess``: complete a run's per-epoch arrays from its checkpoints.

For every recorded epoch whose representations or predictions are missing, load the
subject model (``model.py`` + the epoch's checkpoint, ``weights_only=True``), run the
stored model inputs through ``feature`` (and ``prediction``), batched, on the GPU when
available, and write the arrays where the run's layout keeps them, atomically. When
only predictions are missing, they come from the stored representations through
``prediction`` alone (no inputs needed). Following DeepVisualInsight's preprocessing
step (``data_provider._meta_data``), in every supported layout.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ttvis.dynamics import atomic
from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.files import load_array
from ttvis.dynamics.layouts import Layout, open_layout

OnEpoch = Callable[[int, int, dict], None]


def _classification(src: Layout) -> bool:
    """Whether the run should have predictions: labels or class names recorded, or a task
    that says so."""
    info = src.info()
    if "task" in info:
        return info["task"] == "classification"
    return bool(info.get("classes")) or src.labels_path.exists()


def plan(src: Layout, force: bool = False) -> list[tuple[int, bool, bool]]:
    """What preprocessing would compute: ``(epoch, representations?, predictions?)`` for
    each recorded epoch with something missing (everything with ``force``)."""
    cls = _classification(src)
    out = []
    for e in src.epochs():
        rep = force or not all(p.is_file() for p in src.representation_parts(e))
        pred = cls and (force or rep or not all(p.is_file() for p in src.prediction_parts(e)))
        if rep or pred:
            out.append((e, rep, pred))
    return out


def can_complete(src: Layout, todo: list[tuple[int, bool, bool]]) -> bool:
    """True when :func:`preprocess` can compute everything in ``todo`` (from :func:`plan`):
    ``model.py``, every needed checkpoint and, for representations, the stored inputs."""
    if not todo or src.model_source is None or not all(src.checkpoint_path(e) for e, _, _ in todo):
        return False
    return not any(rep for _, rep, _ in todo) or (src.inputs_path is not None and src.inputs_path.is_file())


def pending(path: Path) -> tuple[Layout, list[tuple[int, bool, bool]]] | None:
    """The layout and :func:`plan` of the run at ``path`` when there is work that
    :func:`preprocess` can do completely, else None.

    Raises:
        DynamicsError: ``path`` holds no run in a supported layout.
    """
    src = open_layout(path)
    todo = plan(src)
    return (src, todo) if can_complete(src, todo) else None


def write_epoch_arrays(src: Layout, epoch: int, reps: np.ndarray | None, preds: np.ndarray | None, sizes: list[int]) -> None:
    """Write one epoch's arrays where ``src``'s layout keeps them, split into its parts, atomically.

    Predictions go first: the representation files mark an epoch as complete.

    Args:
        src: the run's layout adapter.
        epoch: the epoch number.
        reps: float32 ``[N, D]`` representations, or None to leave them.
        preds: float32 ``[N, C]`` class scores, or None to leave them.
        sizes: rows of each part (``src.part_sizes()``), summing to ``N``.
    """
    bounds = np.cumsum([0] + list(sizes))
    for arr, paths in ((preds, src.prediction_parts(epoch)), (reps, src.representation_parts(epoch))):
        if arr is not None:
            for k, path in enumerate(paths):
                atomic.save_npy(path, arr[bounds[k]:bounds[k + 1]])


def preprocess(
    run_path: str | os.PathLike,
    force: bool = False,
    device: str = "auto",
    batch_size: int = 512,
    on_epoch: OnEpoch | None = None,
    cancel: threading.Event | None = None,
    executor: Any = None,
) -> dict[str, Any]:
    """Compute the missing representations and predictions of a run from its checkpoints.

    Args:
        run_path: the run folder (any supported layout).
        force: recompute every epoch, not only what is missing.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
        batch_size: samples per forward pass.
        on_epoch: ``on_epoch(epoch, total, {"representations": bool, "predictions": bool})``
            after each epoch is written.
        cancel: set to stop between epochs (finished epochs stay written).
        executor: where the epochs are computed (:mod:`ttvis.parallel`); with Ray, several at
            once on the cluster's workers, each loading the model and the inputs itself.

    Returns:
        ``{"layout", "epochs": [computed epochs], "device", "samples"}``.

    Raises:
        DynamicsError: no run there; ``model.py`` or a checkpoint missing or broken; the
            model inputs missing (representations cannot be computed without them);
            stored arrays with the wrong number of rows.
    """
    from ttvis.projection.device import resolve_device

    root = Path(run_path).expanduser().resolve()
    if not root.is_dir():
        raise DynamicsError(root, "a training-run folder", "no such folder")
    src = open_layout(root)
    todo = plan(src, force)
    dev = resolve_device(device)
    result: dict[str, Any] = {"layout": src.name, "epochs": [], "device": dev, "samples": None}
    if not todo:
        return result
    if src.model_source is None:
        raise DynamicsError(src.model_source_path, "the subject model's source: a class with feature(x) -> [B, D] and "
                            "prediction(h) -> [B, C] methods (needed to compute representations and predictions "
                            "from the checkpoints)", "no such file")
    inputs = None
    sizes = src.part_sizes()
    if any(rep for _, rep, _ in todo):
        inputs = src.inputs()
        if inputs is None:
            where = src.inputs_path or src.representation_parts(todo[0][0])[0]
            raise DynamicsError(where, f"the model inputs of every sample, to compute the representations of epoch {todo[0][0]} "
                                "(the " + src.name + " layout keeps them "
                                + ("there)" if src.inputs_path else "nowhere: record representations while training, e.g. with ttvis.Recorder)"),
                                "no such file" if src.inputs_path else "none")
        if sizes is None:
            sizes = [int(inputs.shape[0])]
        elif int(inputs.shape[0]) != sum(sizes):
            raise DynamicsError(src.inputs_path or root, f"{sum(sizes)} samples (as the index files say)", f"{int(inputs.shape[0])}")
    spec = src.info().get("model")
    ex = executor
    if ex is not None and ex.parallelism > 1:  # each worker loads the model and inputs itself
        from collections import deque

        pending: deque = deque()
        queue = iter(todo)

        def submit() -> None:
            item = next(queue, None)
            if item is not None:
                pending.append((item, ex.submit(preprocess_epoch_task, str(root), item[0], item[1], item[2], dev, batch_size)))

        for _ in range(ex.parallelism + 1):
            submit()
        results = _drain(pending, submit)
    else:
        results = ((item, _compute_epoch(src, item[0], item[1], item[2], spec, dev, batch_size, inputs, sizes)) for item in todo)
    for (e, rep, pred), (reps, preds, part_sizes) in results:
        if cancel is not None and cancel.is_set():
            break
        write_epoch_arrays(src, e, reps if rep else None, preds if pred else None, part_sizes)
        result["epochs"].append(e)
        result["samples"] = int(reps.shape[0])
        if on_epoch:
            on_epoch(e, len(todo), {"representations": rep, "predictions": bool(pred)})
    return result


def _drain(pending: Any, submit: Callable[[], None]) -> Iterator[tuple[tuple, Any]]:
    while pending:
        item, task = pending.popleft()
        submit()
        yield item, task.result()


def _compute_epoch(src: Layout, e: int, rep: bool, pred: bool, spec: Any, dev: str, batch_size: int,
                   inputs: Any, sizes: list[int] | None) -> tuple[np.ndarray, np.ndarray | None, list[int]]:
    """One epoch's representations (or the stored ones) and predictions through the subject model."""
    import torch

    from ttvis.dynamics.subject import build_subject_model, forward_batched

    ckpt = src.checkpoint_path(e)
    if ckpt is None:
        raise DynamicsError(src.checkpoint_file(e), f"the subject model's state dict at epoch {e} (to compute its "
                            + ("representations" if rep else "predictions") + ")", "no such file")
    model = build_subject_model(src.model_source, spec, src.model_spec_source, ckpt, dev)
    if rep:
        reps, preds = forward_batched(model, inputs, batch_size, with_predictions=pred)
        if not np.isfinite(reps).all():
            raise DynamicsError(ckpt, "a model whose features are finite", f"NaN or inf in the features at epoch {e}")
    else:  # predictions only: through prediction(h) of the stored representations
        stored = [load_array(p, "float32 [N, D] representations") for p in src.representation_parts(e)]
        sizes = sizes or [int(a.shape[0]) for a in stored]
        reps = np.concatenate(stored).astype(np.float32)
        _, preds = forward_batched(model, torch.from_numpy(reps), batch_size, feature_fn=lambda m, h: h)
    return reps, preds, list(sizes or [reps.shape[0]])


def preprocess_epoch_task(root: str, e: int, rep: bool, pred: bool, device: str, batch_size: int) -> tuple:
    """A worker's task (:mod:`ttvis.parallel`): one epoch of :func:`preprocess` on its own copy of the run."""
    src = open_layout(Path(root))
    return _compute_epoch(src, e, rep, pred, src.info().get("model"), device, batch_size,
                          src.inputs() if rep else None, src.part_sizes())
