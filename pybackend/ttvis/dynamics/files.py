"""Validated low-level reads shared by every layout adapter: ``.npy`` arrays (never
pickles), ``.npy`` headers, JSON, torch tensors (``weights_only=True``) and epoch listings.

Every failure raises one :class:`~ttvis.dynamics.errors.DynamicsError` naming the file.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ttvis.dynamics.errors import DynamicsError

_EPOCH_FILE = re.compile(r"^(\d+)\.npy$")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SPRITE_BYTES = 1 << 20  # a thumbnail; anything bigger is refused


def inside(path: str | os.PathLike, roots: Sequence[Path]) -> Path:
    """``path`` with every symbolic link resolved, required to lie inside one of ``roots``.

    Every file a run is read from goes through this, so a link inside a run (say
    ``dataset/sprites/5.png -> /etc/passwd``) can never hand out a file from elsewhere.

    Args:
        path: the file (it need not exist: the part that exists is resolved).
        roots: resolved folders the file may lie in (the run folder, or the server's
            workspace folders).

    Returns:
        The resolved path.

    Raises:
        DynamicsError: the resolved path lies outside every root (names the link and its target).
    """
    real = Path(os.path.realpath(path))
    if any(real == r or real.is_relative_to(r) for r in roots):
        return real
    where = str(roots[0]) if len(roots) == 1 else " or ".join(map(str, roots))
    raise DynamicsError(path, f"a file inside {where}", f"a link to {real}, outside it (refused)")


def read_png(path: Path, limit: int = MAX_SPRITE_BYTES) -> bytes:
    """The bytes of a PNG thumbnail, checked: at most ``limit`` bytes and a PNG signature.

    Raises:
        DynamicsError: missing, larger than ``limit``, or not a PNG.
    """
    try:
        size = path.stat().st_size
        if size > limit:
            raise DynamicsError(path, f"a PNG thumbnail of at most {limit // 1024} KiB", f"{size // 1024} KiB")
        data = path.read_bytes()
    except OSError as exc:
        raise DynamicsError(path, "a readable PNG thumbnail", f"unreadable ({exc.strerror or exc})") from None
    if not data.startswith(PNG_SIGNATURE):
        raise DynamicsError(path, "a PNG thumbnail", "a file without the PNG signature")
    return data


def load_array(path: Path, what: str, mmap: bool = False) -> np.ndarray:
    """Load one ``.npy`` file without pickles.

    Args:
        path: the file.
        what: what the file should hold, for the error message ("float32 [N, D] representations").
        mmap: map it read-only instead of reading it (``np.load(mmap_mode="r")``): pages are
            read when touched and the file never has to fit in memory.

    Raises:
        DynamicsError: missing, unreadable, truncated or corrupt file.
    """
    if not path.is_file():
        raise DynamicsError(path, f"a .npy file of {what}", "no such file")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (ValueError, OSError, EOFError) as exc:
        raise DynamicsError(path, f"a readable .npy file of {what}", f"a corrupt file ({exc})") from None


def peek_shape(path: Path, what: str) -> tuple[int, ...]:
    """The shape stored in a ``.npy`` header, without reading the data.

    Raises:
        DynamicsError: missing or corrupt file.
    """
    return peek_header(path, what)[0]


def peek_header(path: Path, what: str) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype stored in a ``.npy`` header (the data is not read, but the file must
    be long enough to hold it).

    Raises:
        DynamicsError: missing, corrupt or truncated file.
    """
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(f)
            start = f.tell()
        need = start + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if path.stat().st_size < need:
            raise ValueError(f"{path.stat().st_size} bytes, the header says {need}: truncated")
        return tuple(shape), dtype
    except FileNotFoundError:
        raise DynamicsError(path, f"a .npy file of {what}", "no such file") from None
    except (ValueError, OSError, EOFError) as exc:
        raise DynamicsError(path, f"a readable .npy file of {what}", f"a corrupt file ({exc})") from None


def load_json(path: Path, what: str) -> Any:
    """Load a JSON file, raising :class:`DynamicsError` naming it on any problem."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DynamicsError(path, what, "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DynamicsError(path, f"valid JSON with {what}", f"unreadable ({exc})") from None


def check_finite(arr: np.ndarray, path: Path, what: str, chunk: int = 1 << 16) -> None:
    """Raise :class:`DynamicsError` if ``arr`` holds NaN or inf (checked in row chunks, so a
    memory-mapped array is never read whole into memory)."""
    bad = 0
    for s in range(0, max(arr.shape[0], 1), chunk):
        ok = np.isfinite(arr[s : s + chunk])
        if not ok.all():
            bad += int((~ok).any(axis=tuple(range(1, ok.ndim))).sum()) if ok.ndim > 1 else int((~ok).sum())
    if bad:
        raise DynamicsError(path, f"finite {what}", f"NaN or inf in {bad} row(s)")


def list_epochs(folder: Path) -> list[int]:
    """The sorted epoch numbers ``E`` of the ``E.npy`` files in ``folder`` (empty if none)."""
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for name in os.listdir(folder) if (m := _EPOCH_FILE.match(name)))


def load_tensor(path: Path, what: str) -> np.ndarray:
    """Load a tensor saved with ``torch.save`` as a numpy array, with ``weights_only=True``.

    Args:
        path: the ``.pth`` file.
        what: what it should hold, for the error message.

    Raises:
        DynamicsError: missing, unreadable, pickled objects other than tensors, or not a tensor.
    """
    import torch

    if not path.is_file():
        raise DynamicsError(path, f"a torch.save file of {what}", "no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe files
        raise DynamicsError(path, f"a readable torch.save file of {what}", f"unreadable ({str(exc).splitlines()[0][:200]})") from None
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().numpy()
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(v, (int, float)) for v in obj):
        return np.asarray(obj)
    raise DynamicsError(path, f"a tensor of {what}", type(obj).__name__)
