"""The mode-seeking regulariser of the generator (Mao et al. 2019, "Mode Seeking Generative
Adversarial Networks for Diverse Image Synthesis", arXiv:1903.05628, eq. 3).

Two latents z₁, z₂ with the same condition y give two samples; G is rewarded for making the
samples differ in proportion to how far apart the latents are:

    d_I = mean |G(z₁, y) − G(z₂, y)|,   d_z = mean |z₁ − z₂|,   L_ms = 1 / (d_I / d_z + ε)

(means over the whole batch and every element; ε = 1e-5), added to G's loss with a weight λ.
This is the reference code's form (HelenMao/MSGAN, DCGAN-Mode-Seeking/model.py, `update_G`: `lz =
mean(abs(fake_image2 − fake_image1)) / mean(abs(z_random2 − z_random))`, `loss_lz = 1 / (lz +
eps)`, eps = 1e-5, weight 1), where G is called once on [z₁; z₂] with the labels twice and the
adversarial loss is taken on both halves. Pure math; the step (jaxgan.core.step) calls it.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array

EPSILON = 1e-5


def mode_seeking_loss(fake1: Array, fake2: Array, z1: Array, z2: Array,
                      eps: float = EPSILON) -> Array:
    """L_ms = 1 / (mean|fake1 − fake2| / mean|z1 − z2| + eps): small when distinct latents give
    distinct samples, large when G maps them to the same sample (a collapsed G: 1/eps)."""
    ratio = jnp.mean(jnp.abs(fake1 - fake2)) / jnp.mean(jnp.abs(z1 - z2))
    return 1.0 / (ratio + eps)
