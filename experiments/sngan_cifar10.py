"""SNGAN on CIFAR-10, 32x32 RGB (Miyato et al. 2018, arXiv:1802.05957).

The ResNet of kwotsin/mimicry, torch_mimicry/nets/sngan/sngan_32.py (G 256 channels, three
up-blocks; D 128 channels: optimised block, one down-block, two blocks at 8x8; spectral norm on
every D layer, global sum pooling): G 4,276,739 and D 1,053,825 parameters, as mimicry's
(`python benchmarks/param_counts.py`). Hinge loss, n_dis 5, Adam(2e-4, b1 0, b2 0.9), batch 64,
50,000 generator steps, learning rates decayed linearly to 0 (jaxgan.config.presets.sngan_images).
Reference: StudioGAN IS 8.68 / FID 13.25 (10k vs 10k), mimicry FID 16.77 (50k vs 50k).
Needs the data prepared once with TFDS (the error message gives the command).
"""
from jaxgan.config import presets


def get_config():
    return presets.sngan_images("cifar10", resolution=32, channels=3)
