"""CycleGAN configs: `cyclegan_config()` (the paper's setup, the keys a CycleGAN run adds to
base_config), `cyclegan_experiment(...)` (that setup for one pair of data sets and sizes, the
function every experiments/cyclegan_*.py calls) and `build_cyclegan(config, shape_a, shape_b)`
(the static `CycleGAN` it describes).

Paper setup (Zhu et al. 2017; junyanz/pytorch-CycleGAN-and-pix2pix `options/train_options.py` and
`models/cycle_gan_model.py`; REFERENCE.md "CycleGAN"): ResNet generator with 9 blocks at 256 px,
70×70 PatchGAN, instance norm, LSGAN, λ_A = λ_B = 10, λ_idt = 0.5, pool of 50, Adam(2e-4, 0.5,
0.999), batch 1, 100 epochs at constant lr then 100 epochs of linear decay to 0.
"""
from __future__ import annotations

import ml_collections

from jaxgan.config.base import base_config
from jaxgan.config.build import OPTIMIZERS
from jaxgan.core.cyclegan import ADVERSARIAL_LOSSES, CycleGAN, lr_schedule
from jaxgan.models.cyclegan import model_quad

CYCLEGAN_KEYS = ("dataset_a", "dataset_b", "cyclegan_blocks", "cyclegan_d_layers",
                 "cyclegan_d_minibatch_std", "cyclegan_loss", "lambda_a", "lambda_b",
                 "lambda_identity", "pool_size", "cycle_noise_a", "cycle_noise_b", "decay_steps",
                 "num_translations_grid")


def cyclegan_config() -> ml_collections.ConfigDict:
    """base_config() with `task = 'cyclegan'` and the paper's CycleGAN settings (data sets left to
    the experiment; steps and decay_steps too, which depend on the data set's size)."""
    c = base_config()
    c.task = "cyclegan"  # jaxgan.training.trainers: which trainer runs the config
    c.dataset_a = "digits"
    c.dataset_b = "digits_photo_bright"
    c.dataset = c.dataset_a  # the spec written to data_spec.json is domain A's
    c.channels = 3
    c.resolution = 256
    c.g_features = 64  # ngf
    c.d_features = 64  # ndf
    c.cyclegan_blocks = 9
    c.cyclegan_d_layers = 0  # 0: by resolution (3, the 70x70 PatchGAN, from 64 px up)
    c.cyclegan_d_minibatch_std = 0  # > 0: minibatch-stddev group size in both PatchGANs
    c.cyclegan_loss = "lsgan"  # or any jaxgan.core.losses name
    c.lambda_a = 10.0
    c.lambda_b = 10.0
    c.lambda_identity = 0.5
    c.pool_size = 50
    c.cycle_noise_a = 0.0  # σ of N(0, σ²) added to G(a) inside the A cycle (0: the paper's)
    c.cycle_noise_b = 0.0  # σ added to F(b) inside the B cycle
    c.batch_size = 1
    c.g_lr = 2e-4
    c.d_lr = 2e-4
    c.b1 = 0.5
    c.b2 = 0.999
    c.decay_steps = 0  # the last decay_steps steps: linear decay of both lrs to 0
    c.num_translations_grid = 8  # fixed inputs per domain in the sample grids
    c.monitor_every = 0  # the GAN failure monitors do not apply
    return c


def cyclegan_experiment(dataset_a: str, dataset_b: str, *, resolution: int, blocks: int,
                        d_layers: int, steps: int, decay_steps: int, features: int = 64,
                        batch_size: int = 1, log_every: int = 100, sample_every: int = 5000,
                        checkpoint_every: int = 5000, **overrides) -> ml_collections.ConfigDict:
    """`cyclegan_config()` for one unpaired pair: the data sets, the image size, the networks'
    size (`blocks` residual blocks, `d_layers` PatchGAN layers, ngf = ndf = `features`), the
    batch, the schedule (`steps`, the last `decay_steps` of them decaying linearly to 0) and the
    logging cadence; `overrides` set any further key (e.g. lambda_identity=0.0). Both CycleGAN
    experiments (experiments/cyclegan_*.py) are one call of it."""
    c = cyclegan_config()
    c.dataset_a, c.dataset_b = dataset_a, dataset_b
    c.dataset = c.dataset_a
    c.resolution = resolution
    c.g_features = c.d_features = features
    c.cyclegan_blocks, c.cyclegan_d_layers = blocks, d_layers
    c.batch_size, c.steps, c.decay_steps = batch_size, steps, decay_steps
    c.log_every, c.sample_every, c.checkpoint_every = log_every, sample_every, checkpoint_every
    for key, value in overrides.items():
        if key not in c:
            raise ValueError(f"cyclegan_experiment: unknown config key {key!r}")
        c[key] = value
    return c


def build_cyclegan(config: ml_collections.ConfigDict, shape_a: tuple[int, ...],
                   shape_b: tuple[int, ...]) -> CycleGAN:
    """The CycleGAN `config` describes for images of `shape_a` and `shape_b`."""
    g_ab, g_ba, d_a, d_b = model_quad(config, tuple(shape_a), tuple(shape_b))
    make_optimizer = OPTIMIZERS[config.optimizer]
    decay = config.get("decay_steps", 0)
    if not 0 <= decay <= config.steps:
        raise ValueError(f"config.decay_steps must be in [0, steps={config.steps}], got {decay}")
    g_lr = lr_schedule(config.g_lr, config.steps, decay)
    d_lr = lr_schedule(config.d_lr, config.steps, decay)
    for key in ("lambda_a", "lambda_b", "lambda_identity"):
        if not config[key] >= 0:
            raise ValueError(f"config.{key} must be >= 0, got {config[key]}")
    for key in ("cycle_noise_a", "cycle_noise_b"):
        if not config.get(key, 0.0) >= 0:
            raise ValueError(f"config.{key} must be >= 0 (0: no noise), got {config[key]}")
    if config.pool_size < 0:
        raise ValueError(f"config.pool_size must be >= 0 (0: no pool), got {config.pool_size}")
    return CycleGAN(
        g_ab=g_ab, g_ba=g_ba, d_a=d_a, d_b=d_b,
        g_optimizer=make_optimizer(g_lr, config.b1, config.b2),
        d_optimizer=make_optimizer(d_lr, config.b1, config.b2),
        shape_a=tuple(shape_a), shape_b=tuple(shape_b),
        loss=ADVERSARIAL_LOSSES[config.get("cyclegan_loss", "lsgan")],
        lambda_a=float(config.lambda_a), lambda_b=float(config.lambda_b),
        lambda_identity=float(config.lambda_identity), pool_size=int(config.pool_size),
        cycle_noise_a=float(config.get("cycle_noise_a", 0.0)),
        cycle_noise_b=float(config.get("cycle_noise_b", 0.0)))
