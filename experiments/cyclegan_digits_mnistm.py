"""CycleGAN on the embedded pair with MNIST-M's blend: domain A = the scikit-learn digits, domain
B = `digits_photo` (out = |crop − digit|, jaxgan.data.digits_photo), with the settings of
experiments/cyclegan_digits.py (3 blocks, ngf = ndf = 16, 2 PatchGAN layers, batch 16, 1,500
steps, the last 500 decaying). 213 CPU-s.

The harder, honest limit of a deterministic CycleGAN: the |·| blend draws the digit dark on light
wherever the crop is bright (44% of domain B), G (deterministic) only ever draws bright strokes on
dark crops, so F never learns to read dark strokes: measured A → B 93.6% digit kept, B → A 46.5%
(target 90%), in target domain 94.4% / 100%, cycle error 0.076 / 0.178 per pixel
(benchmarks/README.md, "#19 session 6"; the variants tried there — no identity loss, a
minibatch-stddev D, noise in the A cycle, 4,000-5,000 steps — did not lift B → A above 48%).
"""
from jaxgan.config.cyclegan import cyclegan_experiment


def get_config():
    return cyclegan_experiment(
        "digits", "digits_photo", resolution=16, blocks=3, d_layers=2, features=16,
        batch_size=16, steps=1500, decay_steps=500, log_every=50, sample_every=250,
        checkpoint_every=250, num_translations_grid=10)
