"""What the built-in demos share: flip a share of the training labels, train a CNN with Adam and
record every epoch through the public :class:`ttvis.Recorder`.

The digits demo (:mod:`ttvis.demo.digits`) and the Fashion-MNIST demo (:mod:`ttvis.demo.fashion`)
differ only in their data and their model class; both call :func:`train_and_record`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ttvis.dynamics.record import Recorder

OnEpoch = Callable[[int, int, dict], None]


def flip_labels(y: np.ndarray, train: np.ndarray, share: float, rng: np.random.Generator,
                n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Replace ``share`` of the training labels by another class, drawn uniformly.

    Args:
        y: int64 ``[N]`` labels (not modified).
        train: int64 indices of the training samples; only these are flipped.
        share: fraction in [0, 1) of ``train`` to flip (``round(share * len(train))`` samples).
        rng: numpy generator the choice and the new classes are drawn from.
        n_classes: number of classes ``C``; a flipped label becomes ``(y + U{1..C-1}) % C``.

    Returns:
        ``(noisy labels int64 [N], sorted flipped indices int64 [F])``.

    Raises:
        ValueError: ``share`` outside [0, 1).
    """
    if not 0.0 <= share < 1.0:
        raise ValueError(f"noise: expected a share of the training labels in [0, 1), found {share}")
    if share == 0:
        return y, np.zeros(0, np.int64)
    flipped = np.sort(rng.choice(train, int(round(share * len(train))), replace=False))
    y = y.copy()
    y[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes  # another class, uniformly
    return y, flipped


def train_and_record(
    out: str | os.PathLike,
    model_class: type,
    model_kwargs: dict[str, Any],
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    classes: Sequence[str],
    epochs: int,
    seed: int,
    lr: float,
    batch_size: int,
    on_epoch: OnEpoch | None = None,
    noise: float = 0.0,
    images: np.ndarray | None = None,
    info: dict[str, Any] | None = None,
) -> Path:
    """Train ``model_class(**model_kwargs)`` with Adam + cross-entropy and record every epoch.

    Seeding: ``torch.manual_seed(seed)`` before the model is built; one ``numpy`` generator
    seeded with ``seed`` draws the flipped labels, then each epoch's batch order.

    Args:
        out: run folder to write (DESIGN.md canonical layout).
        model_class: a ``torch.nn.Module`` class with ``feature(x)`` / ``prediction(h)``,
            defined in a torch-only file (the Recorder copies that file to ``model.py``).
        model_kwargs: its JSON-able constructor arguments (stored in ``dataset/info.json``).
        x: float32 model inputs ``[N, ...]``.
        y: int64 ``[N]`` true labels.
        train, test: int64 sample indices of the two splits.
        classes: the ``C`` class names.
        epochs: training epochs (1-based numbering on disk).
        seed: seeds the weights, the flipped labels and the batch order.
        lr: Adam learning rate.
        batch_size: training mini-batch size.
        on_epoch: ``on_epoch(epoch, total, {"train_acc": .., "test_acc": ..})`` after each epoch
            is recorded (accuracies of the recorded predictions against the recorded labels).
        noise: share of the training labels replaced by another class before training; the
            recorded labels are the noisy ones (what a user would have), and
            ``dataset/noise.json`` says which samples were flipped and their true labels.
        images: thumbnails for ``dataset/sprites/`` (default: ``x``; see :meth:`Recorder.record_dataset`).
        info: extra keys merged into ``dataset/info.json`` (e.g. the data's source).

    Returns:
        The run folder's path.

    Raises:
        ValueError: a bad ``noise`` share, or (from the Recorder) inconsistent inputs.
    """
    import torch
    from torch import nn

    from ttvis.dynamics import atomic

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    true = y
    y, flipped = flip_labels(y, train, noise, rng, len(classes))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model = model_class(**model_kwargs)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    rec = Recorder(out, classes=list(classes), model_kwargs=model_kwargs)
    rec.record_dataset(xt, yt, train_index=train, test_index=test, images=images)
    ds = Path(out) / "dataset"
    if info:
        atomic.save_json(ds / "info.json", {**_read_json(ds / "info.json"), **info})
    if noise > 0:
        atomic.save_json(ds / "noise.json", {"share": noise, "flipped": flipped.tolist(),
                                             "true_labels": true[flipped].tolist()})
    for epoch in range(1, epochs + 1):
        model.train()
        order = rng.permutation(train)
        for s in range(0, len(order), batch_size):
            b = torch.from_numpy(order[s : s + batch_size])
            opt.zero_grad()
            loss_fn(model(xt[b]), yt[b]).backward()
            opt.step()
        rec.record_epoch(model, epoch)
        if on_epoch is not None:
            pred = np.load(ds / "prediction" / f"{epoch}.npy").argmax(1)
            on_epoch(epoch, epochs, {"train_acc": float((pred[train] == y[train]).mean()),
                                     "test_acc": float((pred[test] == y[test]).mean()) if len(test) else float("nan")})
    return Path(out)


def _read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path`` ({} when the file is missing)."""
    import json

    return json.loads(path.read_text()) if path.is_file() else {}
