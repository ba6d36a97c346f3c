"""Class colours shared by points, territories, frames and the webview.

matplotlib's ``tab10`` for up to 10 classes, ``tab20`` up to 20, evenly spaced
HSV hues beyond, so any number of classes gets distinct colours.
"""

from __future__ import annotations

import numpy as np


def class_colors(n_classes: int) -> np.ndarray:
    """uint8 ``[C, 3]`` RGB colour per class (deterministic).

    Raises:
        ValueError: for ``n_classes`` < 1.
    """
    if n_classes < 1:
        raise ValueError(f"n_classes: expected >= 1, found {n_classes}")
    import matplotlib

    if n_classes <= 10:
        rgb = np.asarray(matplotlib.colormaps["tab10"].colors)[:n_classes]
    elif n_classes <= 20:
        rgb = np.asarray(matplotlib.colormaps["tab20"].colors)[:n_classes]
    else:
        from matplotlib.colors import hsv_to_rgb

        h = (np.arange(n_classes) * 0.618033988749895) % 1.0  # golden-ratio hue steps
        s = 0.55 + 0.35 * (np.arange(n_classes) % 3) / 2
        v = 0.95 - 0.25 * (np.arange(n_classes) % 2)
        rgb = hsv_to_rgb(np.stack([h, s, v], 1))
    return np.round(np.asarray(rgb) * 255).astype(np.uint8)


def hex_colors(n_classes: int) -> list[str]:
    """``#rrggbb`` strings of :func:`class_colors`."""
    return ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in class_colors(n_classes)]
