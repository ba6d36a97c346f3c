"""Parameter schemas: one pydantic model per method, plus the run's own settings.

Each method declares its parameters once, as a pydantic ``BaseModel`` whose fields carry
a default, a description and a range. Everything else is derived from it: the CLI options
(``ttvis visualize --method NAME --help``), the server's validation of ``ttvis/train``
params, ``ttvis/methods`` (the JSON Schema the editor builds its prompts from),
``params.json``, and a method's reading of its block in an original-layout ``config.json``.
Run-level settings (seed, device, territory resolution, ``fit_on``) are not a method's:
they live in :class:`RunParams`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ParamError(ValueError):
    """A parameter value that does not fit its schema (or an unknown parameter name).

    Attributes:
        field: the parameter's name (``"lambda1"``); reason: what was expected, in words
            (``"a number >= 0"``); value: what was given; known: for an unknown name, the
            names there are (else None).
    """

    def __init__(self, field: str, reason: str, value: Any = None, known: list[str] | None = None):
        self.field, self.reason, self.value, self.known = field, reason, value, known
        super().__init__(self.message(f"parameter {field}"))

    def message(self, name: str) -> str:
        """The error with the parameter called ``name`` (``--lambda1``, ``params.lambda1``)."""
        if self.known is not None:
            return f"{name}: {self.reason}"
        return f"{name}: expected {self.reason}, found {self.value!r}"


class Params(BaseModel):
    """Base of every parameter model: unknown names are refused, NaN and infinity too, and a
    built object is immutable (so ``params.json`` always says what ran)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, validate_default=True)


class NeighbourhoodParams(Params):
    """The UMAP-style graph and 2-D kernel every method here shares (McInnes et al. 2018 defaults)."""

    n_neighbors: int = Field(15, ge=2, le=200, description="k of the kNN graph and the fuzzy simplicial complex (UMAP's n_neighbors)")
    min_dist: float = Field(0.1, ge=0.0, le=10.0, description="UMAP min_dist: how tightly points pack in 2-D (sets the a, b of the low-dim kernel)")
    spread: float = Field(1.0, ge=1e-3, le=100.0, description="UMAP spread: the scale of the 2-D embedding")


class EncoderParams(NeighbourhoodParams):
    """What the encoder/decoder methods (DVI, TimeVis, Trustvis) share: the loss's sampling and
    reconstruction weight, boundary samples, the networks and the optimiser's schedule."""

    negative_sample_rate: int = Field(5, ge=1, le=100, description="negative (repulsive) samples per positive edge in the UMAP cross-entropy")
    lambda1: float = Field(1.0, ge=0.0, le=1e4, description="weight of the reconstruction loss (the decoder must invert the encoder)")
    boundary_ratio: float = Field(0.1, ge=0.0, le=10.0, description="boundary samples generated per fitted sample (0 disables them)")
    boundary_tolerance: float = Field(0.1, ge=1e-4, le=1.0, description="a mixup counts as a boundary sample when its top-2 class probabilities differ by less than this")
    boundary_steps: int = Field(12, ge=1, le=64, description="bisection steps of the mixup coefficient per boundary sample")
    hidden: list[Annotated[int, Field(ge=2, le=4096)]] = Field(
        [128, 128], min_length=1, max_length=8,
        description="widths of the encoder's hidden layers, each 2-4096 (the decoder mirrors them)")
    learning_rate: float = Field(0.01, ge=1e-6, le=1.0, description="Adam learning rate of the encoder/decoder")
    batch_size: int = Field(2048, ge=16, le=1 << 20, description="edges per optimisation step")
    max_epochs: int = Field(30, ge=1, le=10000, description="most optimisation epochs (passes over the edge set) per training")
    patience: int = Field(2, ge=1, le=1000, description="stop after this many rounds (a pass, or about 131,072 edges of one) without a loss improvement of 0.5% a pass, pro rata")


class UmapFitParams(NeighbourhoodParams):
    """What the umap-learn baselines share."""

    n_epochs: int = Field(200, ge=10, le=5000, description="optimisation epochs of each umap-learn fit (its n_epochs)")


class RunParams(Params):
    """Settings of one visualization run, whatever the method."""

    seed: int = Field(0, ge=0, description="seed of every random choice (same seed, same output)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="torch device: auto (cuda when available), cpu or cuda")
    resolution: int = Field(256, ge=8, le=4096, description="territory background: R x R grid cells")
    fit_on: Literal["train", "all"] = Field(
        "train", description="samples the method is fitted on: train (test samples are only projected, so test NPR is a "
        "held-out figure) or all (train and test representations; no labels are used either way)")


def _reason(err: dict[str, Any]) -> str:
    """pydantic's message for one error, phrased as what was expected."""
    ctx = err.get("ctx") or {}
    kind = err.get("type", "")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[kind]
        bound = next(iter(ctx.values()))
        return f"a number {op} {bound}"
    if kind == "finite_number":
        return "a finite number"
    if kind == "literal_error":
        return f"one of {ctx.get('expected', '')}".replace("'", "")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "a whole number"
    if kind in ("float_parsing", "float_type"):
        return "a number"
    if kind in ("bool_parsing", "bool_type"):
        return "true or false"
    if kind in ("list_type",):
        return "a list of whole numbers, e.g. 128,128"
    return str(err.get("msg", "a valid value")).replace("Input should be ", "")


def validate(cls: type[Params], values: dict[str, Any] | None) -> Params:
    """Build a parameter object from plain values (JSON, CLI, settings, config.json).

    Args:
        cls: a :class:`Params` subclass; values: name -> value, missing names keep defaults.

    Raises:
        ParamError: an unknown name (the message lists the known ones) or a value out of
            its type or range (the message names the field and the allowed range).
    """
    values = dict(values or {})
    known = list(cls.model_fields)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParamError(", ".join(unknown), f"unknown parameter of {cls.__name__.removesuffix('Params') or cls.__name__}; "
                         f"known: {', '.join(known)}", known=known)
    for name, v in values.items():  # "1,2" for a list field (CLI, settings)
        if isinstance(v, str) and _is_list(cls, name):
            values[name] = [s for s in v.replace(",", " ").split()]
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err.get("loc") else "?"
        raise ParamError(field, _reason(err), values.get(field, err.get("input"))) from None


def _is_list(cls: type[Params], name: str) -> bool:
    ann = cls.model_fields[name].annotation
    return getattr(ann, "__origin__", None) is list or ann is list


def as_dict(params: Params) -> dict[str, Any]:
    """The parameter object as a plain JSON-able dict (what ``params.json`` records)."""
    return params.model_dump(mode="json")


def json_schema(cls: type[Params]) -> dict[str, Any]:
    """The JSON Schema of ``cls`` (pydantic's), with each property's default and description."""
    return cls.model_json_schema()


def fields(cls: type[Params]) -> list[dict[str, Any]]:
    """One dict per field, in declaration order: ``name``, ``kind`` (``int``, ``float``,
    ``bool``, ``str``, ``list``), ``default``, ``help``, ``choices`` and ``range`` (for CLI options)."""
    schema = json_schema(cls)
    out = []
    for name, prop in schema.get("properties", {}).items():
        t = prop.get("type") or next((a.get("type") for a in prop.get("anyOf", []) if a.get("type") != "null"), "string")
        kind = {"integer": "int", "number": "float", "boolean": "bool", "array": "list"}.get(t, "str")
        lo = prop.get("minimum", prop.get("exclusiveMinimum"))
        hi = prop.get("maximum", prop.get("exclusiveMaximum"))
        rng = None
        if lo is not None or hi is not None:
            rng = f"{'>' if 'exclusiveMinimum' in prop else '>='} {lo}" if hi is None else \
                f"{lo}..{hi}" if lo is not None else f"<= {hi}"
        out.append({"name": name, "kind": kind, "default": prop.get("default"), "help": prop.get("description", ""),
                    "choices": prop.get("enum"), "range": rng})
    return out
