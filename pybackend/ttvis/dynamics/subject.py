"""Loading the recorded subject model (``model.py`` + the epoch's checkpoint, in any layout).

Importing ``model.py`` runs the user's code, so it happens only for a folder the
user asked to process. Checkpoints load with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from ttvis.dynamics.errors import DynamicsError
from ttvis.dynamics.folder import TrainingDynamics

_EXPECTED = "a torch.nn.Module subclass with feature(x) -> [B, D] and prediction(h) -> [B, C] methods"

#: the check every import of a run's ``model.py`` passes first (None: allowed, as on the command line)
_CODE_GATE: contextvars.ContextVar[Callable[[Path], str | None] | None] = contextvars.ContextVar("ttvis_code_gate", default=None)


class UntrustedCodeError(DynamicsError):
    """Importing a run's ``model.py`` was refused by the current code gate (:func:`code_gate`),
    e.g. the server's workspace is not (or no longer) trusted.

    Args:
        path: the ``model.py`` that would have been imported.
        reason: why, and what to do (the gate's answer).
    """

    def __init__(self, path: Path, reason: str):
        super().__init__(path, "permission to import and run this model.py (your subject model's code)", reason)
        self.reason = reason


@contextlib.contextmanager
def code_gate(check: Callable[[Path], str | None]) -> Iterator[None]:
    """Within the block (in this thread / asyncio context only), every import of a run's
    ``model.py`` asks ``check(path)`` first, at the moment of the import: None allows it, a
    string refuses it with :class:`UntrustedCodeError` carrying that string. The server's job
    threads set one that reads the workspace's *current* trust, so a ``model.py`` that appears
    in a watched folder later, or trust revoked mid-job, stops the import. Outside any block
    (the command line) imports are allowed.

    Args:
        check: ``check(path: Path) -> str | None``.
    """
    token = _CODE_GATE.set(check)
    try:
        yield
    finally:
        _CODE_GATE.reset(token)


def _import_source(path: Path) -> Any:
    """Import the user's ``model.py`` as a module named after its content's hash: the same
    file is imported once per process, and an edited file is imported afresh (never a
    stale class from before the edit). The one place a run's code is loaded: the current
    :func:`code_gate` is asked first, every time (a module imported earlier is not handed
    out either when the gate refuses).

    Raises:
        UntrustedCodeError: the code gate refused the import.
        DynamicsError: unreadable, or the import raised.
    """
    gate = _CODE_GATE.get()
    refused = gate(path) if gate is not None else None
    if refused is not None:
        raise UntrustedCodeError(path, refused)
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:20]
    except OSError as exc:
        raise DynamicsError(path, f"a Python file defining {_EXPECTED}", f"unreadable ({exc.strerror or exc})") from None
    name = f"_ttvis_subject_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DynamicsError(path, f"a Python file defining {_EXPECTED}", "not importable")
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except Exception as exc:  # the user's code can raise anything
        raise DynamicsError(path, f"a Python file defining {_EXPECTED}", f"an error on import: {type(exc).__name__}: {exc}") from None
    sys.modules[name] = mod
    return mod


def load_subject_model(run: TrainingDynamics, epoch: int, device: str = "cpu") -> Any | None:
    """The subject model at ``epoch`` in eval mode, or None when the run has no model.

    Args:
        run: the training run (any object with ``model_source``, ``checkpoint_path(epoch)``,
            ``model_spec`` and ``model_spec_source``, e.g. :class:`TrainingDynamics`).
        epoch: a recorded epoch with a checkpoint.
        device: torch device string.

    Returns:
        ``torch.nn.Module`` with ``feature`` and ``prediction``, or None when
        ``model.py`` or the checkpoint is absent.

    Raises:
        DynamicsError: ``model.py`` fails to import or lacks the class or its
            ``feature``/``prediction`` methods, or the checkpoint does not fit the class
            (names the file and what was expected).
    """
    src, ckpt = run.model_source, run.checkpoint_path(epoch)
    if src is None or ckpt is None:
        return None
    return build_subject_model(src, run.model_spec, run.model_spec_source, ckpt, device)


def build_subject_model(src: Path, spec: dict | None, spec_source: Path, ckpt: Path, device: str = "cpu") -> Any:
    """Import ``src``, construct the model class named by ``spec`` (or the one class with
    ``feature``/``prediction``), and load the state dict ``ckpt`` with ``weights_only=True``.

    Args:
        src: the ``model.py``.
        spec: ``{"class": name, "kwargs": {...}}`` or None; ``name`` may also be a factory
            function returning the model (as DeepVisualInsight's ``resnet18``).
        spec_source: the file ``spec`` came from, for error messages.
        ckpt: the checkpoint.
        device: torch device string.

    Raises:
        DynamicsError: as :func:`load_subject_model`.
    """
    import torch

    mod = _import_source(src)
    cls_name = spec.get("class") if isinstance(spec, dict) else None
    if cls_name:
        cls = getattr(mod, cls_name, None)
        if cls is None:
            raise DynamicsError(src, f"class {cls_name} (named in {spec_source.name}), {_EXPECTED}", "no such class")
    else:
        cands = [
            v for v in vars(mod).values()
            if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == mod.__name__
            and hasattr(v, "feature") and hasattr(v, "prediction")
        ]
        if len(cands) != 1:
            raise DynamicsError(src, f"exactly one {_EXPECTED} (or a class named in {spec_source.name})", f"{len(cands)}")
        cls = cands[0]
    name = getattr(cls, "__name__", str(cls_name))
    if isinstance(cls, type) and not (callable(getattr(cls, "feature", None)) and callable(getattr(cls, "prediction", None))):
        raise DynamicsError(src, f"class {name}: {_EXPECTED}", "no feature/prediction method")
    try:
        model = cls(**((spec or {}).get("kwargs") or {}))
    except Exception as exc:
        raise DynamicsError(src, f"{name}(**kwargs from {spec_source.name}) to construct", f"{type(exc).__name__}: {exc}") from None
    if not (callable(getattr(model, "feature", None)) and callable(getattr(model, "prediction", None))
            and callable(getattr(model, "load_state_dict", None))):
        raise DynamicsError(src, f"{name}: {_EXPECTED}", "no feature/prediction method")
    try:
        state = torch.load(ckpt, map_location=device, weights_only=True)
    except Exception as exc:
        raise DynamicsError(ckpt, "a torch state_dict saved with torch.save", f"unreadable ({str(exc).splitlines()[0][:200]})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise DynamicsError(ckpt, f"a state_dict for {name} ({src.name})", type(state).__name__)
    try:
        model.load_state_dict(state)
    except Exception as exc:
        raise DynamicsError(ckpt, f"a state_dict for {name} ({src.name})", f"a mismatch: {str(exc).splitlines()[0]}") from None
    return model.to(device).eval()


def forward_batched(
    model: Any,
    inputs: Any,
    batch_size: int = 512,
    with_predictions: bool = True,
    feature_fn: Callable[[Any, Any], Any] | None = None,
    prediction_fn: Callable[[Any, Any], Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Representations and predictions of ``inputs`` through the subject model, batched,
    in eval mode, without gradients, on the model's device; the model's training mode
    is restored afterwards.

    Args:
        model: ``torch.nn.Module`` with ``feature(x)`` and ``prediction(h)`` (or the fns below).
        inputs: torch tensor ``[N, ...]`` of model inputs (moved to the model's device per batch).
        batch_size: samples per forward pass.
        with_predictions: also compute ``prediction(feature(x))``.
        feature_fn, prediction_fn: ``fn(model, x)`` overrides of ``model.feature`` / ``model.prediction``.
        progress: called with the number of samples done after each batch.

    Returns:
        float32 ``[N, D]`` representations (features flattened) and float32 ``[N, C]``
        class scores (None without predictions).
    """
    import torch

    was_training = bool(getattr(model, "training", False))
    try:
        device = next(model.parameters()).device
    except (StopIteration, AttributeError):
        device = torch.device("cpu")
    feat = feature_fn or (lambda m, x: m.feature(x))
    pred = prediction_fn or (lambda m, h: m.prediction(h))
    reps, preds = [], []
    model.eval()
    try:
        with torch.no_grad():
            for s in range(0, int(inputs.shape[0]), batch_size):
                xb = inputs[s : s + batch_size].to(device)
                h = feat(model, xb)
                reps.append(h.reshape(h.shape[0], -1).float().cpu().numpy())
                if with_predictions:
                    preds.append(pred(model, h).float().cpu().numpy())
                if progress:
                    progress(min(s + batch_size, int(inputs.shape[0])))
    finally:
        model.train(was_training)
    return np.concatenate(reps).astype(np.float32), (np.concatenate(preds).astype(np.float32) if preds else None)
