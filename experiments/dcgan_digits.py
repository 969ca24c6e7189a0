"""The default experiment (`jaxgan train --workdir DIR`): a class-conditional DCGAN on the embedded
digits.

The 1,797 scikit-learn 8x8 digits ship with jaxgan, so this runs with no download. It is sized to
give digits a person reads at once in under 3 minutes on a 2-core CPU: 16x16 images, 32 base
features in both networks (G 64-32-1 channels, D 32-64), batch 64, 7,000 steps, Adam(b1 0.5) at
2e-4 for G and 2e-3 for D, N(0, 0.02) init, the generator's exponential moving average (decay
0.99, warmed up as min(0.99, (1 + t) / (10 + t))), which samples and metrics use. G is DCGAN's
(Radford et al. 2015, arXiv:1511.06434) with BatchNorm; D has spectral norm on every layer and no
normalisation layer, a projection head for the label (Miyato & Koyama 2018, arXiv:1802.05637),
R1 (gamma 1, Mescheder et al. 2018, arXiv:1801.04406), and the hinge loss; G's loss has the
mode-seeking term of Mao et al. 2019 (arXiv:1903.05628) with weight 0.15.
Why each departure from plain DCGAN: benchmarks/README.md, "Digits: why the default fell short",
"Recall of the default digits run (issue 14)", "#14 recall, session 6" and "#14 session 7".

Measured (7,000 steps, seed 0, `jaxgan sample --num 1000 --seed 0` and `jaxgan eval`): 97.3% of
samples get classifier probability >= 0.9 (real digits: 98.4%), classifier-FID 0.032 (real vs
real: 0.17), IS 9.62 (real: 9.51), precision 0.82, recall 0.83 (seeds 1 and 2: precision 0.83 and
0.82, recall 0.81 and 0.81; the 5,000-step default of session 5, D at G's rate, EMA 0.999, no R1,
mode seeking 0.1: 96.1%, 0.055, 9.66, 0.85, 0.66).
`experiments/dcgan_digits_unconditional.py` is the same GAN without labels.
"""
from jaxgan.config import presets


def get_config():
    return presets.digits_default()
