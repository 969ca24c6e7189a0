"""CycleGAN on the embedded unpaired pair (no download, sized for a 2-core CPU): domain A = the
scikit-learn digits (grey, tiled to RGB), domain B = `digits_photo_bright`, the same digits drawn
as bright strokes over darkened crops of scikit-learn's sample photographs (out = crop/2 + digit/2,
jaxgan.data.digits_photo_bright: every stroke brighter than the background).

Zhu et al. 2017's CycleGAN (jaxgan.core.cyclegan: LSGAN, cycle λ_A = λ_B = 10, identity 0.5·λ,
pools of 50, Adam(2e-4, 0.5, 0.999), constant lr then linear decay to 0), sized down for 16×16
images: ResNet generator with 3 blocks and 16 base features (ngf; 2 down- and 2 up-samplings, as
the paper's), PatchGAN D with 2 strided layers and 16 base features (34×34 receptive field, a 2×2
map of patch logits at 16 px), batch 16 instead of 1 (CPU throughput), 1,500 steps (the last 500
with linear decay). Measured results: benchmarks/README.md, "#19 session 7".

The same settings on MNIST-M's blend (|crop − digit|, dark strokes on bright crops):
experiments/cyclegan_digits_mnistm.py, the harder set on which a deterministic CycleGAN keeps the
digit B → A in only ~47% ("#19 session 6").
"""
from jaxgan.config.cyclegan import cyclegan_experiment


def get_config():
    return cyclegan_experiment(
        "digits", "digits_photo_bright", resolution=16, blocks=3, d_layers=2, features=16,
        batch_size=16, steps=1500, decay_steps=500, log_every=50, sample_every=250,
        checkpoint_every=250, num_translations_grid=10)
