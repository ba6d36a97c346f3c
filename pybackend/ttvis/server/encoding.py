"""Arrays on the wire: ``{"dtype", "shape", "data": base64 of little-endian bytes}`` (DESIGN.md "Protocol")."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

_WIRE = {"float32": "<f4", "int32": "<i4", "uint8": "u1"}


def encode_array(arr: np.ndarray, dtype: str = "float32") -> dict[str, Any]:
    """Encode ``arr`` as ``{"dtype": dtype, "shape": [...], "data": base64}``.

    Args:
        arr: any numeric array; cast to ``dtype`` (float32, int32 or uint8), little-endian.

    Raises:
        KeyError: an unsupported ``dtype``.
    """
    a = np.ascontiguousarray(arr, dtype=np.dtype(_WIRE[dtype]))
    return {"dtype": dtype, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(obj: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array`.

    Raises:
        ValueError: malformed object (unknown dtype, size not matching the shape).
    """
    try:
        dt = np.dtype(_WIRE[obj["dtype"]])
        raw = base64.b64decode(obj["data"])
        return np.frombuffer(raw, dtype=dt).reshape(obj["shape"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed encoded array: {exc}") from None


def encode_bytes(data: bytes | None) -> str | None:
    """Base64 text of ``data`` (a PNG), or None."""
    return None if data is None else base64.b64encode(data).decode("ascii")
