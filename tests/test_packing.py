"""PacGAN packing (jaxgan.models.packing) and its `pack` config field."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import models
from jaxgan.config import base_config, build_gan
from jaxgan.models.packing import PackedDiscriminator, pack_examples


def test_pack_points_concatenates_consecutive_examples():
    x = jnp.arange(12.0).reshape(6, 2)
    np.testing.assert_array_equal(pack_examples(x, 3),
                                  [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    np.testing.assert_array_equal(pack_examples(x, 1), x)


def test_pack_images_concatenates_channels():
    x = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype(np.float32)
    packed = np.asarray(pack_examples(jnp.asarray(x), 2))
    assert packed.shape == (2, 3, 3, 4)
    for p in range(2):
        for j in range(2):
            np.testing.assert_array_equal(packed[p, :, :, 2 * j:2 * j + 2], x[2 * p + j])


def test_packed_discriminator_is_inner_discriminator_on_packs():
    inner = models.MLPDiscriminator(hidden=(8,), activation="leaky_relu")
    packed = PackedDiscriminator(inner, pack=4)
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
    variables = packed.init(jax.random.PRNGKey(1), x)
    logits = packed.apply(variables, x)
    assert logits.shape == (2,)
    expected = inner.apply({"params": variables["params"]["discriminator"]},
                           pack_examples(x, 4))
    np.testing.assert_allclose(logits, expected, rtol=1e-6)
    # the first dense layer sees 4 · 2 inputs
    assert variables["params"]["discriminator"]["Dense_0"]["kernel"].shape == (8, 8)


def test_build_gan_with_pack_changes_only_the_discriminator():
    c = base_config()
    c.model, c.latent_dim, c.mlp_d_activation = "mlp", 2, "leaky_relu"
    c.mlp_g_hidden, c.mlp_d_hidden = (8,), (8,)
    c.pack = 3
    gan = build_gan(c, (2,))
    x = jnp.ones((6, 2))
    variables = gan.discriminator.init(jax.random.PRNGKey(0), x)
    assert gan.discriminator.apply(variables, x).shape == (2,)
    c.pack = 1
    assert not isinstance(build_gan(c, (2,)).discriminator, PackedDiscriminator)


@pytest.mark.parametrize("bad", [
    lambda: pack_examples(jnp.zeros((5, 2)), 2),
    lambda: pack_examples(jnp.zeros((4, 2)), 0),
])
def test_bad_packs_raise(bad):
    with pytest.raises(ValueError):
        bad()


@pytest.mark.parametrize("pack,num_classes,conditioning",
                         [(0, 0, "none"), (2, 10, "concat")])
def test_bad_pack_config_raises(pack, num_classes, conditioning):
    c = base_config()
    c.model = "mlp"
    c.pack = pack
    c.conditioning = conditioning
    with pytest.raises(ValueError, match="pack"):
        build_gan(c, (2,), num_classes=num_classes)


def test_pack_is_fine_for_an_unconditional_gan_on_labelled_data():
    c = base_config()
    c.model = "mlp"
    c.pack = 2
    gan = build_gan(c, (2,), num_classes=10)
    assert isinstance(gan.discriminator, PackedDiscriminator)


@pytest.mark.parametrize("pack", [pytest.param(3, marks=pytest.mark.slow), 4])
def test_packs_above_two_initialise_and_step(pack):
    """PacGAN3/4 (the reference's best grid25 rows): the state's dummy init batch holds whole
    packs (it had 2 rows, so pack 3 and 4 could not even be initialised)."""
    from jaxgan.core.state import create_train_state
    from jaxgan.core.step import train_step

    config = base_config()
    config.update(dict(model="mlp", dataset="ring8", latent_dim=2, mlp_g_hidden=(8,),
                       mlp_d_hidden=(8,), pack=pack))
    gan = build_gan(config, (2,))
    state = create_train_state(gan, jax.random.key(0))
    batch = {"x": jnp.ones((12, 2), jnp.float32)}
    _, metrics = train_step(gan, state, batch, jax.random.key(1))
    assert bool(metrics["finite"])
