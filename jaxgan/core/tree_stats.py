"""Whole-tree statistics of a step (finiteness), one XLA operation each.

A pytree of L leaves handled leaf by leaf compiles to about L reductions plus the ops that
combine them; on XLA's CPU runtime each is a separate thunk with its own dispatch cost, which
weighs on small networks (about a third of the toy MLPs' step; issue 21 session 8,
benchmarks/README.md "#21 session 8 — toy step op count": their 18 parameter leaves gave ~30
finiteness and ~40 norm thunks per step). Here the leaves are raveled and concatenated first,
which XLA fuses into the one reduction that reads them, so the statistic is a single fused loop:

  all_finite(t) = ∧_leaves ∧_i isfinite(leaf_i)   (exactly the per-leaf result; the step's state
                                                   stays bit-identical, single and 10-seed vmapped)

The gradient norms stay `optax.tree.norm` (per leaf): the same concatenation for them saved 6–9%
of the toy step but changed the rounding of the 10-seed vmapped step's state (XLA compiled its
update differently), so it was not adopted (benchmarks/README.md, "#21 session 8").
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array


def _flat(tree: Any) -> Array | None:
    """Every leaf raveled and concatenated in `jax.tree.leaves` order (None for no leaves)."""
    leaves = jax.tree.leaves(tree)
    if not leaves:
        return None
    return jnp.concatenate([jnp.ravel(jnp.asarray(leaf)) for leaf in leaves])


def all_finite(tree: Any) -> Array:
    """True (a bool scalar) when no element of any leaf is NaN or ±Inf; True for no leaves."""
    flat = _flat(tree)
    return jnp.array(True) if flat is None else jnp.all(jnp.isfinite(flat))

