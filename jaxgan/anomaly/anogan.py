"""AnoGAN's latent search (Schlegl et al. 2017), vectorised over a batch of queries in one jit.

For queries x [B, ...], starting points z₀ [B, latent], Γ steps of Adam on z minimise the sum over
the batch of L_i(z_i) = (1 − λ)·‖x_i − G(z_i)‖₁ + λ·‖f(x_i) − f(G(z_i))‖₁ (jaxgan.anomaly.scores).
G and f run in eval mode, so G(z_i) depends on z_i only: ∂(Σ_j L_j)/∂z_i = ∂L_i/∂z_i, and Adam is
elementwise, so every query follows exactly the path it would follow alone. The score is the
lowest L_i met on the path (the loss of the returned z*). λ = 0.1 is the paper's value; Γ = 500 is
the value of common re-implementations (the paper's own Γ is unconfirmed here;
../shared/reference/REFERENCE.md). With a class-conditional G(z, y), `anogan_search_classes`
runs the same search for every (normal class, query) pair and scores the lowest class.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
from flax import struct

from jaxgan.anomaly.scores import ANOGAN_LAMBDA, anogan_loss

Array = jax.Array

ANOGAN_STEPS = 500  # Γ
ANOGAN_LR = 0.05  # Adam step size on z (benchmarks/README.md, issue 18 section)


@struct.dataclass
class SearchResult:
    """z* [B, latent], its loss L(z*) [B] (the anomaly score), G(z*) and the loss at z₀ [B]."""

    z: Array
    score: Array
    reconstruction: Array
    initial_score: Array


def latent_loss(generator: Callable[[Array], Array], features: Callable[[Array], Array],
                x: Array, fx: Array, z: Array, lam: float = ANOGAN_LAMBDA) -> Array:
    """[B]: AnoGAN's L(z) of every query (fx = f(x), computed once)."""
    gz = generator(z)
    return anogan_loss(x, gz, fx, features(gz), lam)


def anogan_search(generator: Callable[[Array], Array], features: Callable[[Array], Array],
                  x: Array, z0: Array, steps: int = ANOGAN_STEPS, lr: float = ANOGAN_LR,
                  lam: float = ANOGAN_LAMBDA) -> SearchResult:
    """Γ = `steps` Adam(lr) steps on z from z0 for every query at once (a lax.scan; jit it with
    `steps` static). Keeps, per query, the z with the lowest loss seen (z0 included)."""
    if steps < 0:
        raise ValueError(f"the number of AnoGAN steps must be >= 0, got {steps}")
    fx = jax.lax.stop_gradient(features(x))
    loss_fn = functools.partial(latent_loss, generator, features, x, fx, lam=lam)
    optimizer = optax.adam(lr)

    def value_and_grad(z):
        losses, vjp = jax.vjp(loss_fn, z)
        return losses, vjp(jnp.ones_like(losses))[0]

    def body(carry, _):
        z, opt_state, best_z, best = carry
        losses, grad = value_and_grad(z)
        better = losses < best
        best_z = jnp.where(better[:, None], z, best_z)
        best = jnp.where(better, losses, best)
        updates, opt_state = optimizer.update(grad, opt_state, z)
        return (optax.apply_updates(z, updates), opt_state, best_z, best), None

    initial = loss_fn(z0)
    carry = (z0, optimizer.init(z0), z0, initial)
    (z, _, best_z, best), _ = jax.lax.scan(body, carry, None, length=steps)
    final = loss_fn(z)  # the point after the last step has not been checked yet
    better = final < best
    best_z = jnp.where(better[:, None], z, best_z)
    best = jnp.where(better, final, best)
    return SearchResult(z=best_z, score=best, reconstruction=generator(best_z),
                        initial_score=initial)


def anogan_search_classes(generator: Callable[[Array, Array], Array],
                          features: Callable[[Array], Array], x: Array, z0: Array,
                          classes: Array, steps: int = ANOGAN_STEPS, lr: float = ANOGAN_LR,
                          lam: float = ANOGAN_LAMBDA) -> tuple[SearchResult, Array]:
    """AnoGAN with a class-conditional G: `anogan_search` on the K·B (class, query) pairs at
    once (each pair's search starts from its query's z0 and runs on G(·, c)), then
        A(x) = min over c in `classes` of  min over the path of L_c(z),
    the loss of the class whose drawing came nearest x (as encoder.encode_score_classes does
    for f-AnoGAN; benchmarks/README.md, "#18 session 9"). Every pair follows the path it would
    follow alone (G and f in eval mode; Adam is elementwise), so this is K searches for the
    price of one K-times larger batch. Returns (the chosen class's SearchResult, whose
    initial_score is the lowest class's L at z0, and c* [B])."""
    classes = jnp.asarray(classes, jnp.int32)
    k, b = classes.shape[0], x.shape[0]
    tile = lambda a: jnp.broadcast_to(a[None], (k, *a.shape)).reshape(k * b, *a.shape[1:])
    labels = jnp.repeat(classes, b)  # rows class-major
    result = anogan_search(lambda z: generator(z, labels), features, tile(x), tile(z0),
                           steps=steps, lr=lr, lam=lam)
    best = jnp.argmin(result.score.reshape(k, b), axis=0)
    rows = jnp.arange(b)
    pick = lambda a: a.reshape(k, b, *a.shape[1:])[best, rows]
    return SearchResult(z=pick(result.z), score=pick(result.score),
                        reconstruction=pick(result.reconstruction),
                        initial_score=result.initial_score.reshape(k, b).min(axis=0)), \
        classes[best]
