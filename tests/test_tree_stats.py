"""jaxgan.core.tree_stats: the whole-tree finiteness flag the step reports (issue 21 session 8)
against the per-leaf computation it replaces, NaN and ±Inf in each kind of leaf."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.core import tree_stats

TREE = {"a": jnp.array([3.0, 0.0]), "b": {"w": jnp.array([[4.0]]), "v": jnp.zeros((0,))},
        "c": jnp.array(12.0)}


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
