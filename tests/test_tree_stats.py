"""jaxgan.core.tree_stats: the whole-tree finiteness flag and L2 norm the step reports (issue 21
session 8) against closed forms and the per-leaf computations they replace."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.core import tree_stats

TREE = {"a": jnp.array([3.0, 0.0]), "b": {"w": jnp.array([[4.0]]), "v": jnp.zeros((0,))},
        "c": jnp.array(12.0)}  # ‖·‖₂ = sqrt(9 + 16 + 144) = 13


def test_global_norm_closed_form_and_optax():
    assert float(tree_stats.global_norm(TREE)) == 13.0
    rng = np.random.default_rng(0)
    tree = {"w": jnp.asarray(rng.normal(size=(64, 64)), jnp.float32),
            "b": [jnp.asarray(rng.normal(size=(64,)), jnp.float32), jnp.float32(-2.5)]}
    np.testing.assert_allclose(tree_stats.global_norm(tree), optax.tree.norm(tree), rtol=1e-6)
    assert float(tree_stats.global_norm({})) == 0.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_all_finite_equals_the_per_leaf_check(bad):
    def per_leaf(tree):  # the former jaxgan.core.step._all_finite
        return bool(jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)])))

    assert bool(tree_stats.all_finite(TREE)) is per_leaf(TREE) is True
    for where in ("a", "w", "c"):
        tree = {**TREE, "b": dict(TREE["b"])}
        if where == "a":
            tree["a"] = tree["a"].at[1].set(bad)
        elif where == "w":
            tree["b"]["w"] = jnp.array([[bad]])
        else:
            tree["c"] = jnp.array(bad)
        assert bool(tree_stats.all_finite(tree)) is per_leaf(tree) is False, where
    assert bool(tree_stats.all_finite({})) is True
