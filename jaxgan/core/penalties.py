"""Regularisers of the discriminator: gradient penalties and weight clipping.

A penalty is a pure function `(critic_fn, real, fake, key) -> scalar` where `critic_fn` maps a batch
of inputs to the discriminator's logits [B]. It is added to the discriminator loss. All work under
jit and vmap. References: ../shared/reference/REFERENCE.md.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxgan.core.registry import Registry

Array = jax.Array
CriticFn = Callable[[Array], Array]


def per_example_input_gradients(critic_fn: CriticFn, x: Array) -> Array:
    """∇_x D(x) for every example: the gradient of Σ_i D(x_i), valid when examples don't interact
    (no BatchNorm in the critic, as Gulrajani et al. 2017 require)."""
    return jax.grad(lambda inputs: jnp.sum(critic_fn(inputs)))(x)


def _per_example_norm(g: Array, eps: float = 1e-12) -> Array:
    return jnp.sqrt(jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=-1) + eps)


def _per_example_uniform(key: Array, x: Array) -> Array:
    return jax.random.uniform(key, (x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype)


def wgan_gp_penalty(critic_fn: CriticFn, real: Array, fake: Array, key: Array,
                    weight: float = 10.0, target: float = 1.0) -> Array:
    """λ·E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)G(z), ε ~ U[0, 1] per sample.

    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs", arXiv:1704.00028 (λ = 10).
    """
    eps = _per_example_uniform(key, real)
    x_hat = eps * real + (1.0 - eps) * jax.lax.stop_gradient(fake)
    norms = _per_example_norm(per_example_input_gradients(critic_fn, x_hat))
    return weight * jnp.mean((norms - target) ** 2)


def r1_penalty(critic_fn: CriticFn, real: Array, fake: Array, key: Array,
               weight: float = 10.0) -> Array:
    """(γ/2)·E_x[‖∇_x D(x)‖²] on real data (Mescheder et al. 2018, arXiv:1801.04406)."""
    del fake, key
    g = per_example_input_gradients(critic_fn, real)
    return 0.5 * weight * jnp.mean(jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=-1))


def dragan_penalty(critic_fn: CriticFn, real: Array, fake: Array, key: Array,
                   weight: float = 10.0, perturbation_scale: float = 0.5) -> Array:
    """λ·E_x̂[(‖∇_x̂ D(x̂)‖₂ − 1)²] around perturbed real data (Kodali et al. 2017, arXiv:1705.07215).

    As in the authors' code: x_p = x + c·std(x)·u with u ~ U[0, 1] elementwise (c = 0.5), and
    x̂ = αx + (1 − α)x_p with α ~ U[0, 1] per sample.
    """
    del fake
    key_u, key_alpha = jax.random.split(key)
    perturbed = real + perturbation_scale * jnp.std(real) * jax.random.uniform(
        key_u, real.shape, dtype=real.dtype)
    alpha = _per_example_uniform(key_alpha, real)
    x_hat = alpha * real + (1.0 - alpha) * perturbed
    norms = _per_example_norm(per_example_input_gradients(critic_fn, x_hat))
    return weight * jnp.mean((norms - 1.0) ** 2)


def no_penalty(critic_fn: CriticFn, real: Array, fake: Array, key: Array,
               weight: float = 0.0) -> Array:
    """0: no regulariser."""
    del critic_fn, fake, key, weight
    return jnp.zeros((), real.dtype)


@dataclasses.dataclass(frozen=True)
class PenaltySpec:
    fn: Callable[..., Array]
    default_weight: float


PENALTIES: Registry[PenaltySpec] = Registry("penalty", {
    "none": PenaltySpec(no_penalty, 0.0),
    "wgan_gp": PenaltySpec(wgan_gp_penalty, 10.0),
    "r1": PenaltySpec(r1_penalty, 10.0),
    "dragan": PenaltySpec(dragan_penalty, 10.0),
})


def get_penalty(name: str, weight: float | None = None) -> Callable[[CriticFn, Array, Array, Array], Array]:
    """The penalty `name` with its weight bound (its usual weight when `weight` is None)."""
    spec = PENALTIES[name]
    if weight is not None and weight < 0:
        raise ValueError(f"penalty weight must be >= 0, got {weight}")
    return functools.partial(spec.fn, weight=spec.default_weight if weight is None else weight)


# --- weight clipping (Arjovsky et al. 2017) --------------------------------------------------------

def clip_weights(params, clip_value: float):
    """Every parameter clipped to [−c, c] (Arjovsky et al. 2017, c = 0.01)."""
    return jax.tree.map(lambda p: jnp.clip(p, -clip_value, clip_value), params)


class WeightClippingState(NamedTuple):
    """No state."""


def weight_clipping(clip_value: float) -> optax.GradientTransformation:
    """An optax transformation, chained last, whose updates land the params in [−c, c].

    update' = clip(params + update, −c, c) − params, so `optax.apply_updates` yields clipped params
    (Arjovsky et al. 2017, arXiv:1701.07875).
    """
    if clip_value <= 0:
        raise ValueError(f"weight clip value must be > 0, got {clip_value}")

    def init_fn(params):
        del params
        return WeightClippingState()

    def update_fn(updates, state, params=None):
        if params is None:
            raise ValueError("weight_clipping needs params: call tx.update(grads, state, params)")
        new_updates = jax.tree.map(
            lambda u, p: jnp.clip(p + u, -clip_value, clip_value) - p, updates, params)
        return new_updates, state

    return optax.GradientTransformation(init_fn, update_fn)
