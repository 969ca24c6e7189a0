"""Latent tools: slerp against its closed form, paths, latent arithmetic."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.core import latent


def test_slerp_of_orthogonal_unit_vectors_follows_the_circle():
    e1, e2 = jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0])
    t = jnp.linspace(0.0, 1.0, 7)
    got = latent.slerp(e1, e2, t)
    want = np.stack([np.cos(np.pi / 2 * np.asarray(t)), np.sin(np.pi / 2 * np.asarray(t))], -1)
    chex.assert_trees_all_close(got, want, atol=1e-6)


def test_slerp_keeps_norm_and_splits_the_angle_proportionally():
    key0, key1 = jax.random.split(jax.random.key(0))
    z0 = jax.random.normal(key0, (64,))
    z1 = jax.random.normal(key1, (64,))
    z1 = z1 * jnp.linalg.norm(z0) / jnp.linalg.norm(z1)  # equal norms: slerp stays on the sphere
    omega = np.arccos(np.dot(z0, z1) / np.dot(z0, z0))
    for t in (0.0, 0.25, 0.5, 0.9, 1.0):
        z = latent.slerp(z0, z1, t)
        np.testing.assert_allclose(np.linalg.norm(z), np.linalg.norm(z0), rtol=1e-5)
        angle = np.arccos(np.clip(np.dot(z, z0) / np.dot(z0, z0), -1, 1))
        np.testing.assert_allclose(angle, t * omega, atol=1e-3)


def test_slerp_of_parallel_vectors_is_finite_and_linear():
    z0 = jnp.array([1.0, 2.0, 3.0])
    got = latent.slerp(z0, 2.0 * z0, 0.5)
    chex.assert_trees_all_close(got, 1.5 * z0, atol=1e-5)


def test_interpolation_path_shape_and_endpoints():
    key0, key1 = jax.random.split(jax.random.key(1))
    z0 = jax.random.normal(key0, (3, 16))
    z1 = jax.random.normal(key1, (3, 16))
    for method in ("slerp", "lerp"):
        path = latent.interpolation_path(z0, z1, 5, method)
        chex.assert_shape(path, (3, 5, 16))
        chex.assert_trees_all_close(path[:, 0], z0, atol=1e-5)
        chex.assert_trees_all_close(path[:, -1], z1, atol=1e-5)
    mid = latent.interpolation_path(z0, z1, 3, "lerp")[:, 1]
    chex.assert_trees_all_close(mid, (z0 + z1) / 2, atol=1e-6)
    chex.assert_shape(latent.random_interpolations(jax.random.key(2), 4, 6, 8), (4, 6, 8))


def test_interpolation_rejects_bad_arguments():
    z = jnp.zeros((4,))
    with pytest.raises(ValueError, match="num_steps"):
        latent.interpolation_path(z, z, 1)
    with pytest.raises(ValueError, match="valid choices"):
        latent.interpolation_path(z, z, 4, "cubic")


def test_latent_arithmetic_is_mean_a_minus_mean_b_plus_mean_c():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 8)), rng.normal(size=(5, 8)), rng.normal(size=(2, 8))
    got = latent.latent_arithmetic(jnp.asarray(a), jnp.asarray(b), jnp.asarray(c))
    want = a.mean(0) - b.mean(0) + c.mean(0)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="z_b"):
        latent.latent_arithmetic(jnp.asarray(a), jnp.zeros((0, 8)), jnp.asarray(c))
    with pytest.raises(ValueError, match="differ"):
        latent.latent_arithmetic(jnp.asarray(a), jnp.zeros((2, 7)), jnp.asarray(c))


def test_perturb_stays_within_the_box():
    z = jnp.arange(4.0)
    p = latent.perturb(jax.random.key(3), z, 100, scale=0.25)
    chex.assert_shape(p, (100, 4))
    assert float(jnp.max(jnp.abs(p - z))) <= 0.25
    assert float(jnp.std(p - z)) > 0.1  # noise actually added (uniform std = 0.25/sqrt(3))


# --- pictures along latent paths -----------------------------------------------------------------

def _tiny_gan(generator, data_shape, num_classes=0):
    import optax

    from jaxgan.core.gan import GAN
    from jaxgan.core.losses import get_loss
    from jaxgan.core.penalties import get_penalty
    from jaxgan.models import MLPDiscriminator

    return GAN(generator=generator, discriminator=MLPDiscriminator(hidden=(4,)),
               g_optimizer=optax.sgd(0.1), d_optimizer=optax.sgd(0.1),
               loss=get_loss("non_saturating"), penalty=get_penalty("none"), latent_dim=5,
               data_shape=data_shape, num_classes=num_classes)


@pytest.mark.slow  # excluded from the default run (pytest -m slow); test_cli_interpolate_toy_run and test_resnet_paths check interpolate
def test_interpolation_pictures_for_images_and_points():
    from jaxgan.core.state import GANState, NetState, generate
    from jaxgan.models import DCGANGenerator, MLPGenerator
    from jaxgan.tools import interpolate

    def state_of(gan):
        labels = jnp.zeros((2,), jnp.int32) if gan.num_classes else None
        v = gan.generator.init(jax.random.key(0), jnp.zeros((2, 5)), labels, train=False)
        net = NetState(params=v["params"], batch_stats=v.get("batch_stats", {}), opt_state=())
        return GANState(step=jnp.zeros((), jnp.int32), generator=net, discriminator=net)

    gan = _tiny_gan(DCGANGenerator(resolution=8, channels=1, features=4, conditioning="acgan",
                                   num_classes=3), (8, 8, 1), num_classes=3)
    state = state_of(gan)
    samples = interpolate.interpolation_samples(gan, state, jax.random.key(1), rows=4, steps=6)
    chex.assert_shape(samples, (4, 6, 8, 8, 1))
    # row r is class r mod 3 along the slerp path r
    z = latent.random_interpolations(jax.random.key(1), 4, 6, 5)
    want = generate(gan, state, z.reshape(24, 5), jnp.repeat(jnp.array([0, 1, 2, 0]), 6))
    chex.assert_trees_all_close(samples.reshape(24, 8, 8, 1), want, atol=1e-5)
    picture = interpolate.interpolation_picture(samples)
    # 4 rows, 6 columns of 8x8 tiles shown 8x larger with 1-pixel gaps
    assert picture.dtype == np.uint8 and picture.shape == (4 * 65 + 1, 6 * 65 + 1, 1)
    with pytest.raises(ValueError, match="label must be in"):
        interpolate.interpolation_samples(gan, state, jax.random.key(1), 2, 3, label=3)
    one_class = interpolate.interpolation_samples(gan, state, jax.random.key(1), 2, 3, label=2)
    z = latent.random_interpolations(jax.random.key(1), 2, 3, 5)
    chex.assert_trees_all_close(one_class[:, 0], generate(gan, state, z[:, 0], jnp.array([2, 2])),
                                atol=1e-5)

    toy = _tiny_gan(MLPGenerator(hidden=(8,), out_dim=2), (2,))
    paths = interpolate.interpolation_samples(toy, state_of(toy), jax.random.key(2), 3, 5)
    chex.assert_shape(paths, (3, 5, 2))
    picture = interpolate.interpolation_picture(paths, centers=np.eye(2))
    assert picture.dtype == np.uint8 and picture.shape == (500, 500, 3) and picture.std() > 0
    with pytest.raises(ValueError, match="conditional"):
        interpolate.interpolation_samples(toy, state_of(toy), jax.random.key(2), 3, 5, label=1)
    with pytest.raises(ValueError, match="cannot draw"):
        interpolate.interpolation_picture(np.zeros((2, 3, 5)))


def test_cli_interpolate_toy_run(tmp_path):
    from jaxgan import cli

    workdir = tmp_path / "ring8"
    assert cli.main(["train", "--config", "experiments/ring8.py", "--workdir", str(workdir),
                     "--config.steps=2", "--config.mlp_g_hidden=8", "--config.mlp_d_hidden=8",
                     "--config.batch_size=16", "--config.parallel=jit",
                     "--config.conditioning=concat", "--config.pack=1"]) == 0
    out = tmp_path / "paths.png"
    assert cli.main(["interpolate", "--workdir", str(workdir), "--out", str(out),
                     "--steps", "5"]) == 0
    from PIL import Image

    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (500, 500)  # the 5x5 in, 100 dpi plot
        image.load()
        pixels = np.asarray(image)
    assert pixels.std() > 0  # something was drawn
    with pytest.raises(SystemExit):  # argparse: only slerp | lerp
        cli.main(["interpolate", "--workdir", str(workdir), "--out", str(out),
                  "--method", "cubic"])
