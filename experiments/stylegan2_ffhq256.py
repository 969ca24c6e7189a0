"""StyleGAN2-ADA at 256×256 on a prepared image folder (FFHQ): the ADA paper's `paper256`
config (stylegan2-ada-pytorch train.py:157,176-187).

z = w = 512, 8 mapping layers (lr × 0.01), channel_base 16384 (fmaps 0.5), channel_max 512
(512 channels up to 32×32, then 256, 128, 64), residual D, minibatch std group 8, unconditional;
Adam(0.0025, β (0, 0.99)) scaled for lazy regularisation, R1 γ = 1 every 16 D steps, path length
weight 2 every 4 G steps (decay 0.01, batch shrink 2), style mixing 0.9, batch 64, EMA half-life
20 kimg without ramp-up, ADA 'bgc' towards r_t = 0.6 (500 kimg per unit of p), conv_clamp 256,
25,000 kimg = 390,625 steps. Parameter counts equal the reference's
(`python benchmarks/param_counts.py`). Not trained here.

Prepare the images once (README "Your own images"), then train:

    jaxgan prepare ffhq_images/ --name ffhq256 --resolution 256
    jaxgan train --config experiments/stylegan2_ffhq256.py --workdir runs/ffhq256
    jaxgan sample --workdir runs/ffhq256 --truncation 0.7 --out faces.png
"""
from jaxgan.config import base_config, presets


def get_config():
    # paper256 shares the `cifar` recipe's structure (presets.stylegan2_ada_cifar); what differs:
    c = presets.stylegan2_ada_cifar("ffhq256", 256, 3, channel_base=16384, channel_max=512,
                                    d_architecture="resnet", mbstd_group_size=8, batch_size=64,
                                    ema_kimg=20.0, ada_kimg=500.0, conv_clamp=256.0)
    c.conditioning = base_config().conditioning  # unconditional (the name given to `prepare`)
    c.mapping_layers = 8
    c.r1_gamma = 1.0
    c.pl_weight = 2.0
    c.style_mixing_prob = 0.9
    c.ema_rampup = 0.0
    c.steps = 390_625
    c.log_every = 100
    c.sample_every = 5000
    c.checkpoint_every = 5000
    c.num_samples_grid = 16
    return c
