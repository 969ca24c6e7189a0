"""The update step: determinism, jit equivalence, no retracing, n_critic, EMA, learning on ring-8."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config, build_gan
from jaxgan.core.state import create_train_state, generate
from jaxgan.core.step import jit_train_step, make_train_step, step_key

RING8 = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], 1)


def ring8_batch(rng, n):
    """n points of the ring of 8 Gaussians (radius 1, std 0.01), built here independently."""
    return (RING8[rng.integers(0, 8, n)] + 0.01 * rng.normal(size=(n, 2))).astype(np.float32)


def small_gan(**overrides):
    c = base_config()
    c.model = "mlp"
    c.latent_dim = 2
    c.mlp_g_hidden = (64, 64)
    c.mlp_d_hidden = (64, 64)
    c.update(overrides)
    return build_gan(c, (2,))


def test_step_is_deterministic_and_jit_matches_eager():
    gan = small_gan(ema_decay=0.9)
    batch = {"x": jnp.asarray(ring8_batch(np.random.default_rng(0), 32))}
    key = jax.random.key(7)
    step = make_train_step(gan)
    state0 = create_train_state(gan, jax.random.key(0))
    eager, eager_m = step(state0, batch, key)
    jitted = jax.jit(step)
    a, a_m = jitted(state0, batch, key)
    b, b_m = jitted(state0, batch, key)
    chex.assert_trees_all_equal(a, b)  # same inputs, bit-identical outputs
    chex.assert_trees_all_equal(a_m, b_m)
    chex.assert_trees_all_close(a, eager, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(a_m, eager_m, rtol=1e-5, atol=1e-6)
    assert int(a.step) == 1
    # the old state is untouched (immutability)
    chex.assert_trees_all_equal(state0, create_train_state(gan, jax.random.key(0)))


def test_step_does_not_retrace_and_donates():
    gan = small_gan()
    step = jit_train_step(gan)
    state = create_train_state(gan, jax.random.key(0))
    rng = np.random.default_rng(1)
    for i in range(4):
        old = state
        state, metrics = step(state, {"x": jnp.asarray(ring8_batch(rng, 32))},
                              step_key(jax.random.key(1), i))
    assert step._cache_size() == 1
    assert int(state.step) == 4
    leaf = jax.tree.leaves(old.generator.params)[0]
    assert leaf.is_deleted()  # donated buffers were reused
    expected = {"d_loss", "g_loss", "penalty", "d_accuracy_real", "d_accuracy_fake", "d_real",
                "d_fake", "d_grad_norm", "g_grad_norm", "finite"}
    assert set(metrics) == expected
    assert bool(metrics["finite"])


def test_n_critic_discriminator_updates_per_generator_update():
    gan = small_gan(n_critic=3, loss="wasserstein", penalty="wgan_gp", optimizer="adam")
    state = create_train_state(gan, jax.random.key(0))
    batch = {"x": jnp.asarray(ring8_batch(np.random.default_rng(2), 3 * 16))}
    new, metrics = jax.jit(make_train_step(gan))(state, batch, jax.random.key(3))
    d_count = new.discriminator.opt_state[0].count  # optax adam's ScaleByAdamState
    g_count = new.generator.opt_state[0].count
    assert int(d_count) == 3 and int(g_count) == 1
    assert float(metrics["penalty"]) > 0
    with pytest.raises(ValueError, match="n_critic=3 chunks"):
        make_train_step(gan)(state, {"x": batch["x"][:47]}, jax.random.key(3))


def test_ema_follows_its_formula():
    decay = 0.8
    batch = {"x": jnp.asarray(ring8_batch(np.random.default_rng(4), 32))}
    # without warm-up the decay is constant; with it (the default) step 0 uses min(0.8, 1/10)
    for warmup, used in ((False, decay), (True, 0.1)):
        gan = small_gan(ema_decay=decay, ema_warmup=warmup)
        state = create_train_state(gan, jax.random.key(0))
        chex.assert_trees_all_equal(state.ema_params, state.generator.params)
        new, _ = jax.jit(make_train_step(gan))(state, batch, jax.random.key(5))
        expected = jax.tree.map(lambda e, p: used * e + (1 - used) * p,
                                state.ema_params, new.generator.params)
        chex.assert_trees_all_close(new.ema_params, expected, rtol=1e-6, atol=1e-7)
    assert create_train_state(small_gan(), jax.random.key(0)).ema_params is None


def test_d_accuracy_threshold_follows_the_loss():
    assert build_gan(base_config(), (32, 32, 1)).loss.decision_threshold == 0.0
    c = base_config()
    c.loss = "least_squares"
    assert build_gan(c, (32, 32, 1)).loss.decision_threshold == 0.5


def _mean_distance_to_nearest_mode(points):
    d = np.linalg.norm(points[:, None, :] - RING8[None], axis=-1)
    return float(d.min(axis=1).mean())


def test_few_hundred_steps_move_samples_towards_ring8_modes():
    """600 steps of the non-saturating GAN pull G's samples towards the 8 modes."""
    gan = small_gan(g_lr=1e-3, d_lr=1e-3, b1=0.5, mlp_g_batch_norm=False)
    state = create_train_state(gan, jax.random.key(0))
    z = gan.sample_latent(jax.random.key(99), 1000)
    before = _mean_distance_to_nearest_mode(np.asarray(generate(gan, state, z)))
    step = jit_train_step(gan)
    rng = np.random.default_rng(0)
    base = jax.random.key(1)
    for i in range(600):
        state, metrics = step(state, {"x": jnp.asarray(ring8_batch(rng, 100))}, step_key(base, i))
    after = _mean_distance_to_nearest_mode(np.asarray(generate(gan, state, z)))
    assert bool(metrics["finite"])
    assert after < 0.5 * before, (before, after)
    assert after < 0.3, (before, after)


def digits_like_gan(**overrides):
    c = base_config()
    c.resolution, c.channels, c.g_features, c.d_features, c.latent_dim = 16, 1, 8, 8, 8
    c.update(overrides)
    return build_gan(c, (16, 16, 1))


def test_joint_d_batch_equals_separate_calls_without_batch_norm():
    # [real; fake] in one D call changes nothing for a D without BatchNorm: only the statistics
    batch = {"x": jax.random.uniform(jax.random.key(3), (8, 16, 16, 1), minval=-1, maxval=1)}
    states = []
    for mode in ("separate", "joint"):
        gan = digits_like_gan(d_norm="layer", d_batch_stats=mode)
        assert gan.d_joint_batch == (mode == "joint")
        state, metrics = jax.jit(make_train_step(gan))(
            create_train_state(gan, jax.random.key(0)), batch, jax.random.key(1))
        states.append((state, metrics))
    chex.assert_trees_all_close(states[0], states[1], rtol=2e-5, atol=1e-6)


def test_separate_batch_norm_statistics_hide_a_batch_wide_offset_from_d():
    # The cause of the digits default's pinned D: with one BatchNorm call per half, D normalises
    # the fakes by the fakes' own statistics, so a generator whose every sample is off by the same
    # amount after D's first layer looks no different to D. Here D's input BatchNorm layer is fed
    # the first conv's output directly: a constant shift of every example's features is invisible
    # to a per-half BatchNorm and visible to a joint one.
    import flax.linen as nn

    bn = nn.BatchNorm(use_running_average=False, momentum=0.9)
    real = jax.random.normal(jax.random.key(0), (16, 4, 4, 8))
    fake = real + 0.5  # the same examples, shifted by a batch-wide offset
    variables = bn.init(jax.random.key(1), real)
    apply = lambda x: bn.apply(variables, x, mutable=["batch_stats"])[0]
    np.testing.assert_allclose(apply(real), apply(fake), atol=1e-5)  # separate: identical
    joint = apply(jnp.concatenate([real, fake]))
    assert float(jnp.min(jnp.abs(joint[16:] - joint[:16]))) > 0.3  # joint: the offset shows
