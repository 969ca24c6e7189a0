"""MLP generator and discriminator for 2-D points: PacGAN's setup (Lin et al. 2018,
arXiv:1712.04086), after VEEGAN. Same call signatures as every family (jaxgan.models.dcgan)."""
from __future__ import annotations

from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.core.conditioning import condition_input, condition_latent, condition_output
from jaxgan.models import blocks
from jaxgan.models.blocks import spectral_norm

Array = jax.Array


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
                x = blocks.batch_norm(train, self.bn_axis_name)(x)
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

    `input_scale` s (config `point_scale`): D sees x / s, the units MLPGenerator's `output_scale`
    works in.

    `spectral_norm` normalises every layer's weights by their largest singular value (SN-GAN).
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


def model_pair(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
               bn_axis_name: str | None = None):
    """(generator, discriminator) of `config` for points of `data_shape` (D,): the
    `config.model = 'mlp'` entry of jaxgan.models.MODELS."""
    if len(data_shape) != 1:
        raise ValueError(f"model 'mlp' makes points (D,), but the data have shape "
                         f"{tuple(data_shape)} (images): use --config.model=dcgan")
    scale = float(config.get("point_scale", 1.0))
    return (MLPGenerator(hidden=tuple(config.mlp_g_hidden), out_dim=data_shape[-1],
                         batch_norm=config.mlp_g_batch_norm, bn_axis_name=bn_axis_name,
                         output_scale=scale),
            MLPDiscriminator(hidden=tuple(config.mlp_d_hidden),
                             activation=config.mlp_d_activation, input_scale=scale))
