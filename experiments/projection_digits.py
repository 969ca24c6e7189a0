"""Projection discriminator on the embedded digits (Miyato & Koyama 2018, arXiv:1802.05637).

D(x, y) = ψ(φ(x)) + ⟨V[y], φ(x)⟩ with φ(x) D's last feature map; G joins the one-hot label to
its noise. Hinge loss and a spectrally normalised D without BatchNorm, as in the paper. This is
the default experiment (`dcgan_digits`), kept under its method's name.

Earlier D choices measured (5,000 steps, share of samples with classifier probability >= 0.9):
LayerNorm in D 93.9% but classifier-FID 10.2, precision 0.01, recall 0.00 — per-image
normalisation hides each image's contrast from D, and G's samples came out grey on grey (pixel
range [-0.63, 0.51] against the digits' [-1, 0.95]); BatchNorm in D collapsed to one class
(2,000 steps: 10% class accuracy); spectral norm, no normalisation: 97.0%, FID 0.09.

    jaxgan train --config experiments/projection_digits.py --workdir runs/projection_digits
    jaxgan sample --workdir runs/projection_digits --label 3 --out three.png
"""
from jaxgan.config import presets


def get_config():
    return presets.digits_default()
