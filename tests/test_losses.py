"""Every loss against its closed form, computed independently in float64 numpy."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.core import losses
from jaxgan.core.losses import LOSSES, get_loss
from jaxgan.core.registry import UnknownNameError


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)  # log σ(x), stable


def _log_one_minus_sigmoid(x):
    return -np.logaddexp(0.0, x)  # log(1 − σ(x))


def _reference(name, r, f, t=1.0):
    """(D loss, G loss) from the papers' formulas, float64."""
    ls, l1s = _log_sigmoid, _log_one_minus_sigmoid
    bce_real = -(t * ls(r) + (1 - t) * l1s(r)).mean()
    if name == "minimax":
        return bce_real - l1s(f).mean(), l1s(f).mean()
    if name == "non_saturating":
        return bce_real - l1s(f).mean(), -ls(f).mean()
    if name == "wasserstein":
        return f.mean() - r.mean(), -f.mean()
    if name == "hinge":
        return np.maximum(0, 1 - r).mean() + np.maximum(0, 1 + f).mean(), -f.mean()
    if name == "least_squares":
        return 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(), 0.5 * ((f - 1) ** 2).mean()
    if name == "relativistic":
        d = r - f
        return -(t * ls(d) + (1 - t) * l1s(d)).mean(), -ls(f - r).mean()
    if name == "relativistic_average":
        dr, df = r - f.mean(), f - r.mean()
        d_loss = -(t * ls(dr) + (1 - t) * l1s(dr)).mean() - l1s(df).mean()
        return d_loss, -ls(df).mean() - l1s(dr).mean()
    raise AssertionError(name)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("seed", [0, 1])
def test_loss_matches_closed_form(name, seed):
    rng = np.random.default_rng(seed)
    r = rng.normal(0.5, 2.0, 64)
    f = rng.normal(-0.5, 2.0, 64)
    loss = LOSSES[name]
    d_ref, g_ref = _reference(name, r, f)
    d = loss.discriminator(jnp.asarray(r, jnp.float32), jnp.asarray(f, jnp.float32))
    g = loss.generator(jnp.asarray(f, jnp.float32), jnp.asarray(r, jnp.float32))
    chex.assert_shape(d, ())
    chex.assert_shape(g, ())
    np.testing.assert_allclose(float(d), d_ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(float(g), g_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", [n for n in sorted(LOSSES) if LOSSES[n].bce_based])
def test_label_smoothing_changes_only_the_real_target(name):
    rng = np.random.default_rng(3)
    r, f = rng.normal(size=32), rng.normal(size=32)
    smoothed = get_loss(name, real_target=0.9)
    d_ref, g_ref = _reference(name, r, f, t=0.9)
    np.testing.assert_allclose(float(smoothed.discriminator(jnp.asarray(r), jnp.asarray(f))),
                               d_ref, rtol=1e-6)
    # the generator loss does not depend on the real target
    np.testing.assert_allclose(float(smoothed.generator(jnp.asarray(f), jnp.asarray(r))),
                               g_ref, rtol=1e-6)
    assert abs(d_ref - _reference(name, r, f)[0]) > 1e-3  # smoothing really changes it


def test_label_smoothing_refused_for_non_bce_losses():
    with pytest.raises(ValueError, match="only to the BCE-based losses"):
        get_loss("hinge", real_target=0.9)
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        get_loss("minimax", real_target=1.5)


def test_unknown_loss_lists_valid_names():
    with pytest.raises(UnknownNameError) as info:
        get_loss("wgan")
    message = str(info.value)
    assert "unknown loss 'wgan'" in message
    for name in LOSSES:
        assert name in message


def test_saturating_generator_gradient_vanishes_when_d_rejects_fakes():
    """Goodfellow et al. 2014 §3: log(1 − D(G(z))) saturates early in training.

    With D confidently rejecting fakes (logits −10, D ≈ 4.5e-5), the minimax generator's gradient
    w.r.t. the logits is −σ(o)/B ≈ 0 while the non-saturating one's is (σ(o) − 1)/B ≈ −1/B.
    """
    fake_logits = jnp.full((16,), -10.0)
    g_sat = jax.grad(losses.minimax_generator_loss)(fake_logits)
    g_ns = jax.grad(losses.non_saturating_generator_loss)(fake_logits)
    assert float(jnp.max(jnp.abs(g_sat))) < 1e-5
    np.testing.assert_allclose(np.asarray(g_ns), -1.0 / 16, rtol=1e-3)
    # and both push the fake logits up (towards "real")
    assert float(jnp.sum(g_sat)) < 0 and float(jnp.sum(g_ns)) < 0
