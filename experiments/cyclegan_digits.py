"""CycleGAN on the embedded unpaired pair (no download, sized for a 2-core CPU): domain A = the
scikit-learn digits (grey, tiled to RGB), domain B = `digits_photo`, the same digits blended over
crops of scikit-learn's sample photographs, MNIST-M style (jaxgan.data.digits_photo).

Zhu et al. 2017's CycleGAN (jaxgan.core.cyclegan: LSGAN, cycle λ_A = λ_B = 10, identity 0.5·λ,
pools of 50, Adam(2e-4, 0.5, 0.999), constant lr then linear decay to 0), sized down for 16×16
images: ResNet generator with 3 blocks and 16 base features (ngf; 2 down- and 2 up-samplings, as
the paper's), PatchGAN D with 2 strided layers and 16 base features (34×34 receptive field, a 2×2
map of patch logits at 16 px), batch 16 instead of 1 (CPU throughput), 1,500 steps (the last 500
with linear decay). Measured results: benchmarks/README.md, "CycleGAN (issue 19)".
"""
from jaxgan.config.cyclegan import cyclegan_config


def get_config():
    c = cyclegan_config()
    c.dataset_a = "digits"
    c.dataset_b = "digits_photo"
    c.dataset = c.dataset_a
    c.resolution = 16
    c.channels = 3
    c.g_features = 16
    c.d_features = 16
    c.cyclegan_blocks = 3
    c.cyclegan_d_layers = 2
    c.batch_size = 16
    c.steps = 1500
    c.decay_steps = 500
    c.log_every = 50
    c.sample_every = 250
    c.checkpoint_every = 250
    c.num_translations_grid = 10
    return c
