"""Building blocks shared by the model families: the DCGAN initialisers, BatchNorm, spectral
normalisation, the normalisations a discriminator can use between layers (`NORMS`) and `conv`, the
convolution layer every family's plain convolutions use (canonical-layout gradients on CPU)."""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.models import canonical_conv

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


def minibatch_stddev(x: Array, group_size: int) -> Array:
    """x [N, H, W, C] joined with one more channel: the minibatch standard deviation (Karras et al.
    2018, ProGAN, arXiv:1710.10196, section 3; `minibatch_stddev_layer` in tkarras/
    progressive_growing_of_gans, networks.py).

    The N rows are split into groups of G = min(group_size, N) (row i in group i mod N/G, as the
    reference's reshape to [G, −1, …] does); within each group the standard deviation of every
    feature at every position over the G rows, sqrt(mean_g (x − mean_g x)² + 1e-8), is averaged
    over H, W, C into one number per group, broadcast as a constant map to the group's rows. So
    D sees how much the images of its batch differ from each other: a generator whose samples
    vary less than the data's shows it here, while a per-image D cannot tell.
    """
    n, h, w, c = x.shape
    g = min(group_size, n)
    if n % g:
        raise ValueError(f"minibatch stddev needs a batch divisible by its group size {g}; got a "
                         f"batch of {n}: use a batch size that is a multiple of {g}")
    y = x.reshape((g, n // g, h, w, c)).astype(jnp.float32)
    y = y - y.mean(axis=0, keepdims=True)
    std = jnp.sqrt(jnp.mean(jnp.square(y), axis=0) + 1e-8)           # [N/G, H, W, C]
    std = jnp.mean(std, axis=(1, 2, 3))                                # [N/G]
    std = jnp.tile(std, (g,))[:, None, None, None]                      # row i -> group i mod N/G
    return jnp.concatenate([x, jnp.broadcast_to(std, (n, h, w, 1)).astype(x.dtype)], axis=-1)


NORMS = {
    "batch": batch_norm,
    "layer": lambda train, axis_name: nn.LayerNorm(reduction_axes=(-3, -2, -1),
                                                   feature_axes=(-1,)),
    "none": lambda train, axis_name: (lambda x: x),
}
"""config.d_norm -> (train, axis_name) -> the normalisation of a discriminator's hidden layers."""


def conv(features: int, kernel_size: Sequence[int], **kwargs) -> nn.Conv:
    """`nn.Conv(features, kernel_size, **kwargs)` (same parameters, same names, same value) whose
    convolution is jaxgan.models.canonical_conv.conv_general_dilated: on XLA's CPU backend its
    gradients stay canonical-layout convolutions, fast also inside the fused K-step and the
    n_critic `lax.scan` bodies (issue 21). Every model family's plain convolutions go through here.
    """
    return nn.Conv(features, kernel_size, conv_general_dilated=canonical_conv.conv_general_dilated,
                   **kwargs)
