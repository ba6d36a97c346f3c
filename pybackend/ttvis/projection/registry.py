"""Method name (DESIGN.md's standard names) -> implementation and parameter class."""

from __future__ import annotations

from typing import Any

from ttvis.projection.dvi import DVI

METHODS: dict[str, type] = {"DVI": DVI}


def get_method(name: str) -> type:
    """The method class for ``name`` (case-insensitive).

    Raises:
        ValueError: unknown method, listing the available ones.
    """
    for key, cls in METHODS.items():
        if key.lower() == str(name).lower():
            return cls
    raise ValueError(f"unknown visualization method {name!r}; available: {', '.join(METHODS)}")


def make_method(name: str, params: dict[str, Any] | None = None) -> Any:
    """An instance of method ``name`` with validated ``params`` (see :mod:`ttvis.projection.params`).

    Raises:
        ValueError: unknown method or bad parameter.
    """
    from ttvis.projection.params import params_from_dict

    cls = get_method(name)
    return cls(params_from_dict(cls.params_cls, params))
