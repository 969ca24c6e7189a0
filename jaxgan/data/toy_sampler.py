"""Toy 2-D Gaussian mixtures drawn on device: one step's batch as a pure function of a key.

The host iterators of jaxgan.data deliver one batch per Python step; for the tiny MLPs of the toy
benchmarks that per-step round trip costs more than the step itself. Drawing the batch inside the
jitted loop (jaxgan.training.seeds.make_multi_seed_loop) removes it. The mixture itself (centres,
std) is read from the data set's spec (`jaxgan.data.get_spec(name).mode_centers / .mode_std`), the
single source of its definition; only the draw happens here, with the same law as
`jaxgan.data.toy.sample_mixture`:

    k ~ Uniform{0, …, K−1},   x = centres[k] + σ·ε,   ε ~ N(0, I₂)        (label = k)
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def mixture_batch_sampler(centers: np.ndarray, std: float,
                          batch_size: int) -> Callable[[Array], dict[str, Array]]:
    """`key -> {'x': float32 [batch_size, D], 'label': int32 [batch_size]}` for an equal-weight
    isotropic Gaussian mixture with means `centers` [K, D] and per-coordinate std `std`."""
    centers = np.asarray(centers, np.float32)
    if centers.ndim != 2 or centers.shape[0] < 1:
        raise ValueError(f"mixture centers must have shape [K, D], got {centers.shape}")
    if not std > 0:
        raise ValueError(f"mixture std must be > 0, got {std}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    num_modes, dim = centers.shape

    def sample(key: Array) -> dict[str, Array]:
        key_k, key_eps = jax.random.split(key)
        k = jax.random.randint(key_k, (batch_size,), 0, num_modes, dtype=jnp.int32)
        eps = jax.random.normal(key_eps, (batch_size, dim), jnp.float32)
        return {"x": jnp.asarray(centers)[k] + jnp.float32(std) * eps, "label": k}

    return sample
