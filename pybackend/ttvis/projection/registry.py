"""The method registry: name (DESIGN.md's standard names) -> :class:`~ttvis.projection.base.VisMethod`.

The CLI, the server, the extension and the view learn every method from here and from its
parameter schema, never from its name. Besides the built-in methods, the registry loads
plugins: modules named by the ``ttvis.methods`` entry-point group of installed packages,
and Python files or modules listed in the environment variable ``TTVIS_METHOD_MODULES``
(separated by the path separator). A plugin registers its class with :func:`register`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from ttvis.projection.base import VisMethod
from ttvis.projection.schema import ParamError, RunParams, validate

METHODS: dict[str, type[VisMethod]] = {}
_loaded = False


def register(cls: type[VisMethod]) -> type[VisMethod]:
    """Add a method class to the registry (usable as a class decorator).

    Raises:
        ValueError: another class already has that name.
    """
    _load()  # the built-in methods come first, whoever registers
    other = METHODS.get(cls.name)
    if other is not None and other is not cls and f"{other.__module__}.{other.__qualname__}" != f"{cls.__module__}.{cls.__qualname__}":
        raise ValueError(f"a visualization method named {cls.name!r} is already registered ({other.__module__})")
    METHODS[cls.name] = cls
    return cls


def _load() -> None:
    """Register the built-in methods and the plugins once."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from ttvis.projection.aligned_umap import AlignedUMAP
    from ttvis.projection.dvi import DVI
    from ttvis.projection.movement_dvi import MovementDVI
    from ttvis.projection.stacked_umap import StackedUMAP
    from ttvis.projection.timevis import TimeVis
    from ttvis.projection.trustvis import Trustvis
    from ttvis.projection.umap_epochs import UMAP

    for cls in (DVI, TimeVis, Trustvis, UMAP, AlignedUMAP, StackedUMAP, MovementDVI):
        register(cls)
    from importlib.metadata import entry_points

    for ep in entry_points(group="ttvis.methods"):
        ep.load()
    for item in filter(None, os.environ.get("TTVIS_METHOD_MODULES", "").split(os.pathsep)):
        _import_plugin(item)


def _import_plugin(item: str) -> None:
    """Import a plugin given as a module name or a ``.py`` file path (run once per process)."""
    if not item.endswith(".py"):
        importlib.import_module(item)
        return
    path = Path(item).expanduser().resolve()
    name = f"_ttvis_plugin_{path.stem}_{abs(hash(str(path)))}"
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"TTVIS_METHOD_MODULES: {path}: expected an importable Python file")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)


def methods() -> dict[str, type[VisMethod]]:
    """Every registered method by name, built-ins first."""
    _load()
    return dict(METHODS)


def get_method(name: str) -> type[VisMethod]:
    """The method class for ``name`` (case-insensitive).

    Raises:
        ValueError: unknown method, listing the available ones.
    """
    for key, cls in methods().items():
        if key.lower() == str(name).lower():
            return cls
    raise ValueError(f"unknown visualization method {name!r}; available: {', '.join(METHODS)}")


def make_method(name: str, params: dict[str, Any] | None = None, run: RunParams | dict[str, Any] | None = None,
                device: str | None = None) -> VisMethod:
    """An instance of method ``name`` with validated ``params`` and the run's seed/device.

    Args:
        name: the method; params: its parameters (plain values); run: the run's settings
            (seed, device, ...); device: the resolved torch device (default: resolve ``run.device``).

    Raises:
        ValueError: unknown method; :class:`~ttvis.projection.schema.ParamError` (a
            ValueError): a bad parameter (names it and the allowed range).
    """
    from ttvis.projection.device import resolve_device

    cls = get_method(name)
    rp = run if isinstance(run, RunParams) else validate(RunParams, run)
    return cls(validate(cls.Params, params), seed=rp.seed, device=device or resolve_device(rp.device))


__all__ = ["METHODS", "ParamError", "get_method", "make_method", "methods", "register"]
