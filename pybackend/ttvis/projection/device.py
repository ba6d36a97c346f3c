"""Torch device choice and per-job determinism, shared by every method and by preprocessing.

Same seed, same output: on the CPU the kernels ttvis uses are deterministic as they are
(checked: two DVI runs give byte-identical projections without any global switch), so a
job there touches no process-wide torch setting and cannot change what another thread
computes. CUDA's scatter-add (the backward of index gathers) and cuBLAS are not: a job on
CUDA switches ``torch.use_deterministic_algorithms`` on while it runs, counted, so with
several jobs it stays on until the last one ends and is then put back as it was.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator

import torch

# cuBLAS needs a fixed workspace for deterministic results; it must be set before CUDA starts
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

_guard = threading.Lock()
_holders = 0
_saved: tuple[bool, bool] = (False, False)


def resolve_device(device: str = "auto") -> str:
    """``"cuda"`` when asked for or (with ``"auto"``) available, else ``"cpu"``.

    Raises:
        ValueError: ``"cuda"`` requested but not available, or an unknown device.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda: no CUDA GPU is available here; use --device cpu or auto")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device: expected auto, cpu or cuda, found {device!r}")
    return device


@contextlib.contextmanager
def job_determinism(device: str) -> Iterator[None]:
    """Deterministic kernels for one job's work on ``device`` (see the module docstring).

    Args:
        device: ``"cpu"`` (nothing to switch) or ``"cuda"``.
    """
    global _holders, _saved
    if device != "cuda":
        yield
        return
    with _guard:
        if _holders == 0:
            _saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
            torch.use_deterministic_algorithms(True, warn_only=True)
        _holders += 1
    try:
        yield
    finally:
        with _guard:
            _holders -= 1
            if _holders == 0:
                torch.use_deterministic_algorithms(_saved[0], warn_only=_saved[1])
