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
The recipe is `jaxgan.config.presets.stylegan2_ada_cifar`. Parameter counts equal the
reference's (`python benchmarks/param_counts.py`). Not trained here (no GPU in the sessions so far).
"""
from jaxgan.config import presets


def get_config():
    c = presets.stylegan2_ada_cifar("cifar10", 32, 3)
    c.steps = 1_562_500
    c.log_every = 100
    c.sample_every = 5000
    c.checkpoint_every = 5000
    return c
