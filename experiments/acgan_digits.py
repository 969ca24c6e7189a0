"""ACGAN on the embedded digits (Odena, Olah & Shlens 2017, arXiv:1610.09585).

G multiplies the noise with a learned class embedding; D has a real/fake head and a class head, and
both nets add the class cross-entropy (weight `class_loss_weight`) to their adversarial loss.
DCGAN nets at 16×16 with the default 2,000-step budget (batch 64, Adam 2e-4, β1 0.5).

    jaxgan train --config experiments/acgan_digits.py --workdir runs/acgan_digits
    jaxgan sample --workdir runs/acgan_digits --label 3 --out three.png
"""
from jaxgan.config import base_config


def get_config():
    config = base_config()
    config.dataset = "digits"
    config.resolution = 16
    config.conditioning = "acgan"
    config.class_loss_weight = 1.0
    return config
