"""The default digits run's low recall (issue 14): the generator's samples vary less than the
digits, and a per-image discriminator cannot see it. Each remedy is checked against an independent
computation (benchmarks/README.md, "Recall of the default digits run (issue 14)")."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config, build_gan
from jaxgan.core.mode_seeking import mode_seeking_loss
from jaxgan.core.state import create_train_state
from jaxgan.core.step import make_train_step
from jaxgan.models.blocks import minibatch_stddev
from jaxgan.models.dcgan import DCGANDiscriminator


def test_mode_seeking_loss_follows_msgan():
    rng = np.random.default_rng(0)
    f1, f2 = rng.normal(size=(2, 6, 4, 4, 1))
    z1, z2 = rng.normal(size=(2, 6, 8))
    expected = 1.0 / (np.abs(f1 - f2).mean() / np.abs(z1 - z2).mean() + 1e-5)
    np.testing.assert_allclose(mode_seeking_loss(f1, f2, z1, z2), expected, rtol=1e-5)
    # a G that ignores z (the same sample for both latents) pays 1/ε
    np.testing.assert_allclose(mode_seeking_loss(f1, f1, z1, z2), 1e5, rtol=1e-6)


def test_the_step_adds_mode_seeking_on_two_latents_per_row():
    c = base_config()
    c.update(dict(model="mlp", latent_dim=2, mlp_g_hidden=(16,), mlp_d_hidden=(16,),
                  mlp_g_batch_norm=False, mode_seeking_weight=0.5))
    gan = build_gan(c, (2,))
    state = create_train_state(gan, jax.random.key(0))
    batch = {"x": jax.random.normal(jax.random.key(1), (8, 2))}
    key = jax.random.key(2)
    _, metrics = make_train_step(gan)(state, batch, key)
    # the latents the step draws: key -> (D key, G key) -> (z key, augment key); z₂ folds 1 off
    key_z = jax.random.split(jax.random.split(key)[1])[0]
    z1, z2 = gan.sample_latent(key_z, 8), gan.sample_latent(jax.random.fold_in(key_z, 1), 8)
    g = lambda z: gan.generator.apply({"params": state.generator.params}, z, None, train=True)
    expected = 0.5 / (np.abs(g(z1) - g(z2)).mean() / np.abs(z1 - z2).mean() + 1e-5)
    np.testing.assert_allclose(metrics["mode_seeking_loss"], expected, rtol=1e-5)
    # off (the default) the step draws exactly what it drew before the option existed
    c.mode_seeking_weight = 0.0
    _, plain = make_train_step(build_gan(c, (2,)))(create_train_state(
        build_gan(c, (2,)), jax.random.key(0)), batch, key)
    assert "mode_seeking_loss" not in plain


def test_minibatch_stddev_matches_a_loop():
    x = np.random.default_rng(1).normal(size=(8, 2, 3, 5)).astype(np.float32)
    out = np.asarray(minibatch_stddev(jnp.asarray(x), 4))
    np.testing.assert_array_equal(out[..., :5], x)
    for i in range(8):
        group = x[[j for j in range(8) if j % 2 == i % 2]]          # rows i mod N/G together
        std = np.sqrt(((group - group.mean(0)) ** 2).mean(0) + 1e-8).mean()
        np.testing.assert_allclose(out[i, ..., 5], std, rtol=1e-5)
    with pytest.raises(ValueError, match="multiple of 4"):
        minibatch_stddev(jnp.asarray(x[:6]), 4)


def test_a_minibatch_std_discriminator_sees_a_batch_of_copies():
    # A per-image D gives an image the same logit whether its batch-mates are copies of it or other
    # digits, so it cannot punish a G whose samples vary too little; with the minibatch stddev it
    # can (what the recall of the default run lacked).
    images = jax.random.uniform(jax.random.key(0), (8, 16, 16, 1), minval=-1, maxval=1)
    copies = jnp.broadcast_to(images[:1], images.shape)
    for group, differs in ((0, False), (4, True)):
        d = DCGANDiscriminator(resolution=16, features=8, norm="none", minibatch_std_group=group)
        params = d.init(jax.random.key(1), images, train=False)
        varied, same = d.apply(params, images, train=False), d.apply(params, copies, train=False)
        assert (abs(float(varied[0] - same[0])) > 1e-6) == differs
