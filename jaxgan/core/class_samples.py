"""Which labels to give a class-conditional generator when sampling from it.

Unconditional GANs get `None` everywhere. Conditional ones (models with `conditioning` other than
'none', jaxgan.core.conditioning) get: one class for every sample (`jaxgan sample --label K`), a
grid with one row per class, or class-balanced labels (i mod K) for metrics.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxgan.core.gan import GAN

Array = jax.Array


def is_conditional(gan: GAN) -> bool:
    """Whether G takes class labels (its `conditioning` is not 'none')."""
    return gan.num_classes > 0 and getattr(gan.generator, "conditioning", "none") != "none"


def check_label(gan: GAN, label: int) -> None:
    """Raises a one-line ValueError unless `label` is a class of this conditional GAN."""
    if not is_conditional(gan):
        raise ValueError("a label needs a class-conditional run (config.conditioning = concat, "
                         "acgan or projection); this run is unconditional")
    if not 0 <= label < gan.num_classes:
        raise ValueError(f"label must be in [0, {gan.num_classes}), got {label}")


def single_class(gan: GAN, num: int, label: int) -> Array:
    """[num] labels all equal to `label` (checked)."""
    check_label(gan, label)
    return jnp.full((num,), label, jnp.int32)


def balanced_labels(gan: GAN, num: int) -> Array | None:
    """i mod K for i < num (None when unconditional): every class equally often, for metrics."""
    if not is_conditional(gan):
        return None
    return jnp.arange(num, dtype=jnp.int32) % gan.num_classes


def class_grid(gan: GAN, num: int) -> tuple[Array | None, int | None]:
    """(labels, columns) of a grid with one row per class and ceil(num / K) samples per row.

    Labels are [K · ceil(num / K)] in class order (row k holds class k); (None, None) when
    unconditional.
    """
    if not is_conditional(gan):
        return None, None
    per_class = max(1, math.ceil(num / gan.num_classes))
    return jnp.repeat(jnp.arange(gan.num_classes, dtype=jnp.int32), per_class), per_class


def sampling_labels(gan: GAN, num: int, label: int | None = None
                    ) -> tuple[Array | None, int | None]:
    """(labels, grid columns) for drawing `num` samples: all `label` when given; for a conditional
    GAN without a label, `class_grid` (one row per class); (None, None) when unconditional."""
    if label is not None:
        return single_class(gan, num, label), None
    return class_grid(gan, num)
