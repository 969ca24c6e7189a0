"""PacGAN's 2-D mode-collapse benchmark 'grid25': 25 Gaussians on {-4, -2, 0, 2, 4}², std 0.05.

The setup of PacGAN (Lin et al. 2018, arXiv:1712.04086), after VEEGAN (Srivastava et al. 2017):
z of dimension 2, generator MLP with 4 hidden layers of 400 (ReLU + BatchNorm), discriminator MLP
with 3 maxout layers of 200 (5 pieces), batch 100, Adam(lr 1e-4, b1 0.8), non-saturating loss; metrics
on 2,500 samples (`jaxgan eval`). PacGAN trains 400 epochs of 100,000 points (400,000 steps); the
budget here is CPU-sized: 20,000 steps. Pass --config.steps=400000 for the paper's.
"""
from jaxgan.config import presets


def get_config():
    return presets.pacgan_mixture("grid25")
