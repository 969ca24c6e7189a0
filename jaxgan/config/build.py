"""`build_gan(config, data_shape, num_classes)`: a config turned into the static `GAN`
definition through the registries (models, losses, penalties, optimizers, augmentations)."""
from __future__ import annotations

from typing import Callable

import ml_collections
import optax

from jaxgan.core import ada
from jaxgan.core.augment import build_augment
from jaxgan.core.conditioning import is_conditional
from jaxgan.core.gan import GAN
from jaxgan.core.losses import get_loss
from jaxgan.core.optim import clip_gradients, learning_rates
from jaxgan.core.penalties import get_penalty, weight_clipping
from jaxgan.core.precision import COMPUTE_DTYPES
from jaxgan.core.registry import Registry
from jaxgan.core.stylegan_step import StyleGAN2Training, lazy_adam
from jaxgan.models import MODELS
from jaxgan.models.packing import PackedDiscriminator

OPTIMIZERS: Registry[Callable[..., optax.GradientTransformation]] = Registry("optimizer", {
    "adam": lambda lr, b1, b2: optax.adam(lr, b1=b1, b2=b2),
    "rmsprop": lambda lr, b1, b2: optax.rmsprop(lr),
})


def stylegan2_training(config: ml_collections.ConfigDict) -> StyleGAN2Training:
    """The StyleGAN2-ADA step's hyperparameters from `config` (jaxgan.core.stylegan_step)."""
    if config.n_critic != 1 or config.get("n_critic_boost", 0):
        raise ValueError(f"training='stylegan2' makes one D step per G step; set n_critic=1 "
                         f"and n_critic_boost=0 (got {config.n_critic}, "
                         f"{config.get('n_critic_boost', 0)})")
    pipeline = ada.PIPELINES[config.get("ada_pipeline", "bgc")]
    uses_ada = config.get("ada_target", 0.0) > 0 or config.get("ada_p_init", 0.0) > 0
    return StyleGAN2Training(
        batch_size=config.batch_size, r1_gamma=config.r1_gamma, r1_interval=config.r1_interval,
        pl_weight=config.pl_weight, pl_interval=config.pl_interval, pl_decay=config.pl_decay,
        pl_batch_shrink=config.pl_batch_shrink, style_mixing_prob=config.style_mixing_prob,
        ema_kimg=config.ema_kimg, ema_rampup=config.ema_rampup,
        ada_target=config.ada_target, ada_interval=config.ada_interval,
        ada_kimg=config.ada_kimg, ada_p_init=config.ada_p_init,
        ada_pipeline=pipeline if uses_ada else None)


TRAININGS: Registry[Callable[[ml_collections.ConfigDict], object]] = Registry("training", {
    "standard": lambda config: None,
    "stylegan2": stylegan2_training,
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

    `num_classes`: the data's classes (used by class-conditional configs, jaxgan.core.conditioning).
    `axis_name`: the device axis the step runs under
    (`jaxgan.training.parallel.step_axis_name(mode)`); with `config.sync_batch_norm` the BatchNorm
    layers average their batch statistics over it (cross-GPU BatchNorm, Peng et al. 2018,
    arXiv:1711.07240).
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
    training = TRAININGS[config.get("training", "standard")](config)
    g_make = d_make = make_optimizer
    ema_decay = config.ema_decay
    if training is not None:
        # Adam scaled for lazy regularisation (lr·c, β^c, c = I/(I + 1)); the EMA's β comes from
        # ema_kimg (jaxgan.core.stylegan_step), ema_decay only has to switch it on
        if config.optimizer != "adam":
            raise ValueError(f"training='stylegan2' uses Adam; set optimizer='adam'")
        g_make = lambda lr, b1, b2: lazy_adam(lr, b1, b2, config.pl_interval)  # noqa: E731
        d_make = lambda lr, b1, b2: lazy_adam(lr, b1, b2, config.r1_interval)  # noqa: E731
        ema_decay = (0.5 ** (config.batch_size / (config.ema_kimg * 1000.0))
                     if config.ema_kimg > 0 else 0.0)
    d_optimizer = clip_gradients(d_make(d_lr, config.b1, config.b2), clip_norm)
    if config.weight_clip > 0:
        d_optimizer = optax.chain(d_optimizer, weight_clipping(config.weight_clip))
    return GAN(
        generator=generator,
        discriminator=(discriminator.clone(spectral_norm=True)
                       if config.get("d_spectral_norm", False) else discriminator),
        g_optimizer=clip_gradients(g_make(g_lr, config.b1, config.b2), clip_norm),
        d_optimizer=d_optimizer,
        loss=get_loss(config.loss, real_target=config.real_label),
        penalty=get_penalty(config.penalty, config.penalty_weight),
        latent_dim=config.latent_dim,
        data_shape=tuple(data_shape),
        n_critic=config.n_critic,
        num_classes=num_classes,
        class_loss_weight=config.get("class_loss_weight", 1.0),
        ema_decay=ema_decay,
        ema_warmup=config.get("ema_warmup", True),
        ema_start=config.get("ema_start", 0),
        d_joint_batch=config.get("d_batch_stats", "separate") == "joint",
        augment=build_augment(config),
        mode_seeking_weight=config.get("mode_seeking_weight", 0.0),
        compute_dtype=COMPUTE_DTYPES[config.get("compute_dtype", "float32")],
        training=training,
    )
