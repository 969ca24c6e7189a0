"""PacGAN's 2-D mode-collapse benchmark 'grid25': 25 Gaussians on {-4, -2, 0, 2, 4}², std 0.05.

`jaxgan.config.presets.toy_mixture`: PacGAN2 (D judges pairs), z ∈ R², batch 100, G 4×64 ReLU,
D 3×64 LeakyReLU(0.2), both working at unit scale (`point_scale` 4: they see x / 4; samples come out in
the data's units), Adam(2e-3, β1 0.5) with a cosine decay over 160,000 steps, 1,000 steps per
compiled call, batches drawn on the device; metrics on 2,500 samples (`jaxgan eval`). Measured
(seed 0, `jaxgan train --config grid25` then `jaxgan eval`, 2 CPU cores, on the toy stream of
issue 21): 25/25 modes, 96.40% high quality, reverse KL 0.016; training 343 s wall, train + eval
83 s CPU, at a load average of ~30. PacGAN's own setup (G 4×400 ReLU+BN, D 3×200 maxout, Adam(1e-4, β1 0.8),
400,000 steps) is `presets.pacgan_mixture("grid25")`: ~20 ms a step here, over 2 hours for one
run (benchmarks/README.md).
"""
from jaxgan.config import presets


def get_config():
    return presets.toy_mixture("grid25", steps=160_000)
