"""StyleGAN2-ADA on CIFAR-10, 32×32 RGB, class-conditional: the ADA paper's `cifar` config
(Karras et al. 2020, arXiv:2006.06676; stylegan2-ada-pytorch train.py:160,176-198, `--cfg=cifar
--cond=1 --mirror=1`, FID 2.42 in its README, REFERENCE.md).

z = w = 512, 2 mapping layers (lr × 0.01), channel_base 32768, channel_max 512 (512 channels at
every resolution), D 'orig' (no residual connections), minibatch std group 32, projection
conditioning; Adam(0.0025, β (0, 0.99), ε 1e-8) scaled for lazy regularisation, R1 γ = 0.01 every
16 D steps, no path-length regulariser (pl_weight 0; G's Adam still scaled for interval 4, as the
reference), no style mixing; batch 64; EMA half-life 500 kimg with ramp-up 0.05; ADA 'bgc'
towards r_t = 0.6, p moving 1 per 500 kimg; conv_clamp 256; 100,000 kimg = 1,562,500 steps.
Departures: x-flips of the data set (`--mirror=1`) are not done; no float16 layers.
Parameter counts equal the reference's (`python benchmarks/param_counts.py`). Not trained here
(no GPU in the sessions so far).
"""
from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.dataset = "cifar10"
    c.resolution = 32
    c.channels = 3
    c.model = "stylegan2"
    c.training = "stylegan2"
    c.conditioning = "projection"
    c.latent_dim = 512
    c.w_dim = 512
    c.mapping_layers = 2
    c.channel_base = 32768
    c.channel_max = 512
    c.conv_clamp = 256.0
    c.d_architecture = "orig"
    c.mbstd_group_size = 32
    c.loss = "non_saturating"
    c.penalty = "none"
    c.batch_size = 64
    c.g_lr = c.d_lr = 0.0025
    c.b1, c.b2 = 0.0, 0.99
    c.r1_gamma = 0.01
    c.r1_interval = 16
    c.pl_weight = 0.0
    c.pl_interval = 4
    c.style_mixing_prob = 0.0
    c.ema_kimg = 500.0
    c.ema_rampup = 0.05
    c.ada_target = 0.6
    c.ada_kimg = 500.0
    c.ada_interval = 4
    c.steps = 1_562_500
    c.log_every = 100
    c.sample_every = 5000
    c.checkpoint_every = 5000
    return c
