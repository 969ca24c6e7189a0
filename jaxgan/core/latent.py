"""Latent-space tools: spherical interpolation and latent vector arithmetic, as pure functions.

- Spherical linear interpolation (Shoemake 1985), recommended for GAN latents by White 2016
  ("Sampling Generative Networks", arXiv:1609.04468): under z ~ N(0, I) in high dimension, linear
  mid-points have a norm far below the typical √d and fall off the prior's shell.
- Latent vector arithmetic (Radford et al. 2015, arXiv:1511.06434, section 6.3): the mean latent of
  a few exemplars per concept makes a stable concept vector; "smiling woman − neutral woman +
  neutral man" gives a smiling man.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jaxgan.core.registry import Registry

Array = jax.Array


def lerp(z0: Array, z1: Array, t: Array | float) -> Array:
    """(1 − t)·z0 + t·z1 over the last axis; `t` broadcasts against z's leading axes."""
    t = jnp.asarray(t, z0.dtype)[..., None]
    return (1.0 - t) * z0 + t * z1


def slerp(z0: Array, z1: Array, t: Array | float, eps: float = 1e-6) -> Array:
    """sin((1 − t)Ω)/sin Ω · z0 + sin(tΩ)/sin Ω · z1, with cos Ω = ⟨z0, z1⟩ / (‖z0‖‖z1‖).

    Shoemake 1985; White 2016, arXiv:1609.04468. Vectors over the last axis; `t` broadcasts
    against the leading axes. Falls back to `lerp` where the vectors are (anti-)parallel
    (sin Ω < eps), where the formula is 0/0.
    """
    t = jnp.asarray(t, z0.dtype)
    norms = jnp.linalg.norm(z0, axis=-1) * jnp.linalg.norm(z1, axis=-1)
    cos = jnp.clip(jnp.sum(z0 * z1, axis=-1) / jnp.maximum(norms, eps), -1.0, 1.0)
    omega = jnp.arccos(cos)
    sin = jnp.sin(omega)
    degenerate = sin < eps
    safe_sin = jnp.where(degenerate, 1.0, sin)
    w0 = jnp.where(degenerate, 1.0 - t, jnp.sin((1.0 - t) * omega) / safe_sin)
    w1 = jnp.where(degenerate, t, jnp.sin(t * omega) / safe_sin)
    return w0[..., None] * z0 + w1[..., None] * z1


INTERPOLATIONS: Registry[Callable[[Array, Array, Array], Array]] = Registry(
    "interpolation", {"slerp": slerp, "lerp": lerp})


def interpolation_path(z0: Array, z1: Array, num_steps: int, method: str = "slerp") -> Array:
    """`num_steps` points from z0 to z1 (both included) at t = 0, 1/(n−1), …, 1.

    z0, z1: [..., D]. Returns [..., num_steps, D].
    """
    if num_steps < 2:
        raise ValueError(f"an interpolation path needs num_steps >= 2, got {num_steps}")
    interpolate = INTERPOLATIONS[method]
    t = jnp.linspace(0.0, 1.0, num_steps, dtype=z0.dtype)
    return interpolate(z0[..., None, :], z1[..., None, :], t)


def random_interpolations(key: Array, num_paths: int, num_steps: int, latent_dim: int,
                          method: str = "slerp") -> Array:
    """`num_paths` paths between pairs of endpoints drawn from N(0, I): [num_paths, steps, D]."""
    key0, key1 = jax.random.split(key)
    z0 = jax.random.normal(key0, (num_paths, latent_dim))
    z1 = jax.random.normal(key1, (num_paths, latent_dim))
    return interpolation_path(z0, z1, num_steps, method)


def latent_arithmetic(z_a: Array, z_b: Array, z_c: Array) -> Array:
    """mean(z_a) − mean(z_b) + mean(z_c) over the first axis (Radford et al. 2015, sec. 6.3).

    Each group holds latents [N_i, D] of exemplars of one concept (the paper averages 3); e.g.
    z_a = smiling women, z_b = neutral women, z_c = neutral men → a smiling man. Returns [D].
    """
    for name, group in (("z_a", z_a), ("z_b", z_b), ("z_c", z_c)):
        if group.ndim != 2 or group.shape[0] == 0:
            raise ValueError(f"{name} must be a non-empty [N, D] group of latents, "
                             f"got shape {group.shape}")
    if not z_a.shape[1] == z_b.shape[1] == z_c.shape[1]:
        raise ValueError(f"latent groups differ in size: {z_a.shape}, {z_b.shape}, {z_c.shape}")
    return jnp.mean(z_a, axis=0) - jnp.mean(z_b, axis=0) + jnp.mean(z_c, axis=0)


def perturb(key: Array, z: Array, num: int, scale: float = 0.25) -> Array:
    """z plus `num` draws of uniform noise in [−scale, scale] per coordinate: [num, D].

    Radford et al. 2015 show the arithmetic result with noise ±0.25 added, to see it is robust.
    """
    return z + jax.random.uniform(key, (num,) + z.shape, z.dtype, -scale, scale)
