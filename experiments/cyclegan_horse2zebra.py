"""CycleGAN horse → zebra with the paper's settings (Zhu et al. 2017, arXiv:1703.10593; the
authors' junyanz/pytorch-CycleGAN-and-pix2pix defaults): TFDS `cycle_gan/horse2zebra` (trainA:
1,067 horses, trainB: 1,334 zebras; download it first with TFDS), 256×256 RGB, ResNet generator
with 9 blocks and ngf 64, 70×70 PatchGAN (3 layers, ndf 64), instance norm, LSGAN, λ_A = λ_B = 10,
identity 0.5·λ, pools of 50, Adam(2e-4, 0.5, 0.999), batch 1, 100 epochs at constant lr then 100
epochs of linear decay to 0. An epoch is counted as the reference does (its dataset length is
max(|A|, |B|) = 1,334 with batch 1): 200 epochs = 266,800 steps, the last 133,400 decaying.

Needs an accelerator (about a day on one GPU in the authors' setting); not run here. The
reference resizes to 286 and takes random 256 crops with horizontal flips; this pipeline resizes to
256 (jaxgan.data: centre crop + resize) without that augmentation.
"""
from jaxgan.config.cyclegan import cyclegan_experiment

EPOCH_STEPS = 1334  # max(|trainA|, |trainB|) at batch 1


def get_config():
    return cyclegan_experiment(
        "cycle_gan/horse2zebra:trainA", "cycle_gan/horse2zebra:trainB", resolution=256,
        blocks=9, d_layers=3, features=64, batch_size=1, steps=200 * EPOCH_STEPS,
        decay_steps=100 * EPOCH_STEPS, log_every=100, sample_every=5000, checkpoint_every=5000)
