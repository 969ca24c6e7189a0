"""Projection discriminator on the embedded digits (Miyato & Koyama 2018, arXiv:1802.05637).

D(x, y) = ψ(φ(x)) + ⟨V[y], φ(x)⟩ with φ(x) D's last feature map; G joins the one-hot label to
its noise. Hinge loss as in the paper. The default experiment's nets and budget (dcgan_digits:
16×16, 32 base features, batch 64, 5,000 steps, Adam 2e-4, β1 0.5, generator EMA 0.999), except
that D uses LayerNorm: the paper's D has spectral normalisation and no BatchNorm, and with
BatchNorm in D this setup collapsed to one class in our runs (2,000 steps: 10% class accuracy with
the hinge and with the non-saturating loss; 98.8% with LayerNorm; benchmarks/conditional_accuracy.py).

    jaxgan train --config experiments/projection_digits.py --workdir runs/projection_digits
    jaxgan sample --workdir runs/projection_digits --label 3 --out three.png
"""
from jaxgan.config import presets


def get_config():
    config = presets.conditional_digits("projection")
    config.loss = "hinge"
    config.d_norm = "layer"
    return config
