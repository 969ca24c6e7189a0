"""Pictures of a trained generator along latent paths: image rows, or a path plot for 2-D data.

`interpolation_samples` decodes `rows` spherical (or linear) paths of `steps` latents each
(jaxgan.latent); `save_interpolation` writes them as a PNG: one row of images per path for image
data, or, for 2-D point data, each path drawn as a line of points over the real data's mode centres.
For class-conditional generators every row keeps one label (row r: class r mod num_classes, or the
label asked for), so a row shows how the style varies within a class.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.gan import GAN
from jaxgan.latent import random_interpolations
from jaxgan.state import GANState, generate

Array = jax.Array


def row_labels(gan: GAN, rows: int, label: int | None = None) -> Array | None:
    """Labels of the rows: None (unconditional), all `label`, or class r mod num_classes."""
    if not gan.num_classes or getattr(gan.generator, "conditioning", "none") == "none":
        if label is not None:
            raise ValueError("--label needs a class-conditional run "
                             "(config.conditioning = concat | acgan | projection)")
        return None
    if label is not None:
        if not 0 <= label < gan.num_classes:
            raise ValueError(f"label must be in [0, {gan.num_classes}), got {label}")
        return jnp.full((rows,), label, jnp.int32)
    return jnp.arange(rows, dtype=jnp.int32) % gan.num_classes


def interpolation_samples(gan: GAN, state: GANState, key: Array, rows: int, steps: int,
                          method: str = "slerp", label: int | None = None,
                          use_ema: bool = True) -> np.ndarray:
    """G along `rows` latent paths of `steps` points: [rows, steps, *data_shape]."""
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    paths = random_interpolations(key, rows, steps, gan.latent_dim, method)
    labels = row_labels(gan, rows, label)
    flat_labels = None if labels is None else jnp.repeat(labels, steps)
    samples = generate(gan, state, paths.reshape(rows * steps, gan.latent_dim), flat_labels,
                       use_ema=use_ema)
    return np.asarray(samples).reshape((rows, steps) + tuple(gan.data_shape))


def image_rows(samples: np.ndarray, pad: int = 1) -> np.ndarray:
    """[rows, cols, H, W, C] in [-1, 1] → one uint8 picture [rows·(H+pad)+pad, …, C]."""
    rows, cols, h, w, c = samples.shape
    pixels = np.clip(np.round((samples + 1.0) * 127.5), 0, 255).astype(np.uint8)
    canvas = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.uint8)
    for r in range(rows):
        for k in range(cols):
            top, left = pad + r * (h + pad), pad + k * (w + pad)
            canvas[top:top + h, left:left + w] = pixels[r, k]
    return canvas


def save_image_rows(samples: np.ndarray, path: str, scale: int = 1) -> None:
    """Writes [rows, cols, H, W, C] images as one PNG, each pixel `scale`×`scale`."""
    from PIL import Image

    canvas = image_rows(samples)
    if scale > 1:
        canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    Image.fromarray(canvas[..., 0] if canvas.shape[-1] == 1 else canvas).save(path, format="PNG")


def save_path_plot(paths: np.ndarray, path: str, mode_centers: np.ndarray | None = None) -> None:
    """Writes 2-D paths [rows, steps, 2] as a PNG: one coloured line of points per path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    if mode_centers is not None:
        ax.scatter(mode_centers[:, 0], mode_centers[:, 1], marker="x", c="black", s=40,
                   label="mode centres", zorder=3)
    colors = plt.cm.viridis(np.linspace(0, 1, len(paths)))
    for points, color in zip(paths, colors):
        ax.plot(points[:, 0], points[:, 1], "-o", color=color, markersize=3, linewidth=1)
        ax.scatter(points[:1, 0], points[:1, 1], color=color, marker="s", s=30)  # start
    ax.set_aspect("equal")
    ax.set_title(f"G along {len(paths)} latent paths (square: start)")
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)


def save_interpolation(samples: np.ndarray, path: str,
                       mode_centers: np.ndarray | None = None, scale: int = 2) -> None:
    """Image rows for image data ([rows, steps, H, W, C]); a path plot for points ([.., 2])."""
    if samples.ndim == 5:
        save_image_rows(samples, path, scale)
    elif samples.ndim == 3 and samples.shape[-1] == 2:
        save_path_plot(samples, path, mode_centers)
    else:
        raise ValueError(f"cannot draw samples of shape {samples.shape[2:]}: expected images "
                         "[H, W, C] or 2-D points")
