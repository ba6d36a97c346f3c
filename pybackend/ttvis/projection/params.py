"""Parameter objects of the visualization methods: one dataclass per method.

Each field carries its meaning in ``metadata["help"]``; the CLI options, the
server's ``params`` validation and ``params.json`` are all derived from these
dataclasses (one source of truth). Defaults follow the literature: UMAP
(McInnes et al. 2018) for the complex, DeepVisualInsight (Xianglin Yang et al.,
AAAI 2022) for the losses and schedule.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, get_type_hints


def _f(default: Any, help: str, **kw: Any) -> Any:
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class DVIParams:
    """Hyper-parameters of DVI (DeepVisualInsight, AAAI 2022). Every field reaches the code
    and is recorded in ``params.json``."""

    n_neighbors: int = _f(15, "k of the kNN graph and the fuzzy simplicial complex (UMAP's n_neighbors)", min=2)
    min_dist: float = _f(0.1, "UMAP min_dist: how tightly points pack in 2-D (sets the a, b of the low-dim kernel)", min=0.0)
    spread: float = _f(1.0, "UMAP spread: the scale of the 2-D embedding", min=1e-3)
    negative_sample_rate: int = _f(5, "negative (repulsive) samples per positive edge in the UMAP cross-entropy", min=1)
    lambda1: float = _f(1.0, "weight of the reconstruction loss (decoder must invert the encoder)", min=0.0)
    lambda2: float = _f(0.1, "weight of the temporal loss (keep a sample near its previous-epoch position)", min=0.0)
    fit_on: str = _f("all", "samples whose representations form the complex: all (train and test representations; no labels are used) or train (DVI's protocol: test samples are only projected)", choices=["train", "all"])
    boundary_ratio: float = _f(0.1, "boundary samples generated per training sample (0 disables them)", min=0.0)
    boundary_tolerance: float = _f(0.1, "a mixup counts as a boundary sample when its top-2 class probabilities differ by less than this", min=1e-4, max=1.0)
    boundary_steps: int = _f(12, "bisection steps of the mixup coefficient per boundary sample", min=1)
    hidden: list = _f([128, 128], "widths of the encoder's hidden layers (decoder mirrors them)")
    learning_rate: float = _f(0.01, "Adam learning rate of the encoder/decoder", min=1e-6)
    batch_size: int = _f(2048, "edges per optimisation step", min=16)
    max_epochs: int = _f(30, "most optimisation epochs (passes over the edge set) per training epoch", min=1)
    first_epochs: int = _f(60, "most optimisation epochs for the first training epoch (cold start)", min=1)
    patience: int = _f(2, "stop after this many optimisation epochs without a 0.5%% loss improvement", min=1)
    resolution: int = _f(256, "territory background: R x R grid cells", min=8)
    seed: int = _f(0, "seed of every random choice (same seed, same output)")
    device: str = _f("auto", "torch device: auto (cuda when available), cpu or cuda", choices=["auto", "cpu", "cuda"])


def fields_of(cls: type) -> list[dataclasses.Field]:
    """The dataclass fields of a parameter class, in declaration order."""
    return list(dataclasses.fields(cls))


def params_from_dict(cls: type, values: dict[str, Any] | None) -> Any:
    """Build and validate a parameter object from a plain dict (JSON, CLI, settings).

    Args:
        cls: a parameter dataclass such as :class:`DVIParams`.
        values: field name -> value; unknown names are an error; missing ones keep defaults.

    Raises:
        ValueError: unknown parameter, wrong type, or value out of its range (message names it).
    """
    values = dict(values or {})
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields_of(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} for {cls.__name__}; known: {', '.join(known)}")
    out: dict[str, Any] = {}
    for name, val in values.items():
        f, typ = known[name], hints[name]
        try:
            if typ is bool:
                if isinstance(val, str):
                    val = val.lower() in ("1", "true", "yes", "on")
                val = bool(val)
            elif typ is int:
                if isinstance(val, bool) or (isinstance(val, float) and not val.is_integer()):
                    raise TypeError
                val = int(val)
            elif typ is float:
                if isinstance(val, bool):
                    raise TypeError
                val = float(val)
                if not math.isfinite(val):
                    raise ValueError(f"parameter {name}: expected a finite number, found {val}")
            elif typ is list:
                if isinstance(val, str):
                    val = [int(v) for v in val.replace(",", " ").split()]
                val = [int(v) for v in val]
            elif typ is str:
                val = str(val)
        except ValueError as exc:
            if "finite" in str(exc):
                raise
            raise ValueError(f"parameter {name}: expected {typ.__name__}, found {val!r}") from None
        except TypeError:
            raise ValueError(f"parameter {name}: expected {typ.__name__}, found {val!r}") from None
        meta = f.metadata
        if "min" in meta and isinstance(val, (int, float)) and val < meta["min"]:
            raise ValueError(f"parameter {name}: expected >= {meta['min']}, found {val}")
        if "max" in meta and isinstance(val, (int, float)) and val > meta["max"]:
            raise ValueError(f"parameter {name}: expected <= {meta['max']}, found {val}")
        if "choices" in meta and val not in meta["choices"]:
            raise ValueError(f"parameter {name}: expected one of {', '.join(meta['choices'])}, found {val!r}")
        out[name] = val
    return cls(**out)


def params_to_dict(params: Any) -> dict[str, Any]:
    """The parameter object as a plain JSON-able dict (what ``params.json`` records)."""
    return dataclasses.asdict(params)


def params_schema(cls: type) -> list[dict[str, Any]]:
    """Describe each field (name, type, default, help, min/max/choices) for front ends."""
    hints = get_type_hints(cls)
    out = []
    for f in fields_of(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out.append({"name": f.name, "type": hints[f.name].__name__, "default": default, **dict(f.metadata)})
    return out
