"""DCGAN generator and discriminator (Radford et al. 2015, arXiv:1511.06434), flax linen.

The call signatures every model family shares: a generator maps (z [B, latent], labels [B] | None,
train) to a sample in data space; a discriminator maps (x, labels | None, train) to logits [B].
`labels` is accepted everywhere so that conditional variants share the call signature: every model
carries `conditioning` ('none', 'concat', 'acgan', 'projection'), `num_classes` and
`label_embedding_dim` (jaxgan.core.conditioning); with 'acgan' a discriminator returns
(logits [B], class_logits [B, K]).

DCGAN: init N(0, 0.02), BatchNorm scale N(1, 0.02), ReLU in G, LeakyReLU 0.2 in D, tanh output,
strided convolutions, no BatchNorm on G's output or D's input. 32×32 form:
z → 256@4×4 → 128@8×8 → 64@16×16 → C@32×32; D mirrors it with 4×4 stride-2 convs (64, 128, 256)
and a final 4×4 valid conv to one logit (../shared/reference/REFERENCE.md).
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.core.conditioning import condition_input, condition_latent, condition_output
from jaxgan.models.blocks import (DCGAN_INIT, NORMS, batch_norm, conv, minibatch_stddev,
                                   spectral_norm)
from jaxgan.models.layers import Conv4x4S2, ConvTranspose4x4S2

Array = jax.Array


def _num_resolution_steps(resolution: int) -> int:
    steps = math.log2(resolution / 4)
    if resolution < 8 or not steps.is_integer():
        raise ValueError(
            f"DCGAN resolution must be a power of two >= 8 (e.g. 16, 32, 64), got {resolution}")
    return int(steps)


class DCGANGenerator(nn.Module):
    """z → tanh image [B, R, R, C]: dense to 4×4, then 4×4 stride-2 transposed convs.

    Widths halve at each doubling, ending at `features` before the output layer.
    `conv_impl` picks how the transposed convs are computed (jaxgan.models.layers; same function and
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
        x = nn.relu(batch_norm(train, self.bn_axis_name)(x))
        for _ in range(n_up - 1):
            width //= 2
            x = ConvTranspose4x4S2(width, impl=self.conv_impl)(x)
            x = nn.relu(batch_norm(train, self.bn_axis_name)(x))
        x = ConvTranspose4x4S2(self.channels, impl=self.conv_impl)(x)
        return jnp.tanh(x)


class DCGANDiscriminator(nn.Module):
    """Image → logit: 4×4 stride-2 convs (padding 1) with LeakyReLU 0.2, then a 4×4 valid conv.

    `norm` is 'batch' (DCGAN), 'layer' (per-example LayerNorm, for gradient penalties: Gulrajani
    et al. 2017 forbid BatchNorm in the critic) or 'none'. The first layer is never normalised.
    `spectral_norm` normalises every conv's weights by their largest singular value (SN-GAN).
    `minibatch_std_group` > 0 joins ProGAN's minibatch standard deviation (over groups of that
    many rows; jaxgan.models.blocks.minibatch_stddev) to the last feature map, before the final
    conv only: the sown features and the projection head see the per-image features.
    `conv_impl` picks how the strided convs are computed (jaxgan.models.layers; same function, and
    the same parameters as `nn.Conv` under the same names).
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
    minibatch_std_group: int = 0

    @nn.compact
    def __call__(self, x: Array, labels: Array | None = None, train: bool = True):
        if x.ndim != 4 or x.shape[1] != self.resolution or x.shape[2] != self.resolution:
            raise ValueError(f"DCGAN discriminator expects [B, {self.resolution}, "
                             f"{self.resolution}, C] images, got shape {x.shape}")
        n_down = _num_resolution_steps(self.resolution)
        x = condition_input(x, labels, self.conditioning, self.num_classes,
                            self.label_embedding_dim)
        for i in range(n_down):
            layer = Conv4x4S2(self.features * 2 ** i, kernel_init=DCGAN_INIT,
                              impl=self.conv_impl, name=f"Conv_{i}")
            x = spectral_norm(layer, self.spectral_norm, self)(x)
            if i > 0:
                x = NORMS[self.norm](train, self.bn_axis_name)(x)
            x = nn.leaky_relu(x, 0.2)
        # D's last intermediate features (AnoGAN's f(x)); kept only when the caller makes the
        # 'intermediates' collection mutable (jaxgan.anomaly.features).
        self.sow("intermediates", "features", x)
        head_in = (minibatch_stddev(x, self.minibatch_std_group) if self.minibatch_std_group > 0
                   else x)
        logits = spectral_norm(conv(1, (4, 4), padding="VALID", kernel_init=DCGAN_INIT,
                                    name=f"Conv_{n_down}"), self.spectral_norm, self)(head_in)
        return condition_output(logits.reshape((x.shape[0],)), x, labels, self.conditioning,
                                self.num_classes, self._wrap)

    def _wrap(self, layer: nn.Module):
        return spectral_norm(layer, self.spectral_norm, self)


def model_pair(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
               bn_axis_name: str | None = None):
    """(generator, discriminator) of `config` for images of `data_shape` (R, R, C): the
    `config.model = 'dcgan'` entry of jaxgan.models.MODELS."""
    if len(data_shape) != 3:
        raise ValueError(f"model 'dcgan' makes images (R, R, C), but the data have shape "
                         f"{tuple(data_shape)} (points): use --config.model=mlp")
    resolution, _, channels = data_shape
    conv_impl = config.get("conv_impl", "auto")
    return (DCGANGenerator(resolution=resolution, channels=channels,
                           features=config.g_features, bn_axis_name=bn_axis_name,
                           conv_impl=conv_impl),
            DCGANDiscriminator(resolution=resolution, features=config.d_features,
                               norm=config.d_norm, bn_axis_name=bn_axis_name,
                               conv_impl=conv_impl,
                               minibatch_std_group=config.get("d_minibatch_std_group", 0)))
