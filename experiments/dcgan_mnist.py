"""DCGAN on MNIST, 32x32 grey (28x28 zero-padded to 32x32).

DCGAN as published (Radford et al. 2015, arXiv:1511.06434): batch 128, Adam(2e-4, b1 0.5),
init N(0, 0.02), BatchNorm in G and D (not on G's output or D's input), the non-saturating loss,
z of dimension 100; the common 32x32 form with 64 base features. Lucic et al. 2018 report a best
MNIST FID of 6.8 for the non-saturating GAN (their small nets, z 64, batch 64, 10k samples).
Needs the data prepared once with TFDS (the error message gives the command).
"""
from jaxgan.config import presets


def get_config():
    config = presets.dcgan_images("mnist", resolution=32, channels=1)
    config.steps = 20000
    config.sample_every = 1000
    config.checkpoint_every = 2000
    return config
