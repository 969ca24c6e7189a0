"""The static definition of a GAN: networks, optimizers, loss, penalty, schedule.

A `GAN` holds no arrays; it is closed over by the pure update step (jaxgan.core.step). The arrays
live in the state pytree (jaxgan.core.state).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxgan.core import precision
from jaxgan.core.losses import GANLoss

Array = jax.Array
Penalty = Callable[[Callable[[Array], Array], Array, Array, Array], Array]
Augment = Callable[[Array, Array, Array, Array], tuple[Array, Array]]  # (real, fake, key, step)


@dataclasses.dataclass(frozen=True)
class GAN:
    """Everything static about a GAN.

    Attributes:
      generator / discriminator: flax modules with `(inputs, labels, train)` call signatures.
      g_optimizer / d_optimizer: separate optax transformations (TTUR is two learning rates).
      loss: a `jaxgan.core.losses.GANLoss`.
      penalty: `(critic_fn, real, fake, key) -> scalar` added to the D loss (jaxgan.core.penalties).
      n_critic: discriminator updates per generator update.
      latent_dim: size of z ~ N(0, I).
      data_shape: one example's shape, e.g. (32, 32, 3) or (2,).
      num_classes: number of labels (0: unconditional).
      class_loss_weight: weight of the ACGAN class cross-entropy added to both nets' losses
        (used only when D returns class logits; jaxgan.core.conditioning).
      ema_decay: decay of the generator's exponential moving average (0: none kept).
      ema_warmup: ramp the EMA decay up with the step, min(ema_decay, (1 + t) / (10 + t))
        (jaxgan.core.step.ema_decay_at), so early averages do not show the initialisation.
      ema_start: generator steps before the average starts: until then the EMA is a copy of G's
        params (decay 0), as BigGAN's / StudioGAN's `ema_start` (1,000 for CIFAR-10).
      d_joint_batch: D sees real and fake examples in one call [real; fake], so its BatchNorm
        normalises both with the same statistics; False: one call per half (DCGAN's reference
        code), where a BatchNorm D can tell the halves apart by batch statistics alone.
      augment: optional differentiable transform of the discriminator's input pair,
        (real, fake, key, step) -> (real, fake), one key per update (jaxgan.core.augment).
      mode_seeking_weight: λ of the mode-seeking term λ·L_ms added to G's loss (0: off;
        jaxgan.core.mode_seeking, Mao et al. 2019); G's update then draws two latents per row.
      compute_dtype: the dtype both networks compute in (jaxgan.core.precision: float32, or
        bfloat16 with float32 params, optimizer state, losses and statistics).
      training: None (the standard step of jaxgan.core.step), or an object whose
        `(gan, state, batch, key, axis_name) -> (state, metrics)` replaces it and whose
        `init_extras()` is the initial `GANState.extras` (jaxgan.core.stylegan_step).
    """

    generator: nn.Module
    discriminator: nn.Module
    g_optimizer: optax.GradientTransformation
    d_optimizer: optax.GradientTransformation
    loss: GANLoss
    penalty: Penalty
    latent_dim: int
    data_shape: tuple[int, ...]
    n_critic: int = 1
    num_classes: int = 0
    class_loss_weight: float = 1.0
    ema_decay: float = 0.0
    ema_warmup: bool = False
    ema_start: int = 0
    d_joint_batch: bool = False
    augment: Augment | None = None
    mode_seeking_weight: float = 0.0
    compute_dtype: Any = jnp.float32
    training: Any = None

    def __post_init__(self):
        if self.n_critic < 1:
            raise ValueError(f"n_critic must be >= 1, got {self.n_critic}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if self.mode_seeking_weight < 0:
            raise ValueError(f"mode_seeking_weight must be >= 0, got {self.mode_seeking_weight}")
        if self.ema_start < 0:
            raise ValueError(f"ema_start must be >= 0, got {self.ema_start}")

    def sample_latent(self, key: Array, num: int) -> Array:
        """z ~ N(0, I) of shape [num, latent_dim]."""
        return jax.random.normal(key, (num, self.latent_dim), jnp.float32)

    def apply_generator(self, variables: dict, z: Array, labels: Array | None, *, train: bool,
                        mutable=False):
        """G(z, labels) computed in `compute_dtype` (jaxgan.core.precision.apply)."""
        return precision.apply(self.generator, variables, z, labels, train=train, mutable=mutable,
                               dtype=self.compute_dtype)

    def apply_discriminator(self, variables: dict, x: Array, labels: Array | None, *, train: bool,
                            mutable=False):
        """D(x, labels) computed in `compute_dtype` (jaxgan.core.precision.apply)."""
        return precision.apply(self.discriminator, variables, x, labels, train=train,
                               mutable=mutable, dtype=self.compute_dtype)
