"""Vmapped multi-seed training (jaxgan.training.seeds) against separate single-seed runs."""
from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config, build_gan
from jaxgan.core.state import create_train_state, generate
from jaxgan.core.step import jit_train_step, step_key
from jaxgan.data.toy_sampler import mixture_batch_sampler
from jaxgan.training import seeds

NUM_SEEDS = 3
BATCH = 8


def _toy_gan(shape=(2,), **overrides):
    c = base_config()
    c.model = "mlp"
    c.latent_dim = 2
    c.mlp_g_hidden = (16, 16)
    c.mlp_d_hidden = (16, 16)
    c.mlp_d_activation = "leaky_relu"
    c.g_lr = c.d_lr = 1e-2  # large steps, so that a wrong seed/batch pairing shows
    c.update(overrides)
    return build_gan(c, shape)


GANS = {
    # BatchNorm in G, one critic step, BCE loss.
    "non_saturating": dict(loss="non_saturating"),
    # scanned critic steps, a gradient penalty (needs its own key), G reads real logits.
    "relativistic_gp": dict(loss="relativistic", penalty="wgan_gp", n_critic=2),
    # convolutions and BatchNorm in both nets.
    "dcgan": dict(model="dcgan", latent_dim=4, g_features=4, d_features=4, resolution=8),
}
SHAPES = {"dcgan": (8, 8, 1)}


def _batches(num_steps: int, rows: int, shape=(2,)) -> np.ndarray:
    """Different real data for every (step, seed): [num_steps, S, rows, *shape]."""
    return np.random.default_rng(0).normal(
        size=(num_steps, NUM_SEEDS, rows) + tuple(shape)).astype(np.float32)


def _assert_trees_close(a, b, rtol=2e-4, atol=2e-5):
    chex.assert_trees_all_equal_structs(a, b)
    chex.assert_trees_all_close(a, b, rtol=rtol, atol=atol)


def test_create_seed_states_equals_separate_inits():
    gan = _toy_gan()
    keys = seeds.seed_keys(7, NUM_SEEDS)
    stacked = seeds.create_seed_states(gan, keys)
    assert seeds.num_seeds(stacked) == NUM_SEEDS
    for i in range(NUM_SEEDS):
        vmapped = seeds.unstack_state(stacked, i)
        separate = create_train_state(gan, jax.random.PRNGKey(7 + i))
        chex.assert_trees_all_equal_structs(vmapped, separate)
        # The same random draws, so the same values up to one unit in the last place: XLA:CPU may
        # contract the BatchNorm scale init 1 + 0.02·n into one fused multiply-add in the vmapped
        # compilation and not in the single one (seen with jax 0.12.0.1: 1 of 16 scales differs
        # by 1 ulp; the normals n themselves are bit-identical; benchmarks/README.md "JAX 0.12").
        for a, b in zip(jax.tree.leaves(vmapped), jax.tree.leaves(separate)):
            a, b = np.asarray(a), np.asarray(b)
            if np.issubdtype(a.dtype, np.floating):
                np.testing.assert_array_max_ulp(a, b, maxulp=1)
            else:
                np.testing.assert_array_equal(a, b)
    first, second = (jax.tree.leaves(seeds.unstack_state(stacked, i).generator.params)
                     for i in (0, 1))
    assert any(not np.allclose(a, b) for a, b in zip(first, second)), \
        "seeds must start from different parameters"


@pytest.mark.parametrize("name,seed_map", [
    ("non_saturating", "vmap"), pytest.param("relativistic_gp", "vmap", marks=pytest.mark.slow),
    ("relativistic_gp", "map"), ("dcgan", "unroll")])
def test_multi_seed_step_equals_separate_runs(name, seed_map):
    shape = SHAPES.get(name, (2,))
    gan = _toy_gan(shape, **GANS[name])
    num_steps = 3
    batches = _batches(num_steps, gan.n_critic * BATCH, shape)
    init_keys = seeds.seed_keys(0, NUM_SEEDS)
    base_keys = seeds.seed_keys(100, NUM_SEEDS)

    step = seeds.make_multi_seed_step(gan, seed_map=seed_map)
    stacked = seeds.create_seed_states(gan, init_keys)
    stacked_metrics = []
    for t in range(num_steps):
        stacked, metrics = step(stacked, {"x": jnp.asarray(batches[t])},
                                seeds.multi_seed_step_keys(base_keys, t))
        stacked_metrics.append(metrics)

    single_step = jit_train_step(gan)
    for i in range(NUM_SEEDS):
        state = create_train_state(gan, init_keys[i])
        for t in range(num_steps):
            state, metrics = single_step(state, {"x": jnp.asarray(batches[t, i])},
                                         step_key(base_keys[i], t))
            _assert_trees_close(seeds.unstack_state(stacked_metrics[t], i), metrics)
        _assert_trees_close(seeds.unstack_state(stacked, i), state)
    assert int(stacked.step[0]) == num_steps


def test_seeds_are_independent():
    """Changing seed 0's data leaves seed 1's result bit-identical."""
    gan = _toy_gan()
    batches = _batches(1, BATCH)[0]
    step = seeds.make_multi_seed_step(gan, donate=False)
    states = seeds.create_seed_states(gan, seeds.seed_keys(0, NUM_SEEDS))
    keys = seeds.multi_seed_step_keys(seeds.seed_keys(1, NUM_SEEDS), 0)
    out_a, _ = step(states, {"x": jnp.asarray(batches)}, keys)
    changed = batches.copy()
    changed[0] += 1.0
    out_b, _ = step(states, {"x": jnp.asarray(changed)}, keys)
    a0, b0 = (jax.tree.leaves(seeds.unstack_state(o, 0).generator.params) for o in (out_a, out_b))
    assert any(not np.allclose(x, y) for x, y in zip(a0, b0))
    _assert_trees_close(seeds.unstack_state(out_a, 1), seeds.unstack_state(out_b, 1),
                        rtol=0, atol=0)


@pytest.mark.slow  # excluded from the default run (pytest -m slow); test_device_data checks the fused loop bit for bit
def test_scanned_loop_equals_stepwise_and_does_not_depend_on_chunking():
    gan = _toy_gan(loss="hinge", n_critic=2)
    centers = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    draw = mixture_batch_sampler(centers, 0.1, gan.n_critic * BATCH)
    sample = lambda key: {"x": draw(key)["x"]}
    data_keys, step_keys = seeds.seed_keys(5, NUM_SEEDS), seeds.seed_keys(50, NUM_SEEDS)
    init = lambda: seeds.create_seed_states(gan, seeds.seed_keys(0, NUM_SEEDS))

    whole, metrics = seeds.make_multi_seed_loop(gan, sample, 4)(init(), data_keys, step_keys, 0)
    assert metrics["g_loss"].shape == (4, NUM_SEEDS)

    halves = seeds.make_multi_seed_loop(gan, sample, 2)
    chunked, _ = halves(init(), data_keys, step_keys, 0)
    chunked, _ = halves(chunked, data_keys, step_keys, 2)
    _assert_trees_close(whole, chunked)

    step = seeds.make_multi_seed_step(gan)
    stepwise = init()
    for t in range(4):
        batch = jax.vmap(lambda k: sample(jax.random.fold_in(k, t)))(data_keys)
        stepwise, _ = step(stepwise, batch, seeds.multi_seed_step_keys(step_keys, t))
    _assert_trees_close(whole, stepwise)


def test_generate_seeds_uses_each_seeds_generator():
    gan = _toy_gan()
    states = seeds.create_seed_states(gan, seeds.seed_keys(0, NUM_SEEDS))
    z = jax.random.normal(jax.random.PRNGKey(3), (NUM_SEEDS, 5, gan.latent_dim))
    samples = seeds.generate_seeds(gan, states, z)
    assert samples.shape == (NUM_SEEDS, 5, 2)
    for i in range(NUM_SEEDS):
        np.testing.assert_allclose(samples[i], generate(gan, seeds.unstack_state(states, i), z[i]),
                                   rtol=1e-5, atol=1e-6)


def test_mixture_sampler_matches_its_law():
    """Labels uniform over the K modes, (x − centre[label]) / σ ~ N(0, I)."""
    centers = np.array([[0.0, 0.0], [4.0, -2.0], [-3.0, 5.0], [1.0, 1.0]])
    std, n = 0.05, 40_000
    batch = jax.jit(mixture_batch_sampler(centers, std, n))(jax.random.PRNGKey(0))
    labels, x = np.asarray(batch["label"]), np.asarray(batch["x"], np.float64)
    assert x.shape == (n, 2) and batch["x"].dtype == jnp.float32
    counts = np.bincount(labels, minlength=4)
    # each count ~ Binomial(n, 1/4): sd = sqrt(n·3/16) ≈ 87; 5 sd bound
    assert np.all(np.abs(counts - n / 4) < 5 * np.sqrt(n * 3 / 16)), counts
    eps = (x - centers[labels]) / std
    # mean of n N(0,1): sd 1/sqrt(n) = 0.005; variance estimate sd sqrt(2/n) ≈ 0.007
    np.testing.assert_allclose(eps.mean(axis=0), 0.0, atol=0.03)
    np.testing.assert_allclose(eps.var(axis=0), 1.0, atol=0.04)
    other = jax.jit(mixture_batch_sampler(centers, std, n))(jax.random.PRNGKey(1))
    assert not np.allclose(other["x"], batch["x"])


@pytest.mark.parametrize("bad", [
    lambda: seeds.seed_keys(0, 0),
    lambda: seeds.unstack_state({"a": jnp.zeros((2, 3))}, 2),
    lambda: seeds.num_seeds({"a": jnp.zeros((2,)), "b": jnp.zeros((3,))}),
    lambda: seeds.stack_trees([]),
    lambda: seeds.create_seed_states(_toy_gan(), jax.random.PRNGKey(0)),
    lambda: seeds.make_multi_seed_loop(_toy_gan(), lambda k: {"x": jnp.zeros((8, 2))}, 0),
    lambda: mixture_batch_sampler(np.zeros((3,)), 0.1, 8),
    lambda: seeds.make_multi_seed_step(_toy_gan(), seed_map="pmap"),
    lambda: mixture_batch_sampler(np.zeros((3, 2)), 0.0, 8),
])
def test_bad_input_raises_value_error(bad):
    with pytest.raises(ValueError):
        bad()


def test_stack_then_unstack_round_trips():
    trees = [{"w": jnp.full((2, 2), float(i)), "b": jnp.asarray(i)} for i in range(NUM_SEEDS)]
    stacked = seeds.stack_trees(trees)
    chex.assert_shape(stacked["w"], (NUM_SEEDS, 2, 2))
    for i, tree in enumerate(trees):
        _assert_trees_close(seeds.unstack_state(stacked, i), tree, rtol=0, atol=0)


@pytest.mark.slow  # ~20 CPU-s (two compiled loops); tests/test_compare_losses checks the wiring fast
def test_plan_loop_trains_each_seed_on_its_own_iterators_batches():
    """make_multi_seed_plan_loop: seed i draws the n_critic batches its iterator's plans name
    (as the single run's fused loop does) and equals stepping it on `step_batch(iterator_i, n)`."""
    from jaxgan import data
    from jaxgan.training.run import step_batch

    gan = _toy_gan(loss="hinge", n_critic=2)
    iterators = [data.make_iterator("ring8", batch_size=BATCH, seed=s) for s in (4, 9)]
    host = [data.make_iterator("ring8", batch_size=BATCH, seed=s) for s in (4, 9)]
    step_keys = seeds.seed_keys(50, 2)
    init = seeds.create_seed_states(gan, seeds.seed_keys(0, 2))
    device = iterators[0].device_batches()
    plans = np.stack([it.take_plans(3 * 2).reshape(3, 2, -1) for it in iterators], axis=1)
    looped, metrics = seeds.make_multi_seed_plan_loop(gan, device.draw, donate=False)(
        init, plans, step_keys, 0, device.arrays)
    assert metrics["g_loss"].shape == (3, 2)
    step = seeds.make_multi_seed_step(gan, donate=False)
    stepwise = init
    def batches(its):
        parts = [step_batch(it, 2) for it in its]
        return {k: np.stack([b[k] for b in parts]) for k in ("x", "label")}

    for t in range(3):
        stepwise, _ = step(stepwise, batches(host), seeds.multi_seed_step_keys(step_keys, t))
    _assert_trees_close(looped, stepwise)
    moved, _ = step(stepwise, batches(host[::-1]), seeds.multi_seed_step_keys(step_keys, 3))
    again, _ = seeds.make_multi_seed_plan_loop(gan, device.draw, donate=False)(
        looped, np.stack([it.take_plans(2).reshape(1, 2, -1) for it in iterators], axis=1),
        step_keys, 3, device.arrays)
    with pytest.raises(AssertionError):  # the pairing seed <-> its own stream matters
        _assert_trees_close(again, moved)
