"""SNGAN on CelebA, 64x64 RGB (centre crop, bilinear resize) (Miyato et al. 2018).

The 64-pixel ResNet of kwotsin/mimicry, torch_mimicry/nets/sngan/sngan_64.py (G 1024 -> 64
channels over four up-blocks, D 64 -> 1024 over an optimised block and four down-blocks; G
12,220,675 and D 10,141,441 parameters, as mimicry's: `python benchmarks/param_counts.py`), with
the optimisation of `sngan_cifar10` (hinge, n_dis 5, Adam(2e-4, 0, 0.9), batch 64, linear decay
over 50,000 generator steps). No BigGAN 64-pixel counterpart ships: StudioGAN's configs of
BigGAN at 64 px are for Tiny-ImageNet, which TFDS does not carry.
Needs the data prepared once with TFDS (the error message gives the command).
"""
from jaxgan.config import presets


def get_config():
    return presets.sngan_images("celeb_a", resolution=64, channels=3)
