"""WGAN-GP on CIFAR-10, 32x32 RGB (Gulrajani et al. 2017, arXiv:1704.00028).

As in the authors' gan_cifar.py: Wasserstein loss with the gradient penalty
lambda·E[(‖∇D(x̂)‖₂ − 1)²], lambda 10, 5 critic steps per generator step, Adam(1e-4, b1 0.5,
b2 0.9), batch 64, 100,000 generator steps, z of dimension 128, DCGAN-shaped networks with no
BatchNorm in the critic (LayerNorm instead, as the paper recommends). Reference: IS 6.16 for
DCGAN, 7.86 for their ResNet; mimicry FID 22.29.
Needs the data prepared once with TFDS (the error message gives the command).
"""
from jaxgan.config import presets


def get_config():
    config = presets.dcgan_images("cifar10", resolution=32, channels=3)
    config.latent_dim = 128
    config.d_norm = "layer"  # no BatchNorm in a gradient-penalty critic
    config.loss = "wasserstein"
    config.penalty = "wgan_gp"
    config.penalty_weight = 10.0
    config.n_critic = 5
    config.batch_size = 64
    config.g_lr = 1e-4
    config.d_lr = 1e-4
    config.b2 = 0.9
    return config
