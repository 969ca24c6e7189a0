"""The default experiment without labels: an unconditional DCGAN on the embedded digits.

The same networks, budget and D (spectral norm, no normalisation layer) as `dcgan_digits`
(without its mode-seeking term), the non-saturating loss and z ~ N(0, I) alone. Measured at 5,000
steps: 68.5% of samples get classifier probability >= 0.9 (the conditional default: 96.1%; real
digits: 98.4%): an unconditional G maps one connected Gaussian onto ten separated classes and
leaves samples on the bridges between them (benchmarks/README.md, "Digits: why the default fell short").
"""
from jaxgan.config import presets


def get_config():
    return presets.digits_dcgan()
