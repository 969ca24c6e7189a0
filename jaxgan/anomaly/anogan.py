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
ANOGAN_KEEP_CLASSES = 1  # a conditional G: go on with each query's best class only ...
ANOGAN_PRUNE_AFTER = 50  # ... after this many steps (benchmarks/README.md, "#18 session 9")


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


def _descend(loss_fn: Callable[[Array], Array], optimizer: optax.GradientTransformation,
             carry: tuple, steps: int) -> tuple:
    """`steps` Adam steps on every row of z at once; carry = (z, opt_state, best_z, best)."""
    def body(carry, _):
        z, opt_state, best_z, best = carry
        losses, vjp = jax.vjp(loss_fn, z)
        grad = vjp(jnp.ones_like(losses))[0]
        better = losses < best
        best_z = jnp.where(better[:, None], z, best_z)
        best = jnp.where(better, losses, best)
        updates, opt_state = optimizer.update(grad, opt_state, z)
        return (optax.apply_updates(z, updates), opt_state, best_z, best), None

    return jax.lax.scan(body, carry, None, length=steps)[0]


def _finish(loss_fn: Callable[[Array], Array], carry: tuple) -> tuple[Array, Array]:
    """(best z, its loss), checking the point after the last step too."""
    z, _, best_z, best = carry
    final = loss_fn(z)
    better = final < best
    return jnp.where(better[:, None], z, best_z), jnp.where(better, final, best)


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
    initial = loss_fn(z0)
    carry = _descend(loss_fn, optimizer, (z0, optimizer.init(z0), z0, initial), steps)
    best_z, best = _finish(loss_fn, carry)
    return SearchResult(z=best_z, score=best, reconstruction=generator(best_z),
                        initial_score=initial)


def anogan_search_classes(generator: Callable[[Array, Array], Array],
                          features: Callable[[Array], Array], x: Array, z0: Array,
                          classes: Array, steps: int = ANOGAN_STEPS, lr: float = ANOGAN_LR,
                          lam: float = ANOGAN_LAMBDA, keep: int = 0,
                          prune_after: int = 0) -> tuple[SearchResult, Array]:
    """AnoGAN with a class-conditional G: the search of `anogan_search` for every (class, query)
    pair at once (each pair starts from its query's z0 and runs on G(·, c)), then
        A(x) = min over c in `classes` of  min over the path of L_c(z),
    the loss of the class whose drawing came nearest x (as encoder.encode_score_classes does
    for f-AnoGAN; benchmarks/README.md, "#18 session 9"). Every pair follows the path it would
    follow alone (G and f in eval mode; Adam is elementwise), so this is K searches for the
    price of one K-times larger batch.

    keep > 0 (and < K) prunes, as successive halving does: after `prune_after` steps only each
    query's `keep` classes with the lowest loss so far go on, with their z and Adam moments, for
    the remaining steps. A kept pair's path is the same as without pruning, so the score differs
    only when the class that would have won was dropped. Rows searched per query: K·prune_after
    + keep·(steps − prune_after) instead of K·steps.

    Returns (the chosen class's SearchResult, whose initial_score is the lowest class's L at
    z0, and c* [B])."""
    if steps < 0:
        raise ValueError(f"the number of AnoGAN steps must be >= 0, got {steps}")
    classes = jnp.asarray(classes, jnp.int32)
    k, b = classes.shape[0], x.shape[0]
    if not 0 <= keep <= k or not 0 <= prune_after <= steps:
        raise ValueError(f"keep must be in [0, {k}] and prune_after in [0, {steps}], got "
                         f"keep={keep}, prune_after={prune_after}")
    fx = jax.lax.stop_gradient(features(x))
    optimizer = optax.adam(lr)

    def loss_for(rows):  # rows: indices into the class-major K·B (class, query) pairs
        labels, queries = classes[rows // b], rows % b
        return functools.partial(latent_loss, lambda z: generator(z, labels), features,
                                 x[queries], fx[queries], lam=lam)

    rows = jnp.arange(k * b)
    loss_fn = loss_for(rows)
    z = z0[rows % b]
    initial = loss_fn(z)
    carry = (z, optimizer.init(z), z, initial)
    if 0 < keep < k:
        carry = _descend(loss_fn, optimizer, carry, prune_after)
        # each query's `keep` lowest classes so far, as rows of the K·B table, kept-rank major
        order = jnp.argsort(carry[3].reshape(k, b), axis=0)[:keep]  # [keep, B] class positions
        rows = (order * b + jnp.arange(b)[None]).reshape(-1)
        carry = jax.tree.map(lambda a: a[rows] if jnp.ndim(a) and a.shape[0] == k * b else a,
                             carry)
        loss_fn = loss_for(rows)
        carry = _descend(loss_fn, optimizer, carry, steps - prune_after)
    else:
        carry = _descend(loss_fn, optimizer, carry, steps)
    best_z, best = _finish(loss_fn, carry)
    kept = rows.shape[0] // b
    pick_index = jnp.argmin(best.reshape(kept, b), axis=0)
    queries = jnp.arange(b)
    pick = lambda a: a.reshape(kept, b, *a.shape[1:])[pick_index, queries]
    chosen_rows = pick(rows)
    best_z = pick(best_z)
    return SearchResult(z=best_z, score=pick(best),
                        reconstruction=generator(best_z, classes[chosen_rows // b]),
                        initial_score=initial.reshape(k, b).min(axis=0)), \
        classes[chosen_rows // b]
