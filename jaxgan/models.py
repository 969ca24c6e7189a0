"""Generators and discriminators (flax linen).

Every generator maps (z [B, latent], labels [B] | None, train) to a sample in data space; every
discriminator maps (x, labels | None, train) to logits [B]. `labels` is accepted everywhere so that
conditional variants share the call signature: every model carries `conditioning` ('none', 'concat',
'acgan', 'projection'), `num_classes` and `label_embedding_dim` (jaxgan.conditioning); with
'acgan' a discriminator returns (logits [B], class_logits [B, K]).

DCGAN (Radford et al. 2015, arXiv:1511.06434): init N(0, 0.02), BatchNorm scale N(1, 0.02), ReLU in
G, LeakyReLU 0.2 in D, tanh output, strided convolutions, no BatchNorm on G's output or D's input.
32×32 form: z → 256@4×4 → 128@8×8 → 64@16×16 → C@32×32; D mirrors it with 4×4 stride-2 convs
(64, 128, 256) and a final 4×4 valid conv to one logit (../shared/reference/REFERENCE.md).
"""
from __future__ import annotations

import math
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.conditioning import condition_input, condition_latent, condition_output
from jaxgan.layers import Conv4x4S2, ConvTranspose4x4S2

Array = jax.Array

DCGAN_INIT = nn.initializers.normal(0.02)
"""Weight init of the DCGAN paper: N(0, 0.02)."""


def dcgan_scale_init(key: Array, shape: Sequence[int], dtype=jnp.float32) -> Array:
    """BatchNorm scale ~ N(1, 0.02), as in the DCGAN reference code."""
    return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def _batch_norm(train: bool, axis_name: str | None) -> nn.BatchNorm:
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


def _num_resolution_steps(resolution: int) -> int:
    steps = math.log2(resolution / 4)
    if resolution < 8 or not steps.is_integer():
        raise ValueError(
            f"DCGAN resolution must be a power of two >= 8 (e.g. 16, 32, 64), got {resolution}")
    return int(steps)


class DCGANGenerator(nn.Module):
    """z → tanh image [B, R, R, C]: dense to 4×4, then 4×4 stride-2 transposed convs.

    Widths halve at each doubling, ending at `features` before the output layer.
    `conv_impl` picks how the transposed convs are computed (jaxgan.layers; same function and
    parameters whichever is chosen).
    """

    resolution: int = 32
    channels: int = 3
    features: int = 64
    bn_axis_name: str | None = None
    conv_impl: str = "auto"
    conditioning: str = "none"
    num_classes: int = 0
    label_embedding_dim: int = 0

    @nn.compact
    def __call__(self, z: Array, labels: Array | None = None, train: bool = True) -> Array:
        z = condition_latent(z, labels, self.conditioning, self.num_classes,
                             self.label_embedding_dim)
        n_up = _num_resolution_steps(self.resolution)
        width = self.features * 2 ** (n_up - 1)
        # A 4x4 stride-1 transposed conv on a 1x1 input is exactly a dense layer.
        x = nn.Dense(4 * 4 * width, use_bias=False, kernel_init=DCGAN_INIT)(z)
        x = x.reshape((z.shape[0], 4, 4, width))
        x = nn.relu(_batch_norm(train, self.bn_axis_name)(x))
        for _ in range(n_up - 1):
            width //= 2
            x = ConvTranspose4x4S2(width, impl=self.conv_impl)(x)
            x = nn.relu(_batch_norm(train, self.bn_axis_name)(x))
        x = ConvTranspose4x4S2(self.channels, impl=self.conv_impl)(x)
        return jnp.tanh(x)


class DCGANDiscriminator(nn.Module):
    """Image → logit: 4×4 stride-2 convs (padding 1) with LeakyReLU 0.2, then a 4×4 valid conv.

    `norm` is 'batch' (DCGAN), 'layer' (per-example LayerNorm, for gradient penalties: Gulrajani
    et al. 2017 forbid BatchNorm in the critic) or 'none'. The first layer is never normalised.
    `spectral_norm` normalises every conv's weights by their largest singular value (SN-GAN).
    `conv_impl` picks how the strided convs are computed (jaxgan.layers; same function, and the
    same parameters as `nn.Conv` under the same names).
    """

    resolution: int = 32
    features: int = 64
    norm: str = "batch"
    spectral_norm: bool = False
    bn_axis_name: str | None = None
    conv_impl: str = "auto"
    conditioning: str = "none"
    num_classes: int = 0
    label_embedding_dim: int = 0

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, train: bool = True):
        if x.ndim != 4 or x.shape[1] != self.resolution or x.shape[2] != self.resolution:
            raise ValueError(f"DCGAN discriminator expects [B, {self.resolution}, "
                             f"{self.resolution}, C] images, got shape {x.shape}")
        n_down = _num_resolution_steps(self.resolution)
        x = condition_input(x, labels, self.conditioning, self.num_classes,
                            self.label_embedding_dim)
        for i in range(n_down):
            conv = Conv4x4S2(self.features * 2 ** i, kernel_init=DCGAN_INIT,
                             impl=self.conv_impl, name=f"Conv_{i}")
            x = spectral_norm(conv, self.spectral_norm, self)(x)
            if i > 0:
                x = NORMS[self.norm](train, self.bn_axis_name)(x)
            x = nn.leaky_relu(x, 0.2)
        logits = spectral_norm(nn.Conv(1, (4, 4), padding="VALID", kernel_init=DCGAN_INIT,
                                       name=f"Conv_{n_down}"), self.spectral_norm, self)(x)
        return condition_output(logits.reshape((x.shape[0],)), x, labels, self.conditioning,
                                self.num_classes, self._wrap)

    def _wrap(self, layer: nn.Module):
        return spectral_norm(layer, self.spectral_norm, self)


NORMS = {
    "batch": _batch_norm,
    "layer": lambda train, axis_name: nn.LayerNorm(reduction_axes=(-3, -2, -1),
                                                   feature_axes=(-1,)),
    "none": lambda train, axis_name: (lambda x: x),
}


class MLPGenerator(nn.Module):
    """z → point: Dense–[BatchNorm]–ReLU hidden layers, linear output × `output_scale`.

    PacGAN's 2-D setup (Lin et al. 2018, arXiv:1712.04086): 4 hidden layers of 400, ReLU + BN.
    `output_scale` s (config `point_scale`): the network works in units of x / s and its output is
    returned in the data's units, so samples, metrics and plots need no rescaling.
    """

    hidden: Sequence[int] = (400, 400, 400, 400)
    out_dim: int = 2
    batch_norm: bool = True
    output_scale: float = 1.0
    bn_axis_name: str | None = None
    conditioning: str = "none"
    num_classes: int = 0
    label_embedding_dim: int = 0

    @nn.compact
    def __call__(self, z: Array, labels: Array | None = None, train: bool = True) -> Array:
        x = condition_latent(z, labels, self.conditioning, self.num_classes,
                             self.label_embedding_dim)
        for width in self.hidden:
            x = nn.Dense(width, use_bias=not self.batch_norm)(x)
            if self.batch_norm:
                x = _batch_norm(train, self.bn_axis_name)(x)
            x = nn.relu(x)
        x = nn.Dense(self.out_dim)(x)
        return x if self.output_scale == 1.0 else x * self.output_scale


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al. 2013): max over `pieces` affine maps per unit."""

    features: int
    pieces: int = 5
    spectral_norm: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        y = spectral_norm(nn.Dense(self.features * self.pieces), self.spectral_norm, self)(x)
        return jnp.max(y.reshape(x.shape[:-1] + (self.features, self.pieces)), axis=-1)


class MLPDiscriminator(nn.Module):
    """Point → logit: hidden maxout (PacGAN: 3 layers of 200) or LeakyReLU(0.2) layers.

    `spectral_norm` normalises every layer's weights by their largest singular value (SN-GAN).
    `input_scale` s (config `point_scale`): D sees x / s, the units MLPGenerator's `output_scale`
    works in.
    """

    hidden: Sequence[int] = (200, 200, 200)
    activation: str = "maxout"
    input_scale: float = 1.0
    spectral_norm: bool = False
    maxout_pieces: int = 5
    conditioning: str = "none"
    num_classes: int = 0
    label_embedding_dim: int = 0

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, train: bool = True):
        del train
        if x.ndim != 2:
            raise ValueError(f"MLP discriminator expects [B, D] points, got shape {x.shape}")
        if self.input_scale != 1.0:
            x = x / self.input_scale
        x = condition_input(x, labels, self.conditioning, self.num_classes,
                            self.label_embedding_dim)
        for width in self.hidden:
            if self.activation == "maxout":
                x = Maxout(width, self.maxout_pieces, self.spectral_norm)(x)
            else:
                x = nn.leaky_relu(spectral_norm(nn.Dense(width), self.spectral_norm, self)(x), 0.2)
        logits = spectral_norm(nn.Dense(1), self.spectral_norm, self)(x).reshape((x.shape[0],))
        return condition_output(logits, x, labels, self.conditioning, self.num_classes, self._wrap)

    def _wrap(self, layer: nn.Module):
        return spectral_norm(layer, self.spectral_norm, self)
