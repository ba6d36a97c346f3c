"""Recording API for a user's own PyTorch training loop.

Five lines in a training script::

    from ttvis import Recorder
    rec = Recorder("runs/digits", classes=[str(d) for d in range(10)])
    rec.record_dataset(x_all, y_all, train_index=tr, test_index=te)     # once
    for epoch in range(1, 21):
        train_one_epoch(model); rec.record_epoch(model, epoch)         # every epoch

``record_epoch`` saves ``model/E.pth`` and computes every sample's representation
(``model.feature(x)``) and prediction (``model.prediction(h)``), batched, in eval
mode, without gradients, restoring the model's training mode afterwards.

DeepVisualInsight's recording calls keep working: :class:`SummaryWriter` with
``write_meta_data`` and ``write_checkpoint`` writes its original layout.
"""

from __future__ import annotations

import inspect
import io
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ttvis.dynamics import atomic
from ttvis.dynamics.errors import DynamicsError

FeatureFn = Callable[[Any, Any], Any]


def images_to_uint8(images: np.ndarray) -> np.ndarray:
    """Convert a batch of images to uint8 ``[N, H, W]`` or ``[N, H, W, 3]`` for PNG sprites.

    Args:
        images: ``[N, H, W]``, ``[N, 1|3, H, W]`` (channels first) or ``[N, H, W, 1|3]``;
            uint8 as is, any other dtype rescaled from its global min..max to 0..255.

    Raises:
        ValueError: for any other shape.
    """
    a = np.asarray(images)
    if a.ndim == 4 and a.shape[1] in (1, 3) and a.shape[-1] not in (1, 3):
        a = np.moveaxis(a, 1, -1)
    if a.ndim == 4 and a.shape[-1] == 1:
        a = a[..., 0]
    if not (a.ndim == 3 or (a.ndim == 4 and a.shape[-1] == 3)):
        raise ValueError(f"images: expected [N, H, W], [N, C, H, W] or [N, H, W, C] with C in (1, 3), found shape {list(np.shape(images))}")
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = np.round((a - lo) / (hi - lo if hi > lo else 1.0) * 255.0).astype(np.uint8)
    return a


def write_sprites(folder: Path, imgs: np.ndarray) -> None:
    """Write ``<folder>/<i>.png`` for each uint8 image of ``imgs`` (``[N, H, W]`` or ``[N, H, W, 3]``), atomically.

    16 threads write at once: each atomic write waits on its fsync, which dominates (about 7 ms
    a file one at a time, 0.6 ms with 16-32 in flight; 70,000 Fashion-MNIST sprites: minutes -> seconds).
    """
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    def write(i: int) -> None:
        buf = io.BytesIO()
        Image.fromarray(imgs[i]).save(buf, format="PNG")
        atomic.save_bytes(folder / f"{i}.png", buf.getvalue())

    folder.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(16, thread_name_prefix="sprites") as pool:
        for _ in pool.map(write, range(len(imgs))):  # re-raises the first failure
            pass


def _model_file(model: Any, given: Path | None) -> Path | None:
    """The ``.py`` file defining ``model``'s class (``given`` when set), or None."""
    if given is not None:
        return given
    try:
        src = inspect.getsourcefile(type(model))
    except TypeError:
        return None
    return Path(src) if src else None


def _json_object_or_empty(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` (to update it), or ``{}`` when absent or unreadable."""
    import json

    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return obj if isinstance(obj, dict) else {}


def _copy_atomic(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.tmp"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


class Recorder:
    """Writes a training-dynamic folder (DESIGN.md canonical layout) from a training loop.

    Args:
        content_path: the run folder to create or extend.
        classes: class names, ``C`` of them (optional; defaults to "0".."C-1").
        task: ``"classification"`` or ``"representation"``.
        batch_size: samples per forward pass when computing representations.
        feature_fn: ``feature_fn(model, x) -> h`` ([B, ...] -> [B, D]); default ``model.feature(x)``.
        prediction_fn: ``prediction_fn(model, h) -> scores`` ([B, D] -> [B, C]); default ``model.prediction(h)``.
        model_source: a ``.py`` file defining the model class, copied to ``model.py``;
            default: the file that defines the recorded model's class.
        model_kwargs: JSON-able constructor arguments of the model class (stored in info.json).

    Raises:
        DynamicsError: when ``content_path`` exists and is not a folder.
    """

    def __init__(
        self,
        content_path: str | os.PathLike,
        classes: Sequence[str] | None = None,
        task: str = "classification",
        batch_size: int = 512,
        feature_fn: FeatureFn | None = None,
        prediction_fn: FeatureFn | None = None,
        model_source: str | os.PathLike | None = None,
        model_kwargs: dict[str, Any] | None = None,
    ):
        self.path = Path(content_path)
        if self.path.exists() and not self.path.is_dir():
            raise DynamicsError(self.path, "a folder for the training run", "a file")
        self.path.mkdir(parents=True, exist_ok=True)
        self.classes = list(classes) if classes is not None else None
        self.task = task
        self.batch_size = int(batch_size)
        self.feature_fn = feature_fn
        self.prediction_fn = prediction_fn
        self.model_source = Path(model_source) if model_source else None
        self.model_kwargs = dict(model_kwargs or {})
        self._inputs = None
        self._model_saved = False

    # ---- dataset ----------------------------------------------------------
    def record_dataset(
        self,
        inputs: Any,
        labels: Any,
        train_index: Sequence[int] | None = None,
        test_index: Sequence[int] | None = None,
        images: np.ndarray | None = None,
        texts: Sequence[str] | None = None,
    ) -> None:
        """Record the samples once: labels, train/test split, sprites or text, class names.

        Args:
            inputs: model inputs for all ``N`` samples (torch tensor or array, ``[N, ...]``);
                kept in memory to compute each epoch's representations.
            labels: int ``[N]`` ground-truth classes.
            train_index, test_index: sample indices (default: all train).
            images: thumbnails to save as ``dataset/sprites/<i>.png`` (see :func:`images_to_uint8`);
                default: ``inputs`` when they look like images (``[N, H, W]`` or ``[N, C, H, W]``).
            texts: one line per sample for text data, saved as ``dataset/text.txt``.

        Raises:
            ValueError: when lengths disagree or an index is out of range.
        """
        import torch

        x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
        y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels).astype(np.int64).reshape(-1)
        n = int(x.shape[0])
        if y.shape[0] != n:
            raise ValueError(f"labels: expected {n} entries (one per input), found {y.shape[0]}")
        train = np.arange(n) if train_index is None else np.asarray(train_index, dtype=np.int64)
        test = np.zeros(0, np.int64) if test_index is None else np.asarray(test_index, dtype=np.int64)
        for name, idx in (("train_index", train), ("test_index", test)):
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise ValueError(f"{name}: expected indices in [0, {n}), found {int(idx.min())}..{int(idx.max())}")
        self._inputs = x
        ds = self.path / "dataset"
        atomic.save_npy(ds / "label" / "labels.npy", y)
        atomic.save_json(self.path / "index.json", {"train": train.tolist(), "test": test.tolist()})
        if self.classes is None:
            self.classes = [str(i) for i in range(int(y.max(initial=-1)) + 1)]
        if images is None and x.ndim in (3, 4) and self.task == "classification":
            images = x.detach().cpu().numpy()
        if images is not None:
            write_sprites(self.path / "dataset" / "sprites", images_to_uint8(images))
        if texts is not None:
            if len(texts) != n:
                raise ValueError(f"texts: expected {n} lines (one per sample), found {len(texts)}")
            atomic.save_bytes(ds / "text.txt", ("\n".join(t.replace("\n", " ") for t in texts) + "\n").encode())
        self._write_info()

    def _write_info(self, model_class: str | None = None) -> None:
        info_path = self.path / "dataset" / "info.json"
        info = _json_object_or_empty(info_path)
        info.update({"classes": self.classes, "task": self.task})
        if model_class:
            info["model"] = {"class": model_class, "kwargs": self.model_kwargs, "source": "model.py"}
        atomic.save_json(info_path, info)

    # ---- epochs -------------------------------------------------------------
    def record_epoch(self, model: Any, epoch: int, save_checkpoint: bool = True) -> None:
        """Record epoch ``epoch`` (1-based): checkpoint, predictions, then representations (whose
        file, written last, marks the epoch complete for anyone following the run).

        Args:
            model: a ``torch.nn.Module`` with ``feature(x)`` and ``prediction(h)``
                (or the Recorder's ``feature_fn`` / ``prediction_fn``).
            epoch: the epoch number, >= 1.
            save_checkpoint: write ``model/E.pth`` (state dict) and, once, ``model.py``.

        Raises:
            RuntimeError: when :meth:`record_dataset` was not called first.
            ValueError: when ``epoch`` < 1 or the model gives non-finite features.
        """
        if self._inputs is None:
            raise RuntimeError("Recorder.record_epoch: call record_dataset(inputs, labels, ...) first")
        if int(epoch) < 1:
            raise ValueError(f"epoch: expected a 1-based epoch number, found {epoch}")
        epoch = int(epoch)
        if save_checkpoint:
            self.write_checkpoint(model.state_dict(), epoch)
            if not self._model_saved:
                self._save_model_source(model)
        reps, preds = self.compute(model)
        if not np.isfinite(reps).all():
            raise ValueError(f"epoch {epoch}: the model's features contain NaN or inf")
        ds = self.path / "dataset"
        if preds is not None:
            atomic.save_npy(ds / "prediction" / f"{epoch}.npy", preds)
        # last: the representation file marks the epoch complete (checkpoint and predictions are
        # on disk before it), so a reader following a run being recorded never sees half an epoch
        atomic.save_npy(ds / "representation" / f"{epoch}.npy", reps)

    def compute(self, model: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Representations float32 ``[N, D]`` and predictions float32 ``[N, C]`` (None for
        representation-only runs) of all recorded inputs (see
        :func:`ttvis.dynamics.subject.forward_batched`)."""
        from ttvis.dynamics.subject import forward_batched

        return forward_batched(model, self._inputs, self.batch_size, self.task == "classification",
                               self.feature_fn, self.prediction_fn)

    def write_checkpoint(self, state_dict: dict, curr_epoch: int, prev_epoch: int | None = None) -> None:
        """Save a state dict as ``model/<curr_epoch>.pth`` (atomically).

        ``prev_epoch`` is accepted for compatibility with DeepVisualInsight's writer and ignored.
        """
        atomic.save_torch(self.path / "model" / f"{int(curr_epoch)}.pth", state_dict)

    def _save_model_source(self, model: Any) -> None:
        src = _model_file(model, self.model_source)
        if src and src.is_file():
            _copy_atomic(src, self.path / "model.py")
            self._write_info(model_class=type(model).__name__)
        self._model_saved = True


class SummaryWriter:
    """DeepVisualInsight's recording calls, writing its original layout (see
    :mod:`ttvis.dynamics.layouts`, ``original``), which ``ttvis preprocess`` completes.

    ``SummaryWriter(save_dir, batch_size, num_worker)``; ``write_meta_data(train_loader,
    test_loader)`` stores every sample (``Training_data/``, ``Testing_data/``, ``sprites/``,
    ``config.json``); ``write_checkpoint(state_dict, curr_epoch, prev_epoch)`` stores
    ``Model/Epoch_E/subject_model.pth`` with its ``index.json``. A state dict alone cannot give
    representations: run ``ttvis preprocess save_dir`` afterwards (with ``Model/model.py``
    in place), or pass ``model=`` to compute each epoch's arrays right away.

    Args:
        save_dir: the run folder to create or extend.
        batch_size: samples per forward pass when computing representations.
        num_worker: accepted for compatibility (loaders are read in this process).
        model: optional ``torch.nn.Module`` with ``feature``/``prediction``; its class's source
            file is copied to ``Model/model.py`` and named in ``config.json``.
        classes: class names (default ``"0"..."C-1"``).
        model_source: the ``.py`` file defining the model class (default: where the class is defined).

    Raises:
        DynamicsError: when ``save_dir`` exists and is not a folder.
    """

    def __init__(self, save_dir: str | os.PathLike, batch_size: int = 512, num_worker: int = 0, model: Any = None,
                 classes: Sequence[str] | None = None, model_source: str | os.PathLike | None = None):
        self.path = Path(save_dir)
        if self.path.exists() and not self.path.is_dir():
            raise DynamicsError(self.path, "a folder for the training run", "a file")
        self.path.mkdir(parents=True, exist_ok=True)
        self.batch_size = int(batch_size)
        self.num_worker = num_worker
        self.model = model
        self.classes = list(classes) if classes is not None else None
        self.model_source = Path(model_source) if model_source else None
        self._inputs = None
        self._counts = (0, 0)

    def write_meta_data(self, train_loader: Any, test_loader: Any = None) -> None:
        """Store all samples of ``train_loader`` (then ``test_loader``): ``(x, y)`` batches.

        Raises:
            ValueError: a loader yields no ``(x, y)`` pairs.
        """
        import torch

        stored = []
        for loader, folder, stem in ((train_loader, "Training_data", "training_dataset"),
                                     (test_loader, "Testing_data", "testing_dataset")):
            xs, ys = [], []
            for batch in loader or []:
                if not (isinstance(batch, (list, tuple)) and len(batch) >= 2):
                    raise ValueError(f"{stem}: expected (inputs, labels) batches from the DataLoader, found {type(batch).__name__}")
                xs.append(torch.as_tensor(batch[0]))
                ys.append(torch.as_tensor(batch[1]).long())
            if not xs:
                stored.append((None, None))
                continue
            x, y = torch.cat(xs), torch.cat(ys)
            atomic.save_torch(self.path / folder / f"{stem}_data.pth", x)
            atomic.save_torch(self.path / folder / f"{stem}_label.pth", y)
            stored.append((x, y))
        if stored[0][0] is None:
            raise ValueError("train_loader: expected at least one (inputs, labels) batch, found none")
        x = torch.cat([v for v, _ in stored if v is not None])
        y = torch.cat([v for _, v in stored if v is not None])
        self._inputs = x
        self._counts = (int(stored[0][0].shape[0]), int(stored[1][0].shape[0]) if stored[1][0] is not None else 0)
        if self.classes is None:
            self.classes = [str(i) for i in range(int(y.max()) + 1)]
        if x.ndim in (3, 4):
            write_sprites(self.path / "sprites", images_to_uint8(x.numpy()))
        self._write_config()

    def _write_config(self, net: str | None = None) -> None:
        path = self.path / "config.json"
        conf = _json_object_or_empty(path)
        entry = conf.setdefault("DVI", {})
        entry.update({"SETTING": "normal", "CLASSES": self.classes, "EPOCH_NAME": "Epoch"})
        training = entry.setdefault("TRAINING", {})
        training.update({"train_num": self._counts[0], "test_num": self._counts[1]})
        if net:
            training["NET"] = net
        atomic.save_json(path, conf)

    def write_checkpoint(self, state_dict: dict, curr_epoch: int, prev_epoch: int | None = None) -> None:
        """Store ``Model/Epoch_<curr_epoch>/subject_model.pth`` and its index files; with
        ``model=`` given, also the epoch's representations and predictions.

        ``prev_epoch`` is accepted for compatibility and not needed.

        Raises:
            RuntimeError: when :meth:`write_meta_data` was not called first.
        """
        if self._inputs is None:
            raise RuntimeError("SummaryWriter.write_checkpoint: call write_meta_data(train_loader, test_loader) first")
        d = self.path / "Model" / f"Epoch_{int(curr_epoch)}"
        atomic.save_json(d / "index.json", list(range(self._counts[0])))
        if self._counts[1]:
            atomic.save_json(d / "test_index.json", list(range(self._counts[1])))
        atomic.save_torch(d / "subject_model.pth", state_dict)
        if self.model is None:
            return
        if not (self.path / "Model" / "model.py").is_file():
            src = _model_file(self.model, self.model_source)
            if src and src.is_file():
                _copy_atomic(src, self.path / "Model" / "model.py")
                self._write_config(net=type(self.model).__name__)
        from ttvis.dynamics.layouts import OriginalLayout
        from ttvis.dynamics.preprocess import write_epoch_arrays
        from ttvis.dynamics.subject import forward_batched

        self.model.load_state_dict(state_dict)
        reps, preds = forward_batched(self.model, self._inputs, self.batch_size)
        write_epoch_arrays(OriginalLayout(self.path), int(curr_epoch), reps, preds, [n for n in self._counts if n])
