"""PacGAN's 2-D mode-collapse benchmark 'ring8': 8 Gaussians on the unit circle, std 0.01.

The setup of PacGAN (Lin et al. 2018, arXiv:1712.04086), after VEEGAN (Srivastava et al. 2017):
z of dimension 2, generator MLP with 4 hidden layers of 400 (ReLU + BatchNorm), discriminator MLP
with 3 maxout layers of 200 (5 pieces), batch 100, Adam(lr 1e-4, b1 0.8), non-saturating loss; metrics
on 2,500 samples (`jaxgan eval`). PacGAN trains 400 epochs of 100,000 points (400,000 steps); the
budget here is CPU-sized: 20,000 steps. Pass --config.steps=400000 for the paper's.
"""
from jaxgan.config import base_config


def get_config():
    config = base_config()
    config.dataset = "ring8"
    config.model = "mlp"
    config.latent_dim = 2
    config.mlp_g_hidden = (400, 400, 400, 400)
    config.mlp_g_batch_norm = True
    config.mlp_d_hidden = (200, 200, 200)
    config.mlp_d_activation = "maxout"
    config.loss = "non_saturating"
    config.batch_size = 100
    config.steps = 20000
    config.optimizer = "adam"
    config.g_lr = 1e-4
    config.d_lr = 1e-4
    config.b1 = 0.8
    config.b2 = 0.999
    config.log_every = 100
    config.sample_every = 2000
    config.checkpoint_every = 5000
    config.num_samples_grid = 2500
    return config
