"""DCGAN on CelebA, 64x64 RGB (centre crop, bilinear resize).

DCGAN as published (Radford et al. 2015, arXiv:1511.06434): batch 128, Adam(2e-4, b1 0.5),
init N(0, 0.02), BatchNorm in G and D (not on G's output or D's input), the non-saturating loss,
z of dimension 100; the common 64x64 form with 64 base features.
Needs the data prepared once with TFDS (the error message gives the command).
"""
from jaxgan.config import presets


def get_config():
    return presets.dcgan_images("celeb_a", resolution=64, channels=3)
