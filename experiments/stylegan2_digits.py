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
from jaxgan.config import presets


def get_config():
    # the `cifar` recipe (jaxgan.config.presets.stylegan2_ada_cifar) at digits size
    c = presets.stylegan2_ada_cifar("digits", 16, 1, width=64, channel_base=256, channel_max=32,
                                    d_architecture="resnet", mbstd_group_size=4, batch_size=32,
                                    ema_kimg=10.0, ada_kimg=20.0, conv_clamp=0.0)
    c.steps = 5000
    c.num_samples_grid = 100
    c.log_every = 100
    c.sample_every = 1000
    c.checkpoint_every = 1000
    c.monitor_every = 0
    return c
