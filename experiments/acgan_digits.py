"""ACGAN on the embedded digits (Odena, Olah & Shlens 2017, arXiv:1610.09585).

G multiplies the noise with a learned class embedding; D has a real/fake head and a class head, and
both nets add the class cross-entropy (weight `class_loss_weight`) to their adversarial loss.
The default experiment's nets and budget (dcgan_digits: 16×16, 32 base features, batch 64,
5,000 steps, Adam 2e-4, β1 0.5, generator EMA 0.999).

    jaxgan train --config experiments/acgan_digits.py --workdir runs/acgan_digits
    jaxgan sample --workdir runs/acgan_digits --label 3 --out three.png
"""
from jaxgan.config import presets


def get_config():
    config = presets.conditional_digits("acgan")
    config.class_loss_weight = 1.0
    return config
