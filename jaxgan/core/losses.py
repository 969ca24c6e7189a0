"""GAN losses as pure functions of discriminator logits.

Every function takes the discriminator's raw outputs (logits o, shape [B]) and returns a scalar to
be *minimised*. σ is the sigmoid; −log σ(o) = softplus(−o) and −log(1 − σ(o)) = softplus(o) are
used for numerical stability. References: ../shared/reference/REFERENCE.md.

Public API: `LOSSES[name]` is a `GANLoss` with `discriminator(real_logits, fake_logits)` and
`generator(fake_logits, real_logits)`; `get_loss(name, real_target=...)` adds one-sided label
smoothing to the losses built on binary cross-entropy.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import jax.numpy as jnp

from jaxgan.core.registry import Registry

Array = jax.Array


def binary_cross_entropy_with_logits(logits: Array, target: Array | float) -> Array:
    """mean_i[ −t log σ(o_i) − (1 − t) log(1 − σ(o_i)) ]."""
    return jnp.mean(target * jax.nn.softplus(-logits) + (1.0 - target) * jax.nn.softplus(logits))


# --- minimax / non-saturating (Goodfellow et al. 2014, arXiv:1406.2661) -------------------------

def minimax_discriminator_loss(real_logits: Array, fake_logits: Array,
                               real_target: float = 1.0) -> Array:
    """−E_x[log D(x)] − E_z[log(1 − D(G(z)))]: BCE with real → 1, fake → 0.

    Goodfellow et al. 2014. With `real_target` < 1 the real term is BCE against that target
    (one-sided label smoothing, Salimans et al. 2016, arXiv:1606.03498); fakes keep target 0.
    """
    return (binary_cross_entropy_with_logits(real_logits, real_target)
            + binary_cross_entropy_with_logits(fake_logits, 0.0))


def minimax_generator_loss(fake_logits: Array, real_logits: Array | None = None) -> Array:
    """E_z[log(1 − D(G(z)))] = −E[softplus(o_fake)]: the saturating generator of the minimax game.

    Goodfellow et al. 2014. Its gradient w.r.t. o_fake is −σ(o_fake), which vanishes when D
    confidently rejects fakes (o_fake → −∞).
    """
    del real_logits
    return -jnp.mean(jax.nn.softplus(fake_logits))


def non_saturating_generator_loss(fake_logits: Array, real_logits: Array | None = None) -> Array:
    """−E_z[log D(G(z))] = E[softplus(−o_fake)] (Goodfellow et al. 2014, the 'log D trick').

    Gradient w.r.t. o_fake is σ(o_fake) − 1 → −1 when D confidently rejects fakes.
    """
    del real_logits
    return jnp.mean(jax.nn.softplus(-fake_logits))


# --- Wasserstein (Arjovsky et al. 2017, arXiv:1701.07875) ----------------------------------------

def wasserstein_discriminator_loss(real_logits: Array, fake_logits: Array) -> Array:
    """E[D(G(z))] − E[D(x)]: the critic maximises E[D(x)] − E[D(G(z))] (Arjovsky et al. 2017).

    Needs a Lipschitz constraint: weight clipping or a gradient penalty (jaxgan.core.penalties).
    """
    return jnp.mean(fake_logits) - jnp.mean(real_logits)


def wasserstein_generator_loss(fake_logits: Array, real_logits: Array | None = None) -> Array:
    """−E[D(G(z))] (Arjovsky et al. 2017)."""
    del real_logits
    return -jnp.mean(fake_logits)


# --- hinge (Lim & Ye 2017, arXiv:1705.02894; Miyato et al. 2018, arXiv:1802.05957) ----------------

def hinge_discriminator_loss(real_logits: Array, fake_logits: Array) -> Array:
    """E[relu(1 − D(x))] + E[relu(1 + D(G(z)))] (Lim & Ye 2017; Miyato et al. 2018)."""
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


hinge_generator_loss = wasserstein_generator_loss  # −E[D(G(z))], the same formula


# --- least squares (Mao et al. 2017, arXiv:1611.04076) -------------------------------------------

def least_squares_discriminator_loss(real_logits: Array, fake_logits: Array) -> Array:
    """½E[(D(x) − 1)²] + ½E[D(G(z))²] (Mao et al. 2017, targets a=0, b=1)."""
    return 0.5 * jnp.mean((real_logits - 1.0) ** 2) + 0.5 * jnp.mean(fake_logits ** 2)


def least_squares_generator_loss(fake_logits: Array, real_logits: Array | None = None) -> Array:
    """½E[(D(G(z)) − 1)²] (Mao et al. 2017, c=1)."""
    del real_logits
    return 0.5 * jnp.mean((fake_logits - 1.0) ** 2)


# --- relativistic (Jolicoeur-Martineau 2018, arXiv:1807.00734) ------------------------------------

def relativistic_discriminator_loss(real_logits: Array, fake_logits: Array,
                                    real_target: float = 1.0) -> Array:
    """RpGAN: E[softplus(−(D(x) − D(G(z))))], pairing real and fake samples i with i.

    Jolicoeur-Martineau 2018. `real_target` < 1 smooths the target of the paired BCE.
    """
    return binary_cross_entropy_with_logits(real_logits - fake_logits, real_target)


def relativistic_generator_loss(fake_logits: Array, real_logits: Array) -> Array:
    """RpGAN: E[softplus(−(D(G(z)) − D(x)))] (Jolicoeur-Martineau 2018)."""
    return jnp.mean(jax.nn.softplus(-(fake_logits - real_logits)))


def relativistic_average_discriminator_loss(real_logits: Array, fake_logits: Array,
                                            real_target: float = 1.0) -> Array:
    """RaGAN: −E_x[log σ(D(x) − E D(G(z)))] − E_z[log(1 − σ(D(G(z)) − E D(x)))].

    Jolicoeur-Martineau 2018; the expectations inside are batch means of the other side.
    """
    return (binary_cross_entropy_with_logits(real_logits - jnp.mean(fake_logits), real_target)
            + binary_cross_entropy_with_logits(fake_logits - jnp.mean(real_logits), 0.0))


def relativistic_average_generator_loss(fake_logits: Array, real_logits: Array) -> Array:
    """RaGAN: −E_z[log σ(D(G(z)) − E D(x))] − E_x[log(1 − σ(D(x) − E D(G(z))))]."""
    return (binary_cross_entropy_with_logits(fake_logits - jnp.mean(real_logits), 1.0)
            + binary_cross_entropy_with_logits(real_logits - jnp.mean(fake_logits), 0.0))


# --- the registry ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class GANLoss:
    """A pair of discriminator and generator losses, both to be minimised.

    Attributes:
      name: registry name.
      discriminator_fn: (real_logits, fake_logits[, real_target]) -> scalar.
      generator_fn: (fake_logits, real_logits) -> scalar.
      bce_based: whether the loss is a binary cross-entropy, so that σ(logit) is a probability
        and one-sided label smoothing (`real_target` < 1) applies.
      generator_needs_real: whether the generator loss reads `real_logits` (relativistic).
      real_target: the real label of the BCE losses (1.0: no smoothing).
      decision_threshold: D calls an input real when its output exceeds this (0.5 for least
        squares, whose targets are 0 and 1; 0 for the rest). Used for D's accuracy.
    """

    name: str
    discriminator_fn: Callable[..., Array]
    generator_fn: Callable[[Array, Array | None], Array]
    bce_based: bool = False
    generator_needs_real: bool = False
    real_target: float = 1.0
    decision_threshold: float = 0.0

    def discriminator(self, real_logits: Array, fake_logits: Array) -> Array:
        if self.bce_based:
            return self.discriminator_fn(real_logits, fake_logits, self.real_target)
        return self.discriminator_fn(real_logits, fake_logits)

    def generator(self, fake_logits: Array, real_logits: Array | None = None) -> Array:
        return self.generator_fn(fake_logits, real_logits)

    def with_real_target(self, real_target: float) -> "GANLoss":
        """One-sided label smoothing (Salimans et al. 2016): real target in (0, 1], fake stays 0."""
        if not 0.0 < real_target <= 1.0:
            raise ValueError(f"real_target must be in (0, 1], got {real_target}")
        if real_target != 1.0 and not self.bce_based:
            raise ValueError(
                f"label smoothing (real_target={real_target}) applies only to the BCE-based losses "
                f"({', '.join(n for n, l in LOSSES.items() if l.bce_based)}), not {self.name!r}")
        return dataclasses.replace(self, real_target=float(real_target))


LOSSES: Registry[GANLoss] = Registry("loss", {
    "minimax": GANLoss("minimax", minimax_discriminator_loss, minimax_generator_loss,
                       bce_based=True),
    "non_saturating": GANLoss("non_saturating", minimax_discriminator_loss,
                              non_saturating_generator_loss, bce_based=True),
    "wasserstein": GANLoss("wasserstein", wasserstein_discriminator_loss,
                           wasserstein_generator_loss),
    "hinge": GANLoss("hinge", hinge_discriminator_loss, hinge_generator_loss),
    "least_squares": GANLoss("least_squares", least_squares_discriminator_loss,
                             least_squares_generator_loss, decision_threshold=0.5),
    "relativistic": GANLoss("relativistic", relativistic_discriminator_loss,
                            relativistic_generator_loss, bce_based=True,
                            generator_needs_real=True),
    "relativistic_average": GANLoss("relativistic_average",
                                    relativistic_average_discriminator_loss,
                                    relativistic_average_generator_loss, bce_based=True,
                                    generator_needs_real=True),
})


def get_loss(name: str, real_target: float = 1.0) -> GANLoss:
    """`LOSSES[name]`, with one-sided label smoothing when `real_target` < 1."""
    return LOSSES[name].with_real_target(real_target)
