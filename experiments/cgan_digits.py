"""Conditional GAN (cGAN) on the embedded digits (Mirza & Osindero 2014, arXiv:1411.1784).

The one-hot label is joined to G's noise and, as 10 constant channels, to D's input image.
The default experiment's nets and budget (dcgan_digits: 16×16, 32 base features, batch 64,
5,000 steps, Adam 2e-4, β1 0.5, generator EMA 0.999).

    jaxgan train --config experiments/cgan_digits.py --workdir runs/cgan_digits
    jaxgan sample --workdir runs/cgan_digits --label 3 --out three.png
"""
from jaxgan.config import base_config


def get_config():
    config = base_config()
    # the default experiment's budget and nets (experiments/dcgan_digits.py)
    config.dataset = "digits"
    config.resolution = 16
    config.channels = 1
    config.g_features = 32
    config.d_features = 32
    config.batch_size = 64
    config.steps = 5000
    config.ema_decay = 0.999
    config.sample_every = 500
    config.checkpoint_every = 1000
    config.num_samples_grid = 100  # 10 per class, one row per class
    config.conditioning = "concat"
    config.label_embedding_dim = 0  # one-hot
    return config
