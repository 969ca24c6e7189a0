"""BigGAN's parts (Brock et al. 2019, arXiv:1809.11096) on the embedded digits, CPU-sized and
class-conditional.

16×16: G with class-conditional BatchNorm whose gains and biases are linear maps of
[shared class embedding (32-d), chunk of z] (hierarchical z ∈ R⁹⁶, 3 chunks), self-attention
(SAGAN) at 8×8, spectral norm and orthogonal init in G and D; D with the projection head; hinge
loss, n_dis 1, Adam(2e-4, 0.5, 0.999), batch 64, EMA 0.999 (jaxgan.config.presets.digits_resnet).

    jaxgan train --config experiments/biggan_digits.py --workdir runs/biggan_digits
    jaxgan sample --workdir runs/biggan_digits --label 3 --out three.png
    python benchmarks/digits_score.py runs/biggan_digits --eval
"""
from jaxgan.config import presets


def get_config():
    return presets.digits_resnet("biggan")
