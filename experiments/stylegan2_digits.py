"""StyleGAN2-ADA on the embedded digits at 16×16, CPU-sized and class-conditional.

G: z ∈ R⁶⁴ → 2-layer mapping (lr × 0.01) → w ∈ R⁶⁴; synthesis 4×4 const → 8 → 16, widths
min(256 // res, 32) = 32, 32, 16, modulated convs with demodulation, noise, skip ToRGBs.
D: residual, 16 → 8 → 4, minibatch std (group 4), projection conditioning through a 2-layer
mapping. The ADA paper's `cifar` recipe scaled down (stylegan2-ada-pytorch train.py:160,195-198):
Adam(0.0025, β (0, 0.99)) scaled for lazy regularisation, R1 γ = 0.01 every 16 D steps, no
path-length regulariser and no style mixing (as `cifar`), EMA half-life 10 kimg with ramp-up
0.05, ADA towards r_t = 0.6 (p moves by 1 in 20 kimg: the run is short). Conditional because an
unconditional G bridges the ten digit classes (benchmarks/README.md, "Digits: why the default
fell short").

    jaxgan train --config experiments/stylegan2_digits.py --workdir runs/stylegan2_digits
    python benchmarks/digits_score.py runs/stylegan2_digits --eval
"""
from jaxgan.config import base_config


def get_config():
    c = base_config()
    c.dataset = "digits"
    c.resolution = 16
    c.channels = 1
    c.model = "stylegan2"
    c.training = "stylegan2"
    c.conditioning = "projection"
    c.latent_dim = 64
    c.w_dim = 64
    c.mapping_layers = 2
    c.channel_base = 256
    c.channel_max = 32
    c.d_architecture = "resnet"
    c.mbstd_group_size = 4
    c.loss = "non_saturating"
    c.penalty = "none"
    c.batch_size = 32
    c.g_lr = c.d_lr = 0.0025
    c.b1, c.b2 = 0.0, 0.99
    c.r1_gamma = 0.01
    c.r1_interval = 16
    c.pl_weight = 0.0
    c.pl_interval = 4
    c.style_mixing_prob = 0.0
    c.ema_kimg = 10.0
    c.ema_rampup = 0.05
    c.ada_target = 0.6
    c.ada_kimg = 20.0
    c.ada_interval = 4
    c.steps = 5000
    c.num_samples_grid = 100
    c.log_every = 100
    c.sample_every = 1000
    c.checkpoint_every = 1000
    c.monitor_every = 0
    return c
