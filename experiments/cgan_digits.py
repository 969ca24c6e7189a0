"""Conditional GAN (cGAN) on the embedded digits (Mirza & Osindero 2014, arXiv:1411.1784).

The one-hot label is joined to G's noise and, as 10 constant channels, to D's input image.
DCGAN nets at 16×16 with the default 2,000-step budget (batch 64, Adam 2e-4, β1 0.5).

    jaxgan train --config experiments/cgan_digits.py --workdir runs/cgan_digits
    jaxgan sample --workdir runs/cgan_digits --label 3 --out three.png
"""
from jaxgan.config import base_config


def get_config():
    config = base_config()
    config.dataset = "digits"
    config.resolution = 16
    config.conditioning = "concat"
    config.label_embedding_dim = 0  # one-hot
    return config
