"""Model shapes, DCGAN initialisation statistics and input validation."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import models


@pytest.mark.parametrize("resolution,channels", [(16, 1), (32, 3), pytest.param(64, 1, marks=pytest.mark.slow)])
def test_dcgan_shapes_and_range(resolution, channels):
    g = models.DCGANGenerator(resolution=resolution, channels=channels, features=8)
    d = models.DCGANDiscriminator(resolution=resolution, features=8)
    z = jax.random.normal(jax.random.key(0), (3, 16))
    g_vars = jax.jit(g.init)(jax.random.key(1), z, None)
    x = jax.jit(lambda v, z: g.apply(v, z, None, train=False))(g_vars, z)
    chex.assert_shape(x, (3, resolution, resolution, channels))
    assert float(jnp.max(jnp.abs(x))) <= 1.0  # tanh output
    d_vars = jax.jit(d.init)(jax.random.key(2), x, None)
    logits = jax.jit(lambda v, x: d.apply(v, x, None, train=False))(d_vars, x)
    chex.assert_shape(logits, (3,))
    chex.assert_tree_all_finite(logits)


def test_dcgan32_layout_matches_reference():
    """z → 256@4×4 → 128@8×8 → 64@16×16 → C@32×32; D: 64, 128, 256, then one logit."""
    g = models.DCGANGenerator(resolution=32, channels=3, features=64)
    params = jax.eval_shape(g.init, jax.random.key(0), jnp.zeros((1, 100)), None)["params"]
    shapes = [p.shape for p in jax.tree.leaves(
        {k: v["kernel"] for k, v in params.items() if "kernel" in v})]
    assert (100, 4 * 4 * 256) in shapes
    assert (4, 4, 256, 128) in shapes and (4, 4, 128, 64) in shapes and (4, 4, 64, 3) in shapes
    d = models.DCGANDiscriminator(resolution=32, features=64)
    d_params = jax.eval_shape(d.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)), None)["params"]
    d_shapes = sorted(v["kernel"].shape for v in d_params.values() if "kernel" in v)
    assert d_shapes == sorted([(4, 4, 3, 64), (4, 4, 64, 128), (4, 4, 128, 256), (4, 4, 256, 1)])


def test_dcgan_init_statistics():
    """Weights ~ N(0, 0.02), BatchNorm scale ~ N(1, 0.02) (Radford et al. 2015)."""
    d = models.DCGANDiscriminator(resolution=32, features=64)
    variables = jax.jit(d.init)(jax.random.key(0), jnp.zeros((1, 32, 32, 3)), None)
    kernel = np.asarray(variables["params"]["Conv_2"]["kernel"])  # 4·4·128·256 weights
    assert abs(kernel.mean()) < 1e-3 and abs(kernel.std() - 0.02) < 1e-3
    scales = np.concatenate([np.asarray(v["scale"]) for k, v in variables["params"].items()
                             if k.startswith("BatchNorm")])
    assert abs(scales.mean() - 1.0) < 5e-3 and abs(scales.std() - 0.02) < 5e-3
    assert "BatchNorm_0" in variables["batch_stats"]


@pytest.mark.parametrize("norm", [pytest.param("layer", marks=pytest.mark.slow), "none"])
def test_discriminator_without_batch_norm_has_no_batch_stats(norm):
    d = models.DCGANDiscriminator(resolution=16, features=8, norm=norm)
    variables = d.init(jax.random.key(0), jnp.zeros((2, 16, 16, 1)), None)
    assert "batch_stats" not in variables
    # examples don't interact: D of a batch equals D of each example alone
    x = jax.random.normal(jax.random.key(1), (4, 16, 16, 1))
    together = d.apply(variables, x, None)
    alone = jnp.concatenate([d.apply(variables, x[i:i + 1], None) for i in range(4)])
    np.testing.assert_allclose(np.asarray(together), np.asarray(alone), rtol=1e-5, atol=1e-6)


def test_mlp_shapes_and_maxout():
    g = models.MLPGenerator(hidden=(32, 32))
    d = models.MLPDiscriminator(hidden=(16,), maxout_pieces=3)
    z = jnp.ones((5, 2))
    x = g.apply(g.init(jax.random.key(0), z, None), z, None, train=False)
    chex.assert_shape(x, (5, 2))
    d_vars = d.init(jax.random.key(1), x, None)
    chex.assert_shape(d.apply(d_vars, x, None), (5,))
    chex.assert_shape(d_vars["params"]["Maxout_0"]["Dense_0"]["kernel"], (2, 16 * 3))
    # maxout = max over pieces of the affine maps
    m = models.Maxout(4, pieces=3)
    mv = m.init(jax.random.key(2), x)
    k, b = mv["params"]["Dense_0"]["kernel"], mv["params"]["Dense_0"]["bias"]
    expected = (x @ k + b).reshape(5, 4, 3).max(-1)
    np.testing.assert_allclose(np.asarray(m.apply(mv, x)), np.asarray(expected), rtol=1e-6)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="power of two"):
        models.DCGANGenerator(resolution=24).init(jax.random.key(0), jnp.zeros((1, 8)), None)
    d = models.DCGANDiscriminator(resolution=32)
    with pytest.raises(ValueError, match=r"expects \[B, 32, 32, C\]"):
        d.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)), None)
    with pytest.raises(ValueError, match=r"\[B, D\] points"):
        models.MLPDiscriminator().init(jax.random.key(0), jnp.zeros((1, 4, 4, 1)), None)


def test_point_scale_keeps_g_and_d_in_unit_units_and_samples_in_the_data_units():
    """point_scale s (grid25: 4): G's network and D see x / s, yet G's samples (eval mode, as
    `jaxgan sample`/`eval` draw them) come out in the data's units: G_s = s·G_1, D_s(x) = D_1(x/s)
    for the same parameters. A config that trains grid25 at its raw ±4 scale would fail below."""
    from jaxgan.config import build_gan
    from jaxgan.data import get_spec
    from jaxgan.training.run_config import load_experiment
    from jaxgan.core.state import create_train_state, generate

    config = load_experiment("grid25")
    spec = get_spec("grid25")
    scale = float(np.max(np.abs(spec.mode_centers)))
    assert config.point_scale == scale == 4.0  # the shipped experiment trains at unit scale
    gan_s = build_gan(config, spec.shape)
    config.point_scale = 1.0
    gan_1 = build_gan(config, spec.shape)
    state = create_train_state(gan_s, jax.random.key(0))
    z = gan_s.sample_latent(jax.random.key(1), 64)
    np.testing.assert_allclose(generate(gan_s, state, z), scale * generate(gan_1, state, z),
                               rtol=1e-6, atol=1e-6)
    x = jnp.asarray(spec.mode_centers[:24], jnp.float32)
    d = lambda gan, x: gan.discriminator.apply(state.discriminator.variables(), x, None)
    np.testing.assert_allclose(d(gan_s, x), d(gan_1, x / scale), rtol=1e-5, atol=1e-6)
