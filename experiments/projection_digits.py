"""Projection discriminator on the embedded digits (Miyato & Koyama 2018, arXiv:1802.05637).

D(x, y) = ψ(φ(x)) + ⟨V[y], φ(x)⟩ with φ(x) D's last feature map; G joins the one-hot label to
its noise. Hinge loss as in the paper. DCGAN nets at 16×16 with the default 2,000-step budget.

    jaxgan train --config experiments/projection_digits.py --workdir runs/projection_digits
    jaxgan sample --workdir runs/projection_digits --label 3 --out three.png
"""
from jaxgan.config import base_config


def get_config():
    config = base_config()
    config.dataset = "digits"
    config.resolution = 16
    config.conditioning = "projection"
    config.loss = "hinge"
    return config
