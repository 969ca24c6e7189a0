"""Pictures of a trained generator along latent paths: image rows, or a path plot for 2-D data.

`interpolation_samples` decodes `rows` spherical (or linear) paths of `steps` latents each
(jaxgan.latent); `interpolation_picture` draws them: one row of images per path for image data, or,
for 2-D point data, each path as a line of points over the real data. For class-conditional
generators every row keeps one label (row r: class r mod K, or the label asked for), so a row shows
how the style varies within a class.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import class_samples, visualize
from jaxgan.gan import GAN
from jaxgan.latent import random_interpolations
from jaxgan.state import GANState, generate

Array = jax.Array


def row_labels(gan: GAN, rows: int, label: int | None = None) -> Array | None:
    """Labels of the rows: None (unconditional), all `label`, or class r mod K for row r."""
    if label is not None:
        return class_samples.single_class(gan, rows, label)
    if not class_samples.is_conditional(gan):
        return None
    return jnp.arange(rows, dtype=jnp.int32) % gan.num_classes


def interpolation_samples(gan: GAN, state: GANState, key: Array, rows: int, steps: int,
                          method: str = "slerp", label: int | None = None,
                          use_ema: bool = True) -> np.ndarray:
    """G along `rows` random latent paths of `steps` points: [rows, steps, *data_shape].

    Path r runs from z0_r to z1_r, both drawn from N(0, I) with `key` (jaxgan.latent).
    """
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    paths = random_interpolations(key, rows, steps, gan.latent_dim, method)
    labels = row_labels(gan, rows, label)
    flat_labels = None if labels is None else jnp.repeat(labels, steps)
    sampler = jax.jit(functools.partial(generate, gan, use_ema=use_ema))
    samples = sampler(state, paths.reshape(rows * steps, gan.latent_dim), flat_labels)
    return np.asarray(samples, np.float32).reshape((rows, steps) + tuple(gan.data_shape))


def path_picture(paths: np.ndarray, real: np.ndarray | None = None,
                 centers: np.ndarray | None = None, title: str = "") -> np.ndarray:
    """2-D paths [rows, steps, 2] as a uint8 RGB plot: one coloured line of points per path
    (a square marks its start), over `real` points and mode `centers` when given."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    paths = np.asarray(paths, np.float32)
    if paths.ndim != 3 or paths.shape[-1] != 2:
        raise ValueError(f"path_picture needs [rows, steps, 2] points, got shape {paths.shape}")
    figure = Figure(figsize=(5, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    if real is not None:
        axes.scatter(real[:, 0], real[:, 1], s=4, c="#bbbbbb", label="real")
    if centers is not None:
        axes.scatter(centers[:, 0], centers[:, 1], s=60, marker="+", c="black", linewidths=0.8,
                     label="modes")
    colors = colormaps["viridis"](np.linspace(0.0, 1.0, len(paths)))
    for points, color in zip(paths, colors):
        axes.plot(points[:, 0], points[:, 1], "-o", color=color, markersize=3, linewidth=1)
        axes.scatter(points[:1, 0], points[:1, 1], color=color, marker="s", s=30)
    axes.set_aspect("equal")
    axes.set_title(title or f"G along {len(paths)} latent paths (square: start)")
    figure.tight_layout()
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def interpolation_picture(samples: np.ndarray, real: np.ndarray | None = None,
                          centers: np.ndarray | None = None, title: str = "") -> np.ndarray:
    """uint8 picture of `interpolation_samples`: image rows [rows, steps, H, W, C] (one path per
    row), or a path plot for 2-D points [rows, steps, 2]."""
    samples = np.asarray(samples)
    if samples.ndim == 5:
        rows, steps = samples.shape[:2]
        return visualize.image_grid(samples.reshape((rows * steps,) + samples.shape[2:]),
                                    columns=steps, scale=visualize.display_scale(samples.shape[2]))
    if samples.ndim == 3 and samples.shape[-1] == 2:
        return path_picture(samples, real, centers, title)
    raise ValueError(f"cannot draw samples of shape {samples.shape[2:]}: expected images "
                     "[H, W, C] or 2-D points")
