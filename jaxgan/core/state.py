"""The immutable training state: one pytree of arrays, never mutated."""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxgan.core.gan import GAN

Array = jax.Array
PyTree = Any


class NetState(struct.PyTreeNode):
    """One network: parameters, BatchNorm statistics ({} without BatchNorm), optimizer state."""

    params: PyTree
    batch_stats: PyTree
    opt_state: PyTree

    def variables(self) -> dict[str, PyTree]:
        return {"params": self.params, "batch_stats": self.batch_stats}


class GANState(struct.PyTreeNode):
    """Both networks, the generator's EMA parameters (None when disabled), the G step count and
    `extras`: the state of a custom step (`GAN.training`; None for the standard step), e.g.
    StyleGAN2's path-length mean and ADA's p."""

    step: Array
    generator: NetState
    discriminator: NetState
    ema_params: PyTree = None
    extras: PyTree = None

    def sampling_variables(self, use_ema: bool = True) -> dict[str, PyTree]:
        """The generator's variables for sampling: EMA params when kept and asked for."""
        params = self.ema_params if (use_ema and self.ema_params is not None) else \
            self.generator.params
        return {"params": params, "batch_stats": self.generator.batch_stats}


def _init_net(module, optimizer, key: Array, inputs: Array, labels: Array | None) -> NetState:
    variables = module.init(key, inputs, labels, train=True)
    params = variables.get("params", {})
    return NetState(params=params, batch_stats=variables.get("batch_stats", {}),
                    opt_state=optimizer.init(params))


def create_train_state(gan: GAN, key: Array) -> GANState:
    """A fresh state: both networks initialised from `key`, step 0."""
    key_g, key_d = jax.random.split(key)
    rows = 2 * getattr(gan.discriminator, "pack", 1)  # a PacGAN D needs whole packs
    z = jnp.zeros((rows, gan.latent_dim), jnp.float32)
    x = jnp.zeros((rows,) + tuple(gan.data_shape), jnp.float32)
    labels = jnp.zeros((rows,), jnp.int32) if gan.num_classes else None
    generator = _init_net(gan.generator, gan.g_optimizer, key_g, z, labels)
    discriminator = _init_net(gan.discriminator, gan.d_optimizer, key_d, x, labels)
    ema = jax.tree.map(jnp.copy, generator.params) if gan.ema_decay > 0 else None
    extras = gan.training.init_extras() if gan.training is not None else None
    return GANState(step=jnp.zeros((), jnp.int32), generator=generator,
                    discriminator=discriminator, ema_params=ema, extras=extras)


def generate(gan: GAN, state: GANState, z: Array, labels: Array | None = None,
             use_ema: bool = True) -> Array:
    """G(z) in eval mode (BatchNorm running statistics), with EMA params when kept."""
    return gan.apply_generator(state.sampling_variables(use_ema), z, labels, train=False)
