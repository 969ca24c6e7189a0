"""Goodfellow et al. 2014, Prop. 1 and Thm. 1, checked with the library's own loss and step.

For fixed G the optimal discriminator is D*(x) = p_data(x) / (p_data(x) + p_g(x)), and at D* the
minimax value is V(D*, G) = −log 4 + 2·JSD(p_data ‖ p_g), equal to −log 4 exactly when p_g = p_data.
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.core.gan import GAN
from jaxgan.core.losses import LOSSES, minimax_discriminator_loss
from jaxgan.core.penalties import get_penalty
from jaxgan.core.state import create_train_state
from jaxgan.core.step import jit_train_step, step_key


def _kl(a, b):
    return float(np.sum(a * np.log(a / b)))


def _jsd(p, q):
    m = 0.5 * (p + q)
    return 0.5 * _kl(p, m) + 0.5 * _kl(q, m)


def _value(p, q, d_logits):
    """V(D, G) = E_p[log D] + E_q[log(1 − D)] from the library's BCE loss.

    The batches hold each support point in proportion to its probability (tenths), so the
    batch means the loss takes are the exact expectations.
    """
    real_idx = np.repeat(np.arange(len(p)), np.round(p * 10).astype(int))
    fake_idx = np.repeat(np.arange(len(q)), np.round(q * 10).astype(int))
    logits = jnp.asarray(d_logits, jnp.float64 if jax.config.x64_enabled else jnp.float32)
    return -float(minimax_discriminator_loss(logits[real_idx], logits[fake_idx]))


@pytest.mark.parametrize("p,q", [
    (np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.4, 0.3, 0.2, 0.1])),
    (np.array([0.7, 0.1, 0.1, 0.1]), np.array([0.1, 0.1, 0.1, 0.7])),
])
def test_value_at_optimal_discriminator_is_2jsd_minus_log4(p, q):
    d_star_logits = np.log(p) - np.log(q)  # logit of p / (p + q)
    v_star = _value(p, q, d_star_logits)
    np.testing.assert_allclose(v_star, 2 * _jsd(p, q) - np.log(4), atol=1e-6)
    # D* is the maximiser: any other discriminator does worse
    rng = np.random.default_rng(0)
    for _ in range(5):
        assert _value(p, q, d_star_logits + rng.normal(0, 0.3, len(p))) < v_star


def test_value_is_minus_log4_when_distributions_match():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    v = _value(p, p, np.zeros(4))  # D* = 1/2 everywhere
    np.testing.assert_allclose(v, -np.log(4), atol=1e-6)
    assert _jsd(p, p) == 0.0


class ShiftedNoiseGenerator(nn.Module):
    """A fixed generator: x = z + shift, so p_g = N(shift, 1). It has no parameters."""

    shift: float = 1.0

    def __call__(self, z, labels=None, train=True):
        return z[:, :1] + self.shift


class LinearDiscriminator(nn.Module):
    """D(x) = σ(w·x + b): rich enough to hold D* for two unit-variance Gaussians."""

    @nn.compact
    def __call__(self, x, labels=None, train=True):
        return nn.Dense(1)(x).reshape((x.shape[0],))


def test_trained_discriminator_approaches_optimum():
    """p_data = N(0, 1), p_g = N(1, 1): log p − log q = 0.5 − x, so D* has logit 0.5 − x.

    Training D with the library's minimax loss and update step (G fixed) recovers w ≈ −1, b ≈ 0.5.
    """
    gan = GAN(generator=ShiftedNoiseGenerator(1.0), discriminator=LinearDiscriminator(),
              g_optimizer=optax.sgd(0.0), d_optimizer=optax.adam(0.02),
              loss=LOSSES["minimax"], penalty=get_penalty("none"), latent_dim=1,
              data_shape=(1,))
    state = create_train_state(gan, jax.random.key(0))
    step = jit_train_step(gan)
    rng = np.random.default_rng(0)
    base = jax.random.key(1)
    for i in range(1500):
        real = rng.normal(size=(512, 1)).astype(np.float32)
        state, _ = step(state, {"x": jnp.asarray(real)}, step_key(base, i))
    dense = state.discriminator.params["Dense_0"]
    w, b = float(dense["kernel"][0, 0]), float(dense["bias"][0])
    assert abs(w - (-1.0)) < 0.1 and abs(b - 0.5) < 0.1, (w, b)
    xs = np.linspace(-2, 3, 11)
    d_star = 1.0 / (1.0 + np.exp(-(0.5 - xs)))
    d_learned = 1.0 / (1.0 + np.exp(-(w * xs + b)))
    assert np.max(np.abs(d_learned - d_star)) < 0.05
