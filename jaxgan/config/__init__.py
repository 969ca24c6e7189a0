"""Experiment configs and their translation into a GAN.

    base.py     `base_config()`: every key with its default
    build.py    `build_gan(config, data_shape, num_classes, axis_name)`: the static `GAN` a config
                describes, through the registries (jaxgan.models.MODELS, losses, penalties,
                `OPTIMIZERS`, augmentations)
    presets.py  the published setups experiment files start from (PacGAN mixtures, DCGAN, digits)

`from jaxgan.config import base_config, build_gan` is the usual entry point.

Room `config`: imports `jaxgan.core` and `jaxgan.models`; imported by training, tools, cli and the
experiment files.
"""
from jaxgan.config.base import base_config
from jaxgan.config.build import OPTIMIZERS, build_gan, make_conditional

__all__ = ["OPTIMIZERS", "base_config", "build_gan", "make_conditional"]
