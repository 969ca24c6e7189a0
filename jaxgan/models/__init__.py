"""The networks: generators and discriminators (flax linen), one module per family, the blocks
they share, and `MODELS`, the registry `config.model` names.

    dcgan.py    DCGAN G and D (Radford et al. 2015): 8-64 px, 1 or 3 channels
    mlp.py      MLP G and maxout / LeakyReLU D for 2-D points (PacGAN's mixtures)
    resnet.py   ResNet G and D of SNGAN ('resnet') and BigGAN ('biggan'): 16-128 px,
                class-conditional BatchNorm, self-attention, orthogonal init
    layers.py   the 4x4 stride-2 convolutions of DCGAN, with their fast CPU forms
    blocks.py   shared pieces: DCGAN initialisers, BatchNorm, spectral norm, `NORMS`
                (config.d_norm), `conv` (the plain convolution layer of every family)
    stylegan2.py  StyleGAN2 G (mapping, modulated convs, skip) and residual D (Karras et al. 2020)
    canonical_conv.py  a conv whose gradients stay canonical-layout convs (fast on XLA CPU inside
                lax.cond and loop bodies: the fused K-step and n_critic scans); every family's
                convolutions go through its `conv_general_dilated`
    packing.py  PacGAN's packed discriminator (config.pack)

A family module defines its networks and `model_pair(config, data_shape, bn_axis_name)` ->
(generator, discriminator), and is registered in `MODELS` under the name `config.model` takes
. Every generator maps (z, labels | None, train) to a
sample, every discriminator (x, labels | None, train) to logits (jaxgan.models.dcgan).

Room `models`: imports `jaxgan.core` only; imported by config, training, tools and cli.
"""
from __future__ import annotations

from typing import Callable

from jaxgan.core.registry import Registry
from jaxgan.models import dcgan, mlp, resnet, stylegan2
from jaxgan.models.blocks import NORMS
from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.models.mlp import Maxout, MLPDiscriminator, MLPGenerator
from jaxgan.models.resnet import ResNetDiscriminator, ResNetGenerator

ModelPair = Callable[..., tuple]  # (config, data_shape, bn_axis_name) -> (generator, discriminator)

MODELS: Registry[ModelPair] = Registry("model", {
    "dcgan": dcgan.model_pair, "mlp": mlp.model_pair,
    "resnet": resnet.sngan_model_pair, "biggan": resnet.biggan_model_pair,
    "stylegan2": stylegan2.model_pair})

__all__ = ["MODELS", "NORMS", "ModelPair", "DCGANDiscriminator", "DCGANGenerator", "Maxout",
           "MLPDiscriminator", "MLPGenerator", "ResNetDiscriminator", "ResNetGenerator"]
