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

The original DeepVisualInsight names are kept as aliases so its users can switch:
:class:`SummaryWriter` with ``write_meta_data`` and ``write_checkpoint``.
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
            self._write_sprites(images_to_uint8(images))
        if texts is not None:
            if len(texts) != n:
                raise ValueError(f"texts: expected {n} lines (one per sample), found {len(texts)}")
            atomic.save_bytes(ds / "text.txt", ("\n".join(t.replace("\n", " ") for t in texts) + "\n").encode())
        self._write_info()

    def _write_sprites(self, imgs: np.ndarray) -> None:
        from PIL import Image

        d = self.path / "dataset" / "sprites"
        d.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(imgs):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, format="PNG")
            atomic.save_bytes(d / f"{i}.png", buf.getvalue())

    def _write_info(self, model_class: str | None = None) -> None:
        info_path = self.path / "dataset" / "info.json"
        info: dict[str, Any] = {}
        if info_path.exists():
            import json

            try:
                info = json.loads(info_path.read_text())
            except ValueError:
                info = {}
        info.update({"classes": self.classes, "task": self.task})
        if model_class:
            info["model"] = {"class": model_class, "kwargs": self.model_kwargs, "source": "model.py"}
        atomic.save_json(info_path, info)

    # ---- epochs -------------------------------------------------------------
    def record_epoch(self, model: Any, epoch: int, save_checkpoint: bool = True) -> None:
        """Record epoch ``epoch`` (1-based): checkpoint, representations, predictions.

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
        atomic.save_npy(ds / "representation" / f"{epoch}.npy", reps)
        if preds is not None:
            atomic.save_npy(ds / "prediction" / f"{epoch}.npy", preds)

    def compute(self, model: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Representations float32 ``[N, D]`` and predictions float32 ``[N, C]`` (None for
        representation-only runs) of all recorded inputs, batched, eval mode, no gradients."""
        import torch

        was_training = bool(getattr(model, "training", False))
        try:
            device = next(model.parameters()).device
        except (StopIteration, AttributeError):
            device = torch.device("cpu")
        feat = self.feature_fn or (lambda m, x: m.feature(x))
        pred = self.prediction_fn or (lambda m, h: m.prediction(h))
        reps, preds = [], []
        model.eval()
        try:
            with torch.no_grad():
                for s in range(0, int(self._inputs.shape[0]), self.batch_size):
                    xb = self._inputs[s : s + self.batch_size].to(device)
                    h = feat(model, xb)
                    reps.append(h.reshape(h.shape[0], -1).float().cpu().numpy())
                    if self.task == "classification":
                        preds.append(pred(model, h).float().cpu().numpy())
        finally:
            model.train(was_training)
        return np.concatenate(reps).astype(np.float32), (np.concatenate(preds).astype(np.float32) if preds else None)

    def write_checkpoint(self, state_dict: dict, curr_epoch: int, prev_epoch: int | None = None) -> None:
        """Save a state dict as ``model/<curr_epoch>.pth`` (atomically).

        ``prev_epoch`` is accepted for compatibility with DeepVisualInsight's writer and ignored.
        """
        atomic.save_torch(self.path / "model" / f"{int(curr_epoch)}.pth", state_dict)

    def _save_model_source(self, model: Any) -> None:
        cls = type(model)
        src = self.model_source
        if src is None:
            try:
                src = Path(inspect.getsourcefile(cls) or "")
            except TypeError:
                src = None
        if src and src.is_file():
            tmp = self.path / ".model.py.tmp"
            shutil.copyfile(src, tmp)
            os.replace(tmp, self.path / "model.py")
            self._write_info(model_class=cls.__name__)
        self._model_saved = True


class SummaryWriter(Recorder):
    """DeepVisualInsight-compatible writer: ``SummaryWriter(save_dir, batch_size, num_worker)``.

    ``write_meta_data(train_loader, test_loader)`` records the dataset from two
    DataLoaders (train samples first, then test) and ``write_checkpoint(state_dict,
    curr_epoch, prev_epoch)`` saves checkpoints; pass ``model=`` to also record each
    epoch's representations, else run ``ttvis preprocess`` afterwards.
    """

    def __init__(self, save_dir: str | os.PathLike, batch_size: int = 512, num_worker: int = 0, model: Any = None, **kwargs: Any):
        super().__init__(save_dir, batch_size=batch_size, **kwargs)
        self.num_worker = num_worker
        self.model = model

    def write_meta_data(self, train_loader: Any, test_loader: Any = None) -> None:
        """Record all samples of ``train_loader`` then ``test_loader`` ((x, y) batches)."""
        import torch

        xs, ys = [], []
        counts = []
        for loader in (train_loader, test_loader):
            c = 0
            for xb, yb in loader or []:
                xs.append(torch.as_tensor(xb))
                ys.append(torch.as_tensor(yb))
                c += len(yb)
            counts.append(c)
        x, y = torch.cat(xs), torch.cat(ys)
        self.record_dataset(x, y, train_index=range(counts[0]), test_index=range(counts[0], counts[0] + counts[1]))

    def write_checkpoint(self, state_dict: dict, curr_epoch: int, prev_epoch: int | None = None) -> None:
        """Save the checkpoint; with ``model=`` given, also record representations/predictions."""
        super().write_checkpoint(state_dict, curr_epoch, prev_epoch)
        if self.model is not None and self._inputs is not None:
            self.model.load_state_dict(state_dict)
            if not self._model_saved:
                self._save_model_source(self.model)
            self.record_epoch(self.model, curr_epoch, save_checkpoint=False)
