"""Train the demo CNN on scikit-learn's bundled digits and record every epoch.

1,797 8x8 images, 10 classes, a stratified 80/20 train/test split, fixed seed;
no download. Training and recording (through the public :class:`ttvis.Recorder` API) are
:func:`ttvis.demo.training.train_and_record`, shared with the Fashion-MNIST demo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from ttvis.demo.training import train_and_record


def load_digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as float32 ``[1797, 1, 8, 8]`` in [0, 1], int64 labels ``[1797]``, and int64
    train (1,437) / test (360) indices from a stratified 80/20 split with ``seed``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None, :, :]
    y = d.target.astype(np.int64)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.2, stratify=y, random_state=seed)
    return x, y, np.sort(tr).astype(np.int64), np.sort(te).astype(np.int64)


def record_digits_run(
    out: str | os.PathLike,
    epochs: int = 20,
    seed: int = 0,
    lr: float = 3e-4,
    batch_size: int = 64,
    on_epoch: Callable[[int, int, dict], None] | None = None,
    noise: float = 0.0,
) -> Path:
    """Train :class:`~ttvis.demo.model.DigitsCNN` on the digits and record each epoch to ``out``.

    Args:
        out: run folder to write (canonical layout).
        epochs: training epochs (1-based numbering on disk).
        seed: seeds the split, the weights and the batch order.
        lr: Adam learning rate (small, so the animation shows learning happen).
        batch_size: training mini-batch size.
        on_epoch: ``on_epoch(epoch, total, {"train_acc": .., "test_acc": ..})`` after each epoch.
        noise: share of the training labels replaced by another class (drawn with ``seed``)
            before training; the recorded labels are the noisy ones (what a user would have),
            and ``dataset/noise.json`` says which samples were flipped and their true labels.

    Returns:
        The run folder's path.
    """
    from ttvis.demo.model import DigitsCNN

    x, y, tr, te = load_digits_split(seed)
    return train_and_record(out, DigitsCNN, {"n_classes": 10, "width": 64}, x, y, tr, te, [str(i) for i in range(10)],
                            epochs, seed, lr, batch_size, on_epoch, noise)
