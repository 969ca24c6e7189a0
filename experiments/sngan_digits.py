"""SNGAN's ResNet (Miyato et al. 2018, arXiv:1802.05957) on the embedded digits, CPU-sized and
class-conditional as cGAN-PD (Miyato & Koyama 2018, arXiv:1802.05637).

16×16: G z ∈ R⁹⁶ → 32@4×4 → two up-blocks (class-conditional BatchNorm with per-layer class
embeddings, ReLU, nearest up-sampling, 3×3 convs, 1×1 shortcut) → tanh; D an optimised block, a
down-block, a block at 4×4 (32 channels, spectral norm on every layer), ReLU, global sum pooling,
a projection head; orthogonal init (BigGAN's; with mimicry's Xavier init 67.9% confident
instead of 97.1%), hinge loss, n_dis 1, Adam(2e-4, 0.5, 0.999), batch 64, EMA 0.999
(jaxgan.config.presets.digits_resnet). `--config.conditioning=none` trains it unconditional.

    jaxgan train --config experiments/sngan_digits.py --workdir runs/sngan_digits
    python benchmarks/digits_score.py runs/sngan_digits --eval
"""
from jaxgan.config import presets


def get_config():
    return presets.digits_resnet("resnet")
