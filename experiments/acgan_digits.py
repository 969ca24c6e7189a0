"""ACGAN on the embedded digits (Odena, Olah & Shlens 2017, arXiv:1610.09585).

G multiplies the noise with a learned class embedding; D has a real/fake head and a class head, and
both nets add the class cross-entropy (weight `class_loss_weight`) to their adversarial loss.
The default experiment's nets and budget (dcgan_digits: 16×16, 32 base features, batch 64,
5,000 steps, Adam 2e-4, β1 0.5, generator EMA 0.999).

    jaxgan train --config experiments/acgan_digits.py --workdir runs/acgan_digits
    jaxgan sample --workdir runs/acgan_digits --label 3 --out three.png
"""
from jaxgan.config import base_config


def get_config():
    config = base_config()
    # the default experiment's budget and nets (experiments/dcgan_digits.py)
    config.dataset = "digits"
    config.resolution = 16
    config.channels = 1
    config.g_features = 32
    config.d_features = 32
    config.batch_size = 64
    config.steps = 5000
    config.ema_decay = 0.999
    config.sample_every = 500
    config.checkpoint_every = 1000
    config.num_samples_grid = 100  # 10 per class, one row per class
    config.conditioning = "acgan"
    config.class_loss_weight = 1.0
    return config
