"""Building blocks shared by the model families: the DCGAN initialisers, BatchNorm, spectral
normalisation and the normalisations a discriminator can use between layers (`NORMS`)."""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

DCGAN_INIT = nn.initializers.normal(0.02)
"""Weight init of the DCGAN paper: N(0, 0.02)."""


def dcgan_scale_init(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
    """BatchNorm scale ~ N(1, 0.02), as in the DCGAN reference code."""
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def batch_norm(train: bool, axis_name: str | None) -> nn.BatchNorm:
    # momentum 0.9 is PyTorch's 0.1; axis_name synchronises statistics across devices.
    return nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5,
                        scale_init=dcgan_scale_init, axis_name=axis_name)


def spectral_norm(layer: nn.Module, enabled: bool, module: nn.Module):
    """`layer`, with W replaced by W/σ(W) when `enabled` (Miyato et al. 2018, arXiv:1802.05957).

    σ(W) is estimated by power iteration on W reshaped to [fan_in, fan_out] (flax's
    `nn.SpectralNorm`); its vector u lives in the 'batch_stats' collection and advances one
    iteration per call whenever the caller lets 'batch_stats' change (training and init), as
    BatchNorm statistics do. `module` is the module whose `__call__` builds the layer.
    """
    if not enabled:
        return layer
    update = module.is_mutable_collection("batch_stats")
    return lambda *args: nn.SpectralNorm(layer)(*args, update_stats=update)


NORMS = {
    "batch": batch_norm,
    "layer": lambda train, axis_name: nn.LayerNorm(reduction_axes=(-3, -2, -1),
                                                   feature_axes=(-1,)),
    "none": lambda train, axis_name: (lambda x: x),
}
"""config.d_norm -> (train, axis_name) -> the normalisation of a discriminator's hidden layers."""
