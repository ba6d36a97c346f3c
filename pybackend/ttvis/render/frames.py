"""Static PNG frames (points over territories) and an animated GIF of a run (matplotlib, Pillow)."""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np

from ttvis.render.palette import class_colors


def render_frame(
    positions: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None,
    background: np.ndarray | None,
    scale: np.ndarray | None,
    classes: Sequence[str],
    title: str,
    subtitle: str = "",
    size_px: int = 720,
) -> bytes:
    """One frame as PNG bytes.

    Args:
        positions: float32 ``[N, 2]``; labels: int64 ``[N]`` (-1: unlabeled, drawn grey).
        predicted: int64 ``[N]`` predicted class or None; a misclassified sample gets a black ring.
        background: uint8 ``[R, R, 3]`` territories or None; scale: its ``[x0, y0, x1, y1]``.
        classes: class names for the legend.
        title, subtitle: text above the plot (epoch, metrics).
        size_px: output width and height in pixels.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    pal = class_colors(max(len(classes), 1)) / 255.0
    dpi = 100
    fig = plt.figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    ax = fig.add_axes([0.02, 0.02, 0.96, 0.88])
    if background is not None and scale is not None:
        ax.imshow(background, extent=(scale[0], scale[2], scale[1], scale[3]), origin="upper", interpolation="bilinear")
        ax.set_xlim(scale[0], scale[2])
        ax.set_ylim(scale[1], scale[3])
    colors = np.where(labels[:, None] >= 0, pal[np.clip(labels, 0, len(pal) - 1)], 0.5)
    ax.scatter(positions[:, 0], positions[:, 1], s=9, c=colors, linewidths=0.3, edgecolors="white")
    if predicted is not None:
        wrong = (predicted != labels) & (labels >= 0)
        ax.scatter(positions[wrong, 0], positions[wrong, 1], s=28, facecolors="none", edgecolors="black", linewidths=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    handles = [Line2D([], [], marker="o", ls="", color=pal[i], label=str(c)) for i, c in enumerate(classes[:20])]
    if predicted is not None:
        handles.append(Line2D([], [], marker="o", ls="", mfc="none", mec="black", label="misclassified"))
    ax.legend(handles=handles, loc="lower left", fontsize=7, ncol=1, framealpha=0.8)
    fig.text(0.5, 0.955, title, ha="center", fontsize=13, weight="bold")
    fig.text(0.5, 0.918, subtitle, ha="center", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def frames_to_gif(pngs: Sequence[bytes], ms_per_frame: int = 600) -> bytes:
    """An animated GIF (looping) from PNG frames of equal size."""
    from PIL import Image

    imgs = [Image.open(io.BytesIO(p)).convert("RGB") for p in pngs]
    if not imgs:
        raise ValueError("frames_to_gif: no frames")
    pal = [im.quantize(colors=255, method=Image.Quantize.MEDIANCUT) for im in imgs]
    buf = io.BytesIO()
    pal[0].save(buf, format="GIF", save_all=True, append_images=pal[1:], duration=ms_per_frame, loop=0, optimize=False)
    return buf.getvalue()
