"""Shared parts of the methods with an encoder/decoder (DVI, Trustvis, TimeVis): per-epoch
normalisation, the frozen inverse map of a trained model, and its saved state.

Representations are normalised before they reach the networks (``(x - mean) / scale``, with
``scale`` the root mean variance over the fitted samples): epoch-1 features of a fresh
network are nearly identical (per-dimension std 0.016 on the digits run against 0.70 at
epoch 20), and without it a fresh encoder maps every sample within 1e-3 of each other
(DESIGN.md's first measured pitfall).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import torch

from ttvis.projection.base import EpochResult, EpochSource, InverseMap
from ttvis.projection.networks import VisModel


def normaliser(x: np.ndarray) -> tuple[np.ndarray, float]:
    """``(mean float32 [D], scale)`` of float32 ``x`` ``[M, D]``: scale is the root mean
    per-dimension variance (a small floor keeps it positive)."""
    mean = x.mean(0).astype(np.float32)
    scale = float(np.sqrt(x.var(0).sum() / x.shape[1])) + 1e-12
    return mean, scale


def batched(fn: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray, device: str, batch: int = 65536) -> np.ndarray:
    """Apply a torch function to float32 rows of ``x`` in batches, without gradients; float32 out."""
    out = []
    with torch.no_grad():
        for s in range(0, x.shape[0], batch):
            out.append(fn(torch.from_numpy(np.array(x[s : s + batch], dtype=np.float32)).to(device)).cpu().numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0,), np.float32)


def frozen_inverse(model: VisModel, mean: np.ndarray, scale: float, device: str) -> tuple[InverseMap, dict[str, Any]]:
    """A copy of ``model`` fixed now, as an :class:`InverseMap` in raw representation space,
    and the state that rebuilds it (:func:`inverse_from_state`).

    Args:
        model: the trained encoder/decoder (on ``device``); mean float32 ``[D]``, scale: its
            normalisation.
    """
    frozen = VisModel(model.dim, model.hidden).to(device)
    frozen.load_state_dict(model.state_dict())
    frozen.eval()
    m_t = torch.tensor(np.array(mean, np.float32), device=device)  # a copy: mean may be read-only (from a worker)
    inv = InverseMap(encode=lambda v: batched(lambda t: frozen.encode((t - m_t) / scale), v, device),
                     decode=lambda xy: batched(lambda t: frozen.decode(t) * scale + m_t, xy, device))
    state = {"model": {k: v.detach().cpu() for k, v in frozen.state_dict().items()},
             "mean": torch.tensor(np.array(mean, np.float32)), "scale": float(scale), "dim": int(model.dim),
             "hidden": list(model.hidden)}
    return inv, state


def model_from_state(state: Mapping[str, Any], device: str) -> tuple[VisModel, np.ndarray, float]:
    """The encoder/decoder, mean and scale saved by :func:`frozen_inverse`.

    Raises:
        KeyError/RuntimeError: a state that does not fit.
    """
    model = VisModel(int(state["dim"]), [int(h) for h in state["hidden"]])
    model.load_state_dict(state["model"])
    return model.to(device), state["mean"].numpy(), float(state["scale"])


def inverse_from_state(state: Mapping[str, Any], device: str) -> InverseMap:
    """Rebuild the :class:`InverseMap` saved by :func:`frozen_inverse`."""
    model, mean, scale = model_from_state(state, device)
    return frozen_inverse(model, mean, scale, device)[0]


def restore_epoch(state: Mapping[str, Any], source: EpochSource, epoch: int, positions: np.ndarray, device: str) -> EpochResult:
    """Rebuild a saved epoch of an encoder/decoder method: its inverse map (the state of
    :func:`frozen_inverse`) and its boundary samples (``state["boundary"]``).

    Raises:
        KeyError/RuntimeError: a state that does not fit.
    """
    model, mean, scale = model_from_state(state, device)
    inv = frozen_inverse(model, mean, scale, device)[0]
    bnd = state.get("boundary")
    bnd = bnd.numpy().astype(np.float32) if bnd is not None and len(bnd) else np.zeros((0, source.dim), np.float32)
    return EpochResult.make(epoch, positions, inv, bnd, inv.encode(bnd) if len(bnd) else None, dim=source.dim)
