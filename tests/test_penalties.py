"""Penalties against cases with known answers."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.core.penalties import (PENALTIES, clip_weights, dragan_penalty, get_penalty, r1_penalty,
                              weight_clipping, wgan_gp_penalty)
from jaxgan.core.registry import UnknownNameError

W = jnp.array([0.3, -1.2, 2.0, 0.5])


def linear_critic(x):
    """D(x) = w·x: ∇D = w everywhere, so ‖∇D‖ = ‖w‖."""
    return x.reshape(x.shape[0], -1) @ W


def quadratic_critic(x):
    """D(x) = ½‖x‖²: ∇D(x) = x."""
    return 0.5 * jnp.sum(x.reshape(x.shape[0], -1) ** 2, axis=-1)


@pytest.fixture
def batch():
    key_r, key_f = jax.random.split(jax.random.key(0))
    return jax.random.normal(key_r, (8, 4)), jax.random.normal(key_f, (8, 4)) + 3.0


def test_wgan_gp_linear_critic(batch):
    real, fake = batch
    got = wgan_gp_penalty(linear_critic, real, fake, jax.random.key(1), weight=10.0)
    expected = 10.0 * (np.linalg.norm(np.asarray(W)) - 1.0) ** 2
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)


def test_wgan_gp_quadratic_critic_uses_per_sample_interpolates(batch):
    """With ∇D(x) = x the penalty is λ·mean_i(‖ε_i r_i + (1 − ε_i) f_i‖ − 1)², ε_i ~ U[0, 1]."""
    real, fake = batch
    key = jax.random.key(2)
    eps = np.asarray(jax.random.uniform(key, (8, 1)))
    x_hat = eps * np.asarray(real) + (1 - eps) * np.asarray(fake)
    expected = 10.0 * np.mean((np.linalg.norm(x_hat, axis=1) - 1.0) ** 2)
    got = wgan_gp_penalty(quadratic_critic, real, fake, key, weight=10.0)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)
    assert len(np.unique(eps)) == 8  # one ε per sample


def test_r1_quadratic_and_linear(batch):
    real, fake = batch
    expected = 0.5 * 10.0 * np.mean(np.sum(np.asarray(real) ** 2, axis=1))
    np.testing.assert_allclose(float(r1_penalty(quadratic_critic, real, fake, None, 10.0)),
                               expected, rtol=1e-6)
    np.testing.assert_allclose(float(r1_penalty(linear_critic, real, fake, None, 2.0)),
                               float(jnp.sum(W ** 2)), rtol=1e-6)


def test_dragan_linear_critic(batch):
    real, fake = batch
    got = dragan_penalty(linear_critic, real, fake, jax.random.key(3), weight=10.0)
    np.testing.assert_allclose(float(got), 10.0 * (float(jnp.linalg.norm(W)) - 1.0) ** 2,
                               rtol=1e-6)


def test_dragan_perturbs_around_real_data_only(batch):
    """DRAGAN's penalty must not depend on the fakes at all."""
    real, fake = batch
    key = jax.random.key(4)
    a = dragan_penalty(quadratic_critic, real, fake, key)
    b = dragan_penalty(quadratic_critic, real, fake * 100.0, key)
    assert float(a) == float(b)


@pytest.mark.parametrize("name", ["wgan_gp", "r1", "dragan"])
def test_penalties_jit_and_vmap(name, batch):
    real, fake = batch
    penalty = get_penalty(name, 10.0)
    key = jax.random.key(5)
    eager = penalty(quadratic_critic, real, fake, key)
    jitted = jax.jit(lambda r, f, k: penalty(quadratic_critic, r, f, k))(real, fake, key)
    np.testing.assert_allclose(float(jitted), float(eager), rtol=1e-5)
    # vmapped over a leading axis of 3 independent problems
    reals, fakes = jnp.stack([real] * 3), jnp.stack([fake] * 3)
    keys = jnp.stack([key] * 3)
    vmapped = jax.vmap(lambda r, f, k: penalty(quadratic_critic, r, f, k))(reals, fakes, keys)
    chex.assert_shape(vmapped, (3,))
    np.testing.assert_allclose(np.asarray(vmapped), float(eager), rtol=1e-5)


def test_unknown_penalty_and_negative_weight():
    with pytest.raises(UnknownNameError, match="valid choices: dragan, none, r1, wgan_gp"):
        get_penalty("gp")
    with pytest.raises(ValueError, match=">= 0"):
        get_penalty("r1", -1.0)
    assert set(PENALTIES) == {"none", "wgan_gp", "r1", "dragan"}


def test_weight_clipping_transform_lands_params_in_box():
    params = {"a": jnp.array([0.005, -0.02, 0.3]), "b": jnp.array([[0.0, 0.009]])}
    tx = optax.chain(optax.sgd(1.0), weight_clipping(0.01))
    state = tx.init(params)
    grads = {"a": jnp.array([-0.004, 0.0, 0.1]), "b": jnp.array([[0.5, -0.0005]])}
    updates, _ = tx.update(grads, state, params)
    new = optax.apply_updates(params, updates)
    expected = clip_weights(jax.tree.map(lambda p, g: p - g, params, grads), 0.01)
    chex.assert_trees_all_close(new, expected, atol=1e-7)
    np.testing.assert_allclose(np.asarray(new["a"]), [0.009, -0.01, 0.01], atol=1e-7)
    with pytest.raises(ValueError, match="> 0"):
        weight_clipping(0.0)
