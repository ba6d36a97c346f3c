"""Decision territories: the subject model's predicted class over the 2-D plane.

An ``R x R`` grid over the epoch's ``scale`` is decoded to representation space
(the vis model's inverse), classified by the prediction head, and coloured by
class; paler where the top class is less certain, and a thin dark line where the
predicted class changes between neighbouring cells (the decision boundary, where the
top-2 scores tie), as in DVI (AAAI 2022, Sec. 4.4).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ttvis.render.palette import class_colors

MIN_ALPHA, MAX_ALPHA = 0.22, 0.78  # class-colour share at least/most confident
LINE_RGB, LINE_SHARE = 40.0, 0.5  # boundary cells: blended this much towards dark grey


def territory_scale(xy: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """A square region covering all points with a margin: float32 ``[x_min, y_min, x_max, y_max]``.

    Args:
        xy: float32 ``[N, 2]`` positions (N >= 1).
        margin: extra room on each side, as a share of the larger extent.
    """
    lo, hi = xy.min(0), xy.max(0)
    c = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2, 1e-3) * (1 + 2 * margin)
    return np.array([c[0] - half, c[1] - half, c[0] + half, c[1] + half], np.float32)


def grid_points(scale: np.ndarray, resolution: int) -> np.ndarray:
    """Cell centres of the ``R x R`` grid, float32 ``[R*R, 2]``, row-major with row 0 at ``y_max``
    (image order, so row r, column c is pixel (r, c) of the background)."""
    x0, y0, x1, y1 = (float(v) for v in scale)
    r = resolution
    xs = x0 + (np.arange(r) + 0.5) * (x1 - x0) / r
    ys = y1 - (np.arange(r) + 0.5) * (y1 - y0) / r
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)


def position_to_pixel(xy: np.ndarray, scale: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column (int64 ``[N]`` each) of the background pixel under each position ``[N, 2]``."""
    x0, y0, x1, y1 = (float(v) for v in scale)
    col = np.floor((xy[:, 0] - x0) / (x1 - x0) * resolution).astype(np.int64)
    row = np.floor((y1 - xy[:, 1]) / (y1 - y0) * resolution).astype(np.int64)
    return np.clip(row, 0, resolution - 1), np.clip(col, 0, resolution - 1)


def color_territory(probs: np.ndarray, resolution: int, n_classes: int) -> np.ndarray:
    """Colour class probabilities of the grid cells.

    Args:
        probs: float32 ``[R*R, C]`` softmax probabilities, rows in :func:`grid_points` order.

    Returns:
        uint8 ``[R, R, 3]``: white blended with the predicted class's colour, share between
        ``MIN_ALPHA`` and ``MAX_ALPHA`` by confidence (top probability rescaled from 1/C..1
        to 0..1); cells whose right or lower neighbour has another class darkened (the boundary).
    """
    pal = class_colors(n_classes).astype(np.float32)
    cls = probs.argmax(1)
    p1 = probs.max(1)
    conf = np.clip((p1 - 1.0 / n_classes) / (1 - 1.0 / n_classes + 1e-9), 0, 1)
    alpha = (MIN_ALPHA + (MAX_ALPHA - MIN_ALPHA) * conf)[:, None]
    rgb = (255.0 * (1 - alpha) + pal[cls] * alpha).reshape(resolution, resolution, 3)
    grid = cls.reshape(resolution, resolution)
    edge = np.zeros_like(grid, dtype=bool)
    edge[:, :-1] |= grid[:, :-1] != grid[:, 1:]
    edge[:-1, :] |= grid[:-1, :] != grid[1:, :]
    rgb[edge] = rgb[edge] * (1 - LINE_SHARE) + LINE_RGB * LINE_SHARE
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def paint_territory(
    decode: Callable[[np.ndarray], np.ndarray], probabilities: Callable[[np.ndarray], np.ndarray],
    scale: np.ndarray, resolution: int, n_classes: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode the grid, classify it and colour it.

    Args:
        decode: vis model inverse ``[M, 2] -> [M, D]``; probabilities: head ``[M, D] -> [M, C]``.
        scale: ``[x_min, y_min, x_max, y_max]``; resolution: ``R``.

    Returns:
        ``(rgb uint8 [R, R, 3], predicted class int64 [R, R])``.
    """
    grid = grid_points(scale, resolution)
    probs = np.concatenate([probabilities(decode(grid[s : s + 65536])) for s in range(0, len(grid), 65536)])
    return color_territory(probs, resolution, n_classes), probs.argmax(1).reshape(resolution, resolution)


def class_from_color(rgb: np.ndarray, n_classes: int) -> np.ndarray:
    """Invert :func:`color_territory` pixel-wise: the class whose white-blend line passes
    closest to each colour. ``rgb`` uint8 ``[..., 3]`` -> int64 ``[...]``."""
    pal = class_colors(n_classes).astype(np.float64)
    px = rgb.reshape(-1, 3).astype(np.float64)
    d = pal - 255.0  # direction from white to the class colour
    v = px - 255.0
    t = np.clip((v @ d.T) / (d * d).sum(1), 0, 1)  # [P, C]
    resid = ((v[:, None, :] - t[:, :, None] * d[None]) ** 2).sum(2)
    return resid.argmin(1).reshape(rgb.shape[:-1])
