"""Train a small CNN on Fashion-MNIST and record every epoch: the built-in demo at real size.

Fashion-MNIST (Xiao, Rasul and Vollgraf 2017, Zalando Research, MIT licence): 60,000 training
and 10,000 test images, 28x28 grey, 10 classes. The data comes from Debian's package
``dataset-fashion-mnist``, which installs the four original idx ``.gz`` files under
:data:`DEFAULT_DIR`; they are read with numpy + gzip (:func:`read_idx`). Training and recording
are :func:`ttvis.demo.training.train_and_record`, shared with the digits demo.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Callable

import numpy as np

from ttvis.demo.training import train_and_record
from ttvis.dynamics.errors import DynamicsError

DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_DIR = "TTVIS_FASHION_MNIST"  # another folder holding the four files (default: DEFAULT_DIR)
INSTALL = "apt-get install dataset-fashion-mnist"
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SOURCE = {"name": "Fashion-MNIST", "package": "dataset-fashion-mnist (Debian)", "licence": "MIT",
          "paper": "Xiao, Rasul, Vollgraf 2017, arXiv:1708.07747"}


def data_dir(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the four idx files: ``root``, else ``$TTVIS_FASHION_MNIST``, else :data:`DEFAULT_DIR`.

    Raises:
        FileNotFoundError: a file is missing; the message names it and the ``apt-get install`` line.
    """
    d = Path(root or os.environ.get(ENV_DIR) or DEFAULT_DIR)
    missing = [f for pair in FILES.values() for f in pair if not (d / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{d / missing[0]}: expected the Fashion-MNIST idx files of Debian's package "
                                f"dataset-fashion-mnist; install it with `{INSTALL}` (or set ${ENV_DIR} to a folder holding "
                                f"{', '.join(f for pair in FILES.values() for f in pair)})")
    return d


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a gzipped idx file of unsigned bytes (LeCun's MNIST format) as a uint8 array.

    The header is two zero bytes, type byte 0x08 (ubyte), the number of dimensions ``d``, then
    ``d`` big-endian uint32 sizes; the data follows.

    Returns:
        uint8 array of the header's shape, e.g. ``[60000, 28, 28]`` images or ``[60000]`` labels.

    Raises:
        DynamicsError: not gzip, a wrong magic number, or a size that disagrees with the header.
    """
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:
        raise DynamicsError(path, "a gzip-compressed idx file", f"{type(exc).__name__}: {exc}") from None
    if len(data) < 4 or data[:3] != b"\x00\x00\x08" or not 1 <= data[3] <= 4:
        raise DynamicsError(path, "an idx file of unsigned bytes (magic 0x0000080D, D = 1..4 dimensions)",
                            f"header {data[:4].hex() or 'empty'}")
    nd = data[3]
    shape = tuple(int(s) for s in np.frombuffer(data, ">u4", nd, 4)) if len(data) >= 4 + 4 * nd else ()
    if len(shape) != nd or len(data) != 4 + 4 * nd + int(np.prod(shape)):
        raise DynamicsError(path, f"{4 + 4 * nd} header bytes + {int(np.prod(shape)) if shape else '?'} data bytes "
                            f"(shape {list(shape)})", f"{len(data)} bytes")
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(shape)


def load_fashion_mnist(root: str | os.PathLike | None = None, limit: int | None = None,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fashion-MNIST as uint8 images ``[N, 28, 28]``, int64 labels ``[N]`` and int64 train/test indices.

    The samples are the training images then the test images, in the files' order; the split
    is the dataset's own (60,000 / 10,000).

    Args:
        root: folder of the four idx files (see :func:`data_dir`).
        limit: keep ``limit`` samples (20 .. 70,000): a stratified random subset of each split
            (scikit-learn's ``train_test_split`` with ``stratify``, seeded), sized in the dataset's
            6:1 proportion, in the original order; None keeps all 70,000.
        seed: seeds the subset.

    Raises:
        FileNotFoundError: the package is not installed (see :func:`data_dir`).
        DynamicsError: a malformed file, or images and labels that disagree.
        ValueError: ``limit`` out of range.
    """
    d = data_dir(root)
    xs, ys = [], []
    for images, labels in FILES.values():
        x, y = read_idx(d / images), read_idx(d / labels)
        if x.ndim != 3 or x.shape[1:] != (28, 28) or y.ndim != 1 or len(x) != len(y):
            raise DynamicsError(d / images, f"[N, 28, 28] images matching the {len(y)} labels of {labels}",
                                f"shape {list(x.shape)}")
        if y.size and y.max() >= len(CLASSES):
            raise DynamicsError(d / labels, f"labels 0..{len(CLASSES) - 1}", f"label {int(y.max())}")
        xs.append(x)
        ys.append(y.astype(np.int64))
    n_tr, n_all = len(ys[0]), len(ys[0]) + len(ys[1])
    tr, te = np.arange(n_tr, dtype=np.int64), np.arange(n_tr, n_all, dtype=np.int64)
    y = np.concatenate(ys)
    if limit is not None and limit != n_all:
        if not 2 * len(CLASSES) <= limit <= n_all:
            raise ValueError(f"limit: expected {2 * len(CLASSES)} to {n_all} samples, found {limit}")
        from sklearn.model_selection import train_test_split

        k_tr = int(round(limit * n_tr / n_all))
        k_tr = min(max(k_tr, len(CLASSES)), limit - len(CLASSES))
        rng = np.random.default_rng(seed)
        pick = [np.sort(train_test_split(idx, train_size=k, stratify=y[idx], random_state=seed)[0])
                if len(idx) - k >= len(CLASSES)  # else too few left out to stratify: drop a handful at random
                else np.setdiff1d(idx, rng.choice(idx, len(idx) - k, replace=False))
                for idx, k in ((tr, k_tr), (te, limit - k_tr))]
        keep = np.concatenate(pick)
        tr, te = np.arange(len(pick[0]), dtype=np.int64), np.arange(len(pick[0]), limit, dtype=np.int64)
        return np.concatenate(xs)[keep], y[keep], tr, te
    return np.concatenate(xs), y, tr, te


def record_fashion_run(
    out: str | os.PathLike,
    epochs: int = 20,
    seed: int = 0,
    lr: float = 1e-3,
    batch_size: int = 64,
    on_epoch: Callable[[int, int, dict], None] | None = None,
    noise: float = 0.0,
    limit: int | None = None,
    root: str | os.PathLike | None = None,
) -> Path:
    """Train :class:`~ttvis.demo.fashion_model.FashionCNN` (256-d penultimate layer) on Fashion-MNIST
    and record each epoch to ``out``, sprites (the 28x28 images) included.

    Args:
        out: run folder to write (canonical layout).
        epochs: training epochs (1-based numbering on disk).
        seed: seeds the subset, the weights, the flipped labels and the batch order.
        lr: Adam learning rate.
        batch_size: training mini-batch size.
        on_epoch: ``on_epoch(epoch, total, {"train_acc": .., "test_acc": ..})`` after each epoch.
        noise: share of the training labels replaced by another class before training
            (``dataset/noise.json`` says which; see :func:`ttvis.demo.training.train_and_record`).
        limit: a stratified subset of this many samples from both splits (see :func:`load_fashion_mnist`).
        root: folder of the idx files (default: Debian's, see :func:`data_dir`).

    Returns:
        The run folder's path.

    Raises:
        FileNotFoundError: the package ``dataset-fashion-mnist`` is not installed.
    """
    from ttvis.demo.fashion_model import FashionCNN

    images, y, tr, te = load_fashion_mnist(root, limit, seed)
    x = (images.astype(np.float32) / 255.0)[:, None, :, :]
    return train_and_record(out, FashionCNN, {"n_classes": len(CLASSES), "width": 256}, x, y, tr, te, CLASSES,
                            epochs, seed, lr, batch_size, on_epoch, noise, images=images, info={"source": SOURCE})
