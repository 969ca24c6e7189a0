"""Conditional GAN (cGAN) on the embedded digits (Mirza & Osindero 2014, arXiv:1411.1784).

The one-hot label is joined to G's noise and, as 10 constant channels, to D's input image.
The default experiment's nets and budget (dcgan_digits: 16×16, 32 base features, batch 64,
5,000 steps, Adam 2e-4, β1 0.5, generator EMA 0.999).

    jaxgan train --config experiments/cgan_digits.py --workdir runs/cgan_digits
    jaxgan sample --workdir runs/cgan_digits --label 3 --out three.png
"""
from jaxgan.config import presets


def get_config():
    config = presets.conditional_digits("concat")
    config.label_embedding_dim = 0  # one-hot
    return config
