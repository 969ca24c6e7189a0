"""The base experiment config and its translation into a `GAN`.

Experiment files (`experiments/NAME.py`) start from `base_config()` and override fields; the CLI
applies dotted overrides on top (`--config.loss=hinge`). `build_gan(config, data_shape,
num_classes)` turns a config into the static GAN definition through registries.
"""
from __future__ import annotations

from typing import Callable

import ml_collections
import optax

from jaxgan import models
from jaxgan.augment import build_augment
from jaxgan.conditioning import is_conditional
from jaxgan.gan import GAN
from jaxgan.losses import get_loss
from jaxgan.optim import clip_gradients, learning_rates
from jaxgan.packing import PackedDiscriminator
from jaxgan.penalties import get_penalty, weight_clipping
from jaxgan.registry import Registry


def base_config() -> ml_collections.ConfigDict:
    """Defaults shared by every experiment: DCGAN on the embedded digits."""
    c = ml_collections.ConfigDict()
    c.seed = 0
    # data
    c.dataset = "digits"
    c.data_dir = ""  # "" means TFDS's default (~/tensorflow_datasets or $TFDS_DATA_DIR)
    c.resolution = 32
    c.channels = 1
    # model
    c.model = "dcgan"
    c.latent_dim = 100
    c.g_features = 64
    c.d_features = 64
    c.d_norm = "batch"  # batch | layer | none
    c.conv_impl = "auto"  # how DCGAN's 4x4 stride-2 convs are computed (jaxgan.layers; same result)
    c.mlp_g_hidden = (400, 400, 400, 400)
    c.mlp_d_hidden = (200, 200, 200)
    c.mlp_g_batch_norm = True
    c.mlp_d_activation = "maxout"  # maxout | leaky_relu
    c.point_scale = 1.0  # MLPs on 2-D data work in units of x / point_scale (grid25: 4)
    # class conditioning (jaxgan.conditioning)
    c.conditioning = "none"  # none | concat | acgan | projection
    c.label_embedding_dim = 0  # label code joined to inputs: 0 one-hot, > 0 learned embedding
    c.class_loss_weight = 1.0  # acgan: weight of the class cross-entropy in both losses
    # objective
    c.loss = "non_saturating"
    c.real_label = 1.0  # < 1: one-sided label smoothing (BCE losses)
    c.penalty = "none"  # none | wgan_gp | r1 | dragan
    c.penalty_weight = 10.0
    c.weight_clip = 0.0  # > 0: WGAN weight clipping of D's params to [-c, c]
    c.n_critic = 1
    # stabilisers (jaxgan.augment, jaxgan.critic_schedule, jaxgan.optim, jaxgan.monitors)
    c.n_critic_boost = 0  # > 0: WGAN schedule, this many critic steps at the boosted steps (100)
    c.n_critic_boost_first = 25  # ... for the first this many generator steps
    c.n_critic_boost_every = 500  # ... and at every this-many-th generator step
    c.d_spectral_norm = False  # spectral normalisation of D's layers (Miyato et al. 2018)
    c.diffaugment = ""  # DiffAugment policy of D's inputs, e.g. "color,translation,cutout"
    c.instance_noise_std = 0.0  # > 0: N(0, std²) added to D's real and fake inputs
    c.instance_noise_anneal_steps = 0  # std decays linearly to 0 over these steps (0: constant)
    c.pack = 1  # > 1: PacGAN, D judges packs of this many samples (jaxgan.packing)
    # optimisation
    c.batch_size = 64
    c.steps = 2000
    c.optimizer = "adam"  # adam | rmsprop
    c.g_lr = 2e-4
    c.d_lr = 2e-4
    c.b1 = 0.5
    c.b2 = 0.999
    c.lr_schedule = "constant"  # constant | linear_warmup | linear_decay | cosine | warmup_cosine
    c.warmup_steps = 0  # generator steps of linear warm-up (linear_warmup, warmup_cosine)
    c.grad_clip_norm = 0.0  # > 0: clip each net's gradient to this global norm
    c.ema_decay = 0.0
    # failure detection (jaxgan.monitors): thresholds of the signs, checked while training
    c.monitor_every = 100  # G's samples of a fixed latent batch checked every N steps (0: off)
    c.monitor_num_samples = 256  # size of that batch and of the real sample it is compared to
    c.monitor_window = 100  # steps the convergence-failure and D-accuracy signs average over
    c.monitor_check_every = 10  # the window signs are evaluated every this many steps
    c.monitor_start_step = 500  # no sign fires before this step (an untrained G looks collapsed)
    c.monitor_d_loss_margin = 0.05  # D loss within this of its lowest value counts as ~0
    c.monitor_min_fake_accuracy = 0.99  # D accuracy on fakes from this counts as ~100%
    c.monitor_min_g_loss_slope = 0.0  # G loss "climbs" above this slope per step
    c.monitor_min_diversity_ratio = 0.2  # mode collapse below this fraction of real diversity
    c.monitor_min_class_fraction = 0.5  # mode collapse below this fraction of classes covered
    c.monitor_healthy_accuracy = (0.7, 0.8)  # healthy range of D's mean accuracy (reported)
    c.monitor_stop_on = ""  # signs that stop the run: "convergence_failure,mode_collapse"
    # run
    c.num_seeds = 1  # > 1: train seeds seed..seed+num_seeds-1 at once (jaxgan.seed_runs)
    c.seed_map = "vmap"  # how those seeds are mapped in the step: vmap | map | unroll (jaxgan.seeds)
    c.parallel = "auto"  # jaxgan.parallel mode: auto | jit | pmap | shard_map
    c.sync_batch_norm = True  # BatchNorm statistics over the global batch, not per device
    c.steps_per_call = 1  # > 1: that many steps per compiled lax.scan call (jaxgan.train)
    c.log_every = 50
    c.sample_every = 500
    c.checkpoint_every = 1000
    c.keep_checkpoints = 3
    c.num_samples_grid = 64
    return c


ModelPair = Callable[..., tuple]  # (config, data_shape, bn_axis_name) -> (generator, discriminator)


def _dcgan(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
           bn_axis_name: str | None = None):
    resolution, _, channels = data_shape
    conv_impl = config.get("conv_impl", "auto")
    return (models.DCGANGenerator(resolution=resolution, channels=channels,
                                  features=config.g_features, bn_axis_name=bn_axis_name,
                                  conv_impl=conv_impl),
            models.DCGANDiscriminator(resolution=resolution, features=config.d_features,
                                      norm=config.d_norm, bn_axis_name=bn_axis_name,
                                      conv_impl=conv_impl))


def _mlp(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
         bn_axis_name: str | None = None):
    scale = float(config.get("point_scale", 1.0))
    return (models.MLPGenerator(hidden=tuple(config.mlp_g_hidden), out_dim=data_shape[-1],
                                batch_norm=config.mlp_g_batch_norm, bn_axis_name=bn_axis_name,
                                output_scale=scale),
            models.MLPDiscriminator(hidden=tuple(config.mlp_d_hidden),
                                    activation=config.mlp_d_activation, input_scale=scale))


MODELS: Registry[ModelPair] = Registry("model", {"dcgan": _dcgan, "mlp": _mlp})

OPTIMIZERS: Registry[Callable[..., optax.GradientTransformation]] = Registry("optimizer", {
    "adam": lambda lr, b1, b2: optax.adam(lr, b1=b1, b2=b2),
    "rmsprop": lambda lr, b1, b2: optax.rmsprop(lr),
})


def make_conditional(generator, discriminator, config: ml_collections.ConfigDict,
                     num_classes: int) -> tuple:
    """The model pair with `config.conditioning` applied (unchanged for 'none')."""
    name = config.get("conditioning", "none")
    if not is_conditional(name, num_classes):
        return generator, discriminator
    fields = dict(conditioning=name, num_classes=num_classes,
                  label_embedding_dim=config.get("label_embedding_dim", 0))
    for module in (generator, discriminator):
        if not all(hasattr(module, field) for field in fields):
            raise ValueError(f"model {config.model!r} ({type(module).__name__}) does not support "
                             f"class conditioning; use conditioning='none'")
    return generator.clone(**fields), discriminator.clone(**fields)


def build_gan(config: ml_collections.ConfigDict, data_shape: tuple[int, ...],
              num_classes: int = 0, axis_name: str | None = None) -> GAN:
    """The GAN a config describes, for data of `data_shape`.

    `num_classes`: the data's classes (used by class-conditional configs, jaxgan.conditioning).
    `axis_name`: the device axis the step runs under (`jaxgan.parallel.step_axis_name(mode)`);
    with `config.sync_batch_norm` the BatchNorm layers average their batch statistics over it
    (cross-GPU BatchNorm, Peng et al. 2018, arXiv:1711.07240).
    `config.pack` > 1 wraps D for PacGAN (Lin et al. 2018): D judges packs of samples.
    """
    bn_axis_name = axis_name if config.get("sync_batch_norm", True) else None
    generator, discriminator = MODELS[config.model](config, tuple(data_shape), bn_axis_name)
    generator, discriminator = make_conditional(generator, discriminator, config, num_classes)
    pack = config.get("pack", 1)
    if pack > 1:
        if is_conditional(config.get("conditioning", "none"), num_classes):
            raise ValueError(f"pack={pack} (PacGAN) is for unconditional GANs; set pack=1 "
                             f"or conditioning=none")
        discriminator = PackedDiscriminator(discriminator, pack)
    elif pack < 1:
        raise ValueError(f"pack must be >= 1 (1: no packing), got {pack}")
    make_optimizer = OPTIMIZERS[config.optimizer]
    g_lr, d_lr = learning_rates(config)
    clip_norm = config.get("grad_clip_norm", 0.0)
    d_optimizer = clip_gradients(make_optimizer(d_lr, config.b1, config.b2), clip_norm)
    if config.weight_clip > 0:
        d_optimizer = optax.chain(d_optimizer, weight_clipping(config.weight_clip))
    return GAN(
        generator=generator,
        discriminator=(discriminator.clone(spectral_norm=True)
                       if config.get("d_spectral_norm", False) else discriminator),
        g_optimizer=clip_gradients(make_optimizer(g_lr, config.b1, config.b2), clip_norm),
        d_optimizer=d_optimizer,
        loss=get_loss(config.loss, real_target=config.real_label),
        penalty=get_penalty(config.penalty, config.penalty_weight),
        latent_dim=config.latent_dim,
        data_shape=tuple(data_shape),
        n_critic=config.n_critic,
        num_classes=num_classes,
        class_loss_weight=config.get("class_loss_weight", 1.0),
        ema_decay=config.ema_decay,
        augment=build_augment(config),
    )
