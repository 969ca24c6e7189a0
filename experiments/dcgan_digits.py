"""DCGAN on the embedded digits (the default experiment: `jaxgan train --workdir DIR`).

The 1,797 scikit-learn 8x8 digits ship with jaxgan, so this runs with no download. It is sized to
give recognisable digits in a few minutes on a 2-core CPU: 16x16 images, 32 base features in both
networks, batch 64, 2,000 steps. Otherwise DCGAN as published (Radford et al. 2015,
arXiv:1511.06434): Adam(2e-4, b1 0.5), BatchNorm in G and D, non-saturating loss.
"""
from jaxgan.config import base_config


def get_config():
    config = base_config()
    config.dataset = "digits"
    config.resolution = 16
    config.channels = 1
    config.model = "dcgan"
    config.g_features = 32
    config.d_features = 32
    config.batch_size = 64
    config.steps = 2000
    config.g_lr = 2e-4
    config.d_lr = 2e-4
    config.b1 = 0.5
    config.log_every = 50
    config.sample_every = 250
    config.checkpoint_every = 500
    return config
