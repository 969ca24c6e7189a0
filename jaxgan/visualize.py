"""Pictures of a run: image grids (PIL), 2-D scatter plots and loss curves (matplotlib, Agg).

Everything returns or writes plain uint8 arrays / PNG files; matplotlib is used through its
object-oriented `Figure` API with the Agg canvas, so no global backend or pyplot state is touched.

Room `visualize`, a leaf side room of one module: imports nothing of jaxgan, so that the training
loop (sample grids, training curves), the tools (interpolation pictures) and cli (`jaxgan sample`)
can all draw with it.
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image


def to_uint8(images: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] → uint8 in [0, 255]: round((x + 1) · 127.5), clipped."""
    x = np.asarray(images, np.float32)
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, columns: int | None = None, padding: int = 1,
               scale: int = 1) -> np.ndarray:
    """Tiles NHWC images in [-1, 1] into one uint8 [H', W', C] picture.

    `columns` defaults to ceil(sqrt(N)); `padding` pixels of black separate the tiles; every pixel
    is repeated `scale` times along both axes (nearest neighbour) so small images stay visible.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(f"image_grid needs images of shape [N, H, W, 1 or 3], got {images.shape}")
    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    tiles = to_uint8(images)
    if scale > 1:
        tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
        h, w = h * scale, w * scale
    grid = np.zeros((rows * (h + padding) + padding, columns * (w + padding) + padding, c),
                    np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[top:top + h, left:left + w] = tiles[i]
    return grid


def display_scale(height: int, target: int = 64) -> int:
    """The integer up-scaling that shows an image of side `height` at about `target` pixels."""
    return max(1, target // max(1, height))


def save_png(picture: np.ndarray, path: str | os.PathLike) -> None:
    """Writes a uint8 [H, W] / [H, W, 1] / [H, W, 3] array as a PNG."""
    picture = np.asarray(picture, np.uint8)
    if picture.ndim == 3 and picture.shape[-1] == 1:
        picture = picture[..., 0]
    Image.fromarray(picture).save(os.fspath(path), format="PNG")


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _render(figure) -> np.ndarray:
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def scatter_picture(samples: np.ndarray, real: np.ndarray | None = None,
                    centers: np.ndarray | None = None, title: str = "") -> np.ndarray:
    """A scatter plot of 2-D `samples` over `real` data (and mode `centers`) as uint8 RGB."""
    samples = np.asarray(samples, np.float32)
    if samples.ndim != 2 or samples.shape[1] != 2:
        raise ValueError(f"scatter_picture needs [N, 2] points, got shape {samples.shape}")
    figure = _figure(5, 5)
    axes = figure.add_subplot(1, 1, 1)
    finite = samples[np.isfinite(samples).all(axis=1)]
    axes.scatter(finite[:, 0], finite[:, 1], s=4, c="#d62728", alpha=0.5, label="generated")
    if real is not None:
        axes.scatter(real[:, 0], real[:, 1], s=6, c="#1f77b4", alpha=0.6, label="real")
    if centers is not None:
        axes.scatter(centers[:, 0], centers[:, 1], s=60, marker="+", c="black", linewidths=0.8,
                     label="modes")
        span = np.abs(centers).max() * 1.5 + 0.5
        axes.set_xlim(-span, span)
        axes.set_ylim(-span, span)
    axes.set_aspect("equal")
    axes.legend(loc="upper right", fontsize=8)
    if title:
        axes.set_title(title)
    figure.tight_layout()
    return _render(figure)


def training_curves_picture(records: Sequence[Mapping[str, float]]) -> np.ndarray:
    """Loss curves (d_loss, g_loss, penalty) and D's accuracy on real/fake against step, as RGB;
    a CycleGAN run (no accuracies, `cycle_a` / `cycle_b` logged) shows its cycle losses instead."""
    figure = _figure(10, 4)
    losses, accuracy = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    steps = np.array([r["step"] for r in records], np.float64)

    def column(key: str) -> np.ndarray | None:
        if not records or key not in records[0]:
            return None
        return np.array([r.get(key, np.nan) for r in records], np.float64)

    for key in ("d_loss", "g_loss", "penalty"):
        values = column(key)
        if values is not None and (key != "penalty" or np.nanmax(np.abs(values)) > 0):
            losses.plot(steps, values, label=key)
    losses.set_xlabel("step")
    losses.set_title("losses")
    losses.legend()
    cyclegan = column("d_accuracy_real") is None and column("cycle_a") is not None
    pairs = ((("cycle_a", "λ_A·E|F(G(a)) − a|"),
              ("cycle_b", "λ_B·E|G(F(b)) − b|")) if cyclegan else
             (("d_accuracy_real", "D accuracy on real"), ("d_accuracy_fake", "D accuracy on fake")))
    for key, label in pairs:
        values = column(key)
        if values is not None:
            accuracy.plot(steps, values, label=label)
    if not cyclegan:
        accuracy.set_ylim(-0.05, 1.05)
    accuracy.set_xlabel("step")
    accuracy.set_title("cycle losses" if cyclegan else "discriminator accuracy")
    if accuracy.get_legend_handles_labels()[0]:
        accuracy.legend()
    figure.tight_layout()
    return _render(figure)
