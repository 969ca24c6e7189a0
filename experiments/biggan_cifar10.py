"""BigGAN on CIFAR-10, 32x32 RGB, class-conditional (Brock et al. 2019, arXiv:1809.11096).

PyTorch-StudioGAN's BigGAN-Mod recipe (src/configs/CIFAR10/BigGAN-Mod.yaml with the optimisation
of src/configs/CIFAR10/BigGAN.json, model src/models/big_resnet.py): 96 base channels (G 384,
D 192), class-conditional BatchNorm from a shared 128-d embedding with hierarchical z in R^80,
self-attention at 16x16 in G and D, spectral norm in G and D, orthogonal init, projection
discriminator, hinge loss, n_dis 5, batch 64, Adam(2e-4, b1 0, b2 0.999) (Brock et al.'s b1;
StudioGAN's file has 0.5), 100,000 generator steps, G's EMA 0.9999 from step 1,000.
G 9,416,196 and D 2,415,170 parameters, as StudioGAN's (`python benchmarks/param_counts.py`).
Reference: StudioGAN BigGAN-Mod IS 9.75 / FID 8.03 (10k vs 10k).
Needs the data prepared once with TFDS (the error message gives the command).

    jaxgan train --config experiments/biggan_cifar10.py --workdir runs/biggan_cifar10
    jaxgan sample --workdir runs/biggan_cifar10 --label 3 --out cats.png
"""
from jaxgan.config import presets


def get_config():
    return presets.biggan_images("cifar10", resolution=32, channels=3)
