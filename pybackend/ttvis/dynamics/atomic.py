"""Atomic writers: write to a temp file in the destination folder, then rename.

Files get the mode an ordinary ``open`` would (``0666`` less the umask), not ``mkstemp``'s
``0600``. A crash or cancellation never leaves a half-written file behind, and an existing
file is replaced only once its successor is complete (``os.replace`` is atomic on
POSIX and Windows when source and destination share a filesystem).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def current_umask() -> int:
    """The process's file-mode creation mask (e.g. ``0o022``), read without changing it where
    the platform allows (``/proc/self/status`` on Linux); elsewhere it was read once, at import
    (set and restored at once, before any writer thread runs)."""
    if _UMASK_AT_IMPORT is not None:
        return _UMASK_AT_IMPORT
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _umask_once() -> int | None:
    """None on Linux (read each time, so a later ``os.umask`` counts), else the mask at import."""
    if os.path.exists("/proc/self/status"):
        return None
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK_AT_IMPORT = _umask_once()


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb") -> Iterator[io.IOBase]:
    """Open a temp file beside ``path``; on success rename it onto ``path``.

    Args:
        path: destination file; its parent folders are created.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).

    Raises:
        OSError: when the folder cannot be written; the destination is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 would hide a shared run's results from others
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Atomically write ``array`` as a ``.npy`` file (any shape and dtype)."""
    with atomic_open(path, "wb") as f:
        np.save(f, np.asarray(array), allow_pickle=False)


def save_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented UTF-8 JSON (NaN written as null)."""
    text = json.dumps(_json_safe(obj), indent=2, allow_nan=False)
    with atomic_open(path, "w") as f:
        f.write(text + "\n")


def save_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Atomically write raw bytes (an encoded PNG, a GIF, a checkpoint)."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def save_png(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Atomically write an image array as PNG (Pillow).

    Args:
        rgb: uint8 ``[H, W, 3]`` or ``[H, W, 4]``; row 0 is the top of the image.
    """
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
    save_bytes(path, buf.getvalue())


def save_torch(path: str | os.PathLike, obj: Any) -> None:
    """Atomically ``torch.save`` a state dict (or dict of them)."""
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    save_bytes(path, buf.getvalue())


def _json_safe(obj: Any) -> Any:
    """Turn numpy scalars/arrays and non-finite floats into plain JSON values."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if np.isfinite(f) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


@contextlib.contextmanager
def new_folder(dst: str | os.PathLike, what: str = "writing") -> Iterator[Path]:
    """Build a folder beside ``dst`` (``.<name>.<what>``) and rename it onto ``dst`` when the
    block succeeds; on any exception it is removed and ``dst`` stays as it was.

    Args:
        dst: the folder to create; it must not exist or be empty (an empty one is replaced).
        what: the temp folder's suffix, naming the job (``"converting"``, ``"importing"``).

    Yields:
        The temp folder to write into.

    Raises:
        OSError: the folders cannot be written or renamed (``dst`` non-empty: ``OSError``
        from the rename).
    """
    import shutil

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.{what}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
        if dst.exists():
            dst.rmdir()
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
