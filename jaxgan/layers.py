"""Layers shared by the models.

`ConvTranspose4x4S2` is the DCGAN up-sampling layer: a 4x4 transposed convolution with stride 2,
padding 1 (PyTorch `ConvTranspose2d(k=4, s=2, p=1)`), mapping [N, H, W, C] to [N, 2H, 2W, F].
Its kernel is stored as flax's `nn.ConvTranspose` stores it: shape (4, 4, C, F), HWIO.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

Initializer = jax.nn.initializers.Initializer


class ConvTranspose4x4S2(nn.Module):
    """out = lax.conv_transpose(x, kernel, strides=(2, 2), padding=((2, 2), (2, 2)))."""

    features: int
    use_bias: bool = False
    kernel_init: Initializer = nn.initializers.normal(0.02)
    dtype: jnp.dtype | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (4, 4, x.shape[-1], self.features))
        y = jax.lax.conv_transpose(
            x, kernel.astype(x.dtype), strides=(2, 2), padding=((2, 2), (2, 2)),
            dimension_numbers=("NHWC", "HWIO", "NHWC"))
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y
