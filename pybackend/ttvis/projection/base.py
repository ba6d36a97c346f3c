"""The one interface every visualization method implements (DESIGN.md "Visualization methods").

A method gets arrays, never folders: an :class:`EpochSource` hands it, per epoch, the
representations (float32 ``[N, D]``), the indices it may fit on, and the prediction head
as a callable (or None for a run without classes); seed and device come with it. It
yields one immutable :class:`EpochResult` per epoch (positions ``[N, 2]``, boundary
samples if any, and an :class:`InverseMap` if it has one). After each yielded epoch,
:meth:`VisMethod.epoch_state` says what to save so that a stopped run can continue from
there (:meth:`VisMethod.fit` with ``resume``), and :meth:`VisMethod.restore` rebuilds a
saved epoch (for evaluation). Per-epoch methods (DVI, UMAP) and all-epochs-at-once methods
(TimeVis, AlignedUMAP) both fit it: the latter fit first, then yield every epoch.

Reading and writing folders stays in :mod:`ttvis.dynamics`; the pipeline builds the
source from a run and writes what the method yields.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, ClassVar, Iterator, Mapping, Protocol

import numpy as np

from ttvis.projection.schema import Params

OnStage = Callable[[int, str], None]

#: original ``config.json`` VISUALIZATION keys that are run settings, not a method's
RUN_CONFIG_KEYS = {"RESOLUTION": "resolution"}


class PredictionHeadLike(Protocol):
    """What a method may use of the subject model's prediction head (see :mod:`ttvis.projection.head`)."""

    fn: Callable  # torch: [M, D] float32 tensor on ``device`` -> [M, C] class scores
    n_classes: int
    device: str

    def probabilities(self, h: np.ndarray) -> np.ndarray:
        """float32 ``[M, C]`` softmax probabilities of representations ``[M, D]``."""


class EpochSource(Protocol):
    """The arrays of a run, as a method sees them.

    Attributes:
        epochs: every epoch with representations, ascending.
        n_samples: ``N``; dim: ``D``; n_classes: ``C`` (0 without classes).
        fit_index: int64 ``[M]`` the samples the method may fit on (``fit_on``).
    """

    epochs: list[int]
    n_samples: int
    dim: int
    n_classes: int
    fit_index: np.ndarray

    def representation(self, epoch: int) -> np.ndarray:
        """float32 ``[N, D]`` (read-only; may be memory-mapped)."""

    def head(self, epoch: int) -> PredictionHeadLike | None:
        """The subject model's prediction head at ``epoch``, or None (no classes)."""


@dataclass(frozen=True)
class InverseMap:
    """A method's learned map between representation space and the plane.

    Attributes:
        encode: float32 ``[M, D]`` (raw representation space) -> float32 ``[M, 2]``.
        decode: float32 ``[M, 2]`` -> float32 ``[M, D]``.
    """

    encode: Callable[[np.ndarray], np.ndarray]
    decode: Callable[[np.ndarray], np.ndarray]


def _frozen(a: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
    a = np.array(a, dtype=dtype, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class EpochResult:
    """One epoch's projection (immutable: arrays are read-only copies, stats a read-only mapping).

    Attributes:
        epoch: the training epoch.
        positions: float32 ``[N, 2]`` every sample's 2-D position.
        boundary: float32 ``[B, D]`` boundary samples used (raw space), ``[0, D]`` if none.
        boundary_positions: float32 ``[B, 2]``.
        inverse: the method's encode/decode, or None (no territories, no PPR).
        stats: training statistics (JSON-able), recorded under ``training`` in ``eval.json``.
    """

    epoch: int
    positions: np.ndarray
    boundary: np.ndarray
    boundary_positions: np.ndarray
    inverse: InverseMap | None
    stats: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def make(epoch: int, positions: np.ndarray, inverse: InverseMap | None = None, boundary: np.ndarray | None = None,
             boundary_positions: np.ndarray | None = None, stats: Mapping[str, Any] | None = None, dim: int = 0) -> "EpochResult":
        """Build a result from arrays (copied and made read-only)."""
        b = np.zeros((0, dim), np.float32) if boundary is None else boundary
        bp = np.zeros((0, 2), np.float32) if boundary_positions is None else boundary_positions
        return EpochResult(int(epoch), _frozen(positions), _frozen(b), _frozen(bp), inverse, MappingProxyType(dict(stats or {})))


@dataclass(frozen=True)
class Resume:
    """Where a stopped run continues: its last finished epoch, the state saved with it
    (:meth:`VisMethod.epoch_state`) and that epoch's positions float32 ``[N, 2]``."""

    epoch: int
    state: Mapping[str, Any]
    positions: np.ndarray


class Cancelled(Exception):
    """Raised inside training when the caller's cancellation token is set."""


def check_cancel(cancel: threading.Event | None) -> None:
    """Raise :class:`Cancelled` when ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        raise Cancelled()


class VisMethod:
    """Base of the visualization methods (see the module docstring).

    Class attributes every method sets: ``name`` (DESIGN.md's standard name), ``summary``
    (one line), ``paper`` (citation), ``has_inverse``, ``Params`` (its pydantic model) and
    optionally ``config_keys`` (original ``config.json`` keys of its block -> parameter
    names) and ``config_ignored`` (keys with no counterpart -> why).

    Args:
        params: an instance of ``Params``; seed: every random choice derives from it;
        device: resolved torch device (``"cpu"`` or ``"cuda"``).
    """

    name: ClassVar[str] = "?"
    summary: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    has_inverse: ClassVar[bool] = False
    #: each epoch depends only on the epochs before it (DVI, UMAP): a run can grow, epoch by
    #: epoch, and the results follow it (``ttvis watch``); False for methods fitted on all
    #: epochs at once (TimeVis, AlignedUMAP), which start over when epochs are added
    per_epoch: ClassVar[bool] = True
    Params: ClassVar[type[Params]] = Params
    config_keys: ClassVar[dict[str, str]] = {}
    config_ignored: ClassVar[dict[str, str]] = {}

    def __init__(self, params: Params, seed: int = 0, device: str = "cpu"):
        self.params, self.seed, self.device = params, seed, device

    def fit(self, source: EpochSource, epochs: list[int], *, resume: Resume | None = None,
            cancel: threading.Event | None = None, on_stage: OnStage | None = None) -> Iterator[EpochResult]:
        """Project ``epochs`` (ascending), yielding each epoch's result as soon as it is final.

        Args:
            source: the run's arrays; epochs: which to project.
            resume: continue after ``resume.epoch`` (skip the epochs up to it).
            cancel: set to stop (raises :class:`Cancelled` at the next check).
            on_stage: ``on_stage(epoch, stage)`` as each step starts (progress displays).

        Raises:
            Cancelled: stopped; ValueError: ``resume`` state that does not fit.
        """
        raise NotImplementedError

    def prepare(self, source: EpochSource, epoch: int, on_stage: OnStage | None = None) -> dict[str, Any]:
        """Work on one epoch that depends on nothing but that epoch (kNN graph, complex, boundary
        samples), so it can run ahead or on another machine; :meth:`fit` asks for it through
        ``source.prepared``. Plain arrays and numbers only. Default: nothing."""
        return {}

    def epoch_state(self, result: EpochResult) -> dict[str, Any]:
        """What to save with a just-yielded epoch (tensors, numbers, lists): enough to
        :meth:`restore` it and to :meth:`fit` on from it. Default: nothing."""
        return {}

    def restore(self, state: Mapping[str, Any], source: EpochSource, epoch: int, positions: np.ndarray) -> EpochResult:
        """Rebuild a saved epoch's result from its state and positions (for ``ttvis eval``).

        Raises:
            KeyError/ValueError/RuntimeError: a state that does not fit (callers name the file).
        """
        return EpochResult.make(epoch, positions, dim=source.dim)

    @classmethod
    def params_from_config(cls, block: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """This method's parameters from its block of an original-layout ``config.json``
        (``{"VISUALIZATION": {...}, ...}``), and one note per key that was not used: why, for the
        keys the method knows it ignores (``config_ignored``), else that it is unknown.
        ``ENCODER_DIMS`` becomes ``hidden`` for a method that has it."""
        vis = block.get("VISUALIZATION") if isinstance(block.get("VISUALIZATION"), dict) else {}
        boundary = vis.get("BOUNDARY") if isinstance(vis.get("BOUNDARY"), dict) else {}
        flat = {**{k: v for k, v in vis.items() if k != "BOUNDARY"}, **boundary}
        out = {name: flat[key] for key, name in cls.config_keys.items() if key in flat}
        notes = [f"{key} not used: {why}" for key, why in cls.config_ignored.items() if key in flat]
        handled = set(cls.config_keys) | set(cls.config_ignored) | set(RUN_CONFIG_KEYS)
        enc = flat.get("ENCODER_DIMS")
        if "hidden" in cls.Params.model_fields:
            handled |= {"ENCODER_DIMS", "DECODER_DIMS"}
            if isinstance(enc, list) and len(enc) >= 2:
                out["hidden"] = [int(v) for v in enc[1:-1]]
                dec = flat.get("DECODER_DIMS")
                if isinstance(dec, list) and list(dec) != list(reversed(enc)):
                    notes.append("DECODER_DIMS is not ENCODER_DIMS reversed; ttvis's decoder mirrors the encoder")
        notes += [f"{key} is not a {cls.name} setting ttvis knows; ignored" for key in flat if key not in handled]
        return out, notes

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """What ``ttvis/methods`` says of the method: name, summary, paper, hasInverse and
        the JSON Schema of its parameters."""
        from ttvis.projection.schema import json_schema

        return {"name": cls.name, "description": cls.summary, "paper": cls.paper, "hasInverse": cls.has_inverse,
                "perEpoch": cls.per_epoch, "schema": json_schema(cls.Params)}
