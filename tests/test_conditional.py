"""Class-conditional models (cGAN, ACGAN, projection) and the ACGAN class terms of the step."""
import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan import config as config_lib, models
from jaxgan.core import conditioning
from jaxgan.core.gan import GAN
from jaxgan.core.losses import LOSSES, get_loss
from jaxgan.core.penalties import get_penalty
from jaxgan.core.registry import UnknownNameError
from jaxgan.core.state import create_train_state
from jaxgan.core.step import discriminator_update, train_step

K = 4  # classes
B = 8  # batch
LABELS = jnp.array([0, 1, 2, 3, 3, 2, 1, 0])
COND = dict(num_classes=K)


def _dcgan_pair(cond: str, **kw):
    return (models.DCGANGenerator(resolution=8, channels=1, features=4, conditioning=cond,
                                  **COND, **kw),
            models.DCGANDiscriminator(resolution=8, features=4, conditioning=cond, **COND, **kw))


def _mlp_pair(cond: str, **kw):
    return (models.MLPGenerator(hidden=(8, 8), out_dim=2, conditioning=cond, **COND, **kw),
            models.MLPDiscriminator(hidden=(8,), activation="leaky_relu", conditioning=cond,
                                    **COND, **kw))


PAIRS = {"dcgan": (_dcgan_pair, (8, 8, 1)), "mlp": (_mlp_pair, (2,))}


def _init(module, inputs, labels):
    return module.init(jax.random.key(0), inputs, labels, train=False)


def _apply(module, variables, inputs, labels):
    return module.apply(variables, inputs, labels, train=False)


# --- shapes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", sorted(PAIRS))
@pytest.mark.parametrize("cond", ["none", "concat", "acgan", "projection"])
def test_output_shapes(model, cond):
    make, shape = PAIRS[model]
    g, d = make(cond)
    z = jax.random.normal(jax.random.key(1), (B, 6))
    x = _apply(g, _init(g, z, LABELS), z, LABELS)
    chex.assert_shape(x, (B,) + shape)
    out = _apply(d, _init(d, x, LABELS), x, LABELS)
    if cond == "acgan":
        logits, class_logits = out
        chex.assert_shape(class_logits, (B, K))
    else:
        logits = out
    chex.assert_shape(logits, (B,))


def test_conditional_parameter_shapes():
    g, d = _dcgan_pair("concat")
    z, x = jnp.zeros((B, 6)), jnp.zeros((B, 8, 8, 1))
    # one-hot joined to z and as K extra input channels of D
    assert _init(g, z, LABELS)["params"]["Dense_0"]["kernel"].shape[0] == 6 + K
    assert _init(d, x, LABELS)["params"]["Conv_0"]["kernel"].shape[2] == 1 + K
    g, d = _dcgan_pair("concat", label_embedding_dim=3)
    assert _init(g, z, LABELS)["params"]["label_embedding"]["embedding"].shape == (K, 3)
    assert _init(d, x, LABELS)["params"]["Conv_0"]["kernel"].shape[2] == 1 + 3
    g, d = _dcgan_pair("acgan")
    assert _init(g, z, LABELS)["params"]["label_embedding"]["embedding"].shape == (K, 6)
    # 8x8 input -> one stride-2 conv -> 4x4x4 features = 64 inputs of the class head
    assert _init(d, x, LABELS)["params"]["class_head"]["kernel"].shape == (64, K)
    g, d = _dcgan_pair("projection")
    assert _init(d, x, LABELS)["params"]["projection_embedding"]["embedding"].shape == (K, 64)


# --- each conditioning equals its formula on the unconditional network -------------------------

def _drop(params, name):
    return {k: v for k, v in params.items() if k != name}


@pytest.mark.parametrize("model", sorted(PAIRS))
def test_generator_conditioning_formulas(model):
    make, _ = PAIRS[model]
    z = jax.random.normal(jax.random.key(2), (B, 6))
    plain_g, _ = make("none")
    onehot = jax.nn.one_hot(LABELS, K)
    # concat: G(z, y) = G_plain([z, onehot(y)])
    g, _ = make("concat")
    v = _init(g, z, LABELS)
    chex.assert_trees_all_close(
        g.apply(v, z, LABELS, train=False),
        plain_g.apply(v, jnp.concatenate([z, onehot], -1), None, train=False), atol=1e-5)
    # acgan: G(z, y) = G_plain(z * E[y])
    g, _ = make("acgan")
    v = _init(g, z, LABELS)
    table = v["params"]["label_embedding"]["embedding"]
    plain_v = {**v, "params": _drop(v["params"], "label_embedding")}
    chex.assert_trees_all_close(
        g.apply(v, z, LABELS, train=False),
        plain_g.apply(plain_v, z * table[LABELS], None, train=False), atol=1e-5)
    # and the label matters
    other = (LABELS + 1) % K
    assert not np.allclose(g.apply(v, z, LABELS, train=False), g.apply(v, z, other, train=False))


@pytest.mark.parametrize("model", sorted(PAIRS))
def test_discriminator_conditioning_formulas(model):
    make, shape = PAIRS[model]
    x = jax.random.normal(jax.random.key(3), (B,) + shape)
    _, plain_d = make("none")
    # concat: D(x, y) = D_plain([x, onehot(y) broadcast over space])
    _, d = make("concat")
    v = _init(d, x, LABELS)
    code = jax.nn.one_hot(LABELS, K)
    if x.ndim == 4:
        code = jnp.broadcast_to(code[:, None, None, :], x.shape[:3] + (K,))
    chex.assert_trees_all_close(
        d.apply(v, x, LABELS, train=False),
        plain_d.apply(v, jnp.concatenate([x, code], -1), None, train=False), atol=1e-5)
    # projection: D(x, y) = D_plain(x) + <V[y], phi(x)>, phi = flattened last features
    _, d = make("projection")
    v = _init(d, x, LABELS)
    table = v["params"]["projection_embedding"]["embedding"]
    plain_v = {**v, "params": _drop(v["params"], "projection_embedding")}
    plain_logits = plain_d.apply(plain_v, x, None, train=False)
    with_zero_table = jax.tree.map(jnp.zeros_like, table)
    zero_v = {**v, "params": {**v["params"], "projection_embedding": {"embedding": with_zero_table}}}
    chex.assert_trees_all_close(d.apply(zero_v, x, LABELS, train=False), plain_logits, atol=1e-5)
    if model == "mlp":  # phi is the last hidden layer, observable as an intermediate
        _, inter = plain_d.apply(plain_v, x, None, train=False, capture_intermediates=True,
                                 mutable=["intermediates"])
        hidden = inter["intermediates"]["Dense_0"]["__call__"][0]
        phi = nn.leaky_relu(hidden, 0.2)
        want = plain_logits + jnp.sum(table[LABELS] * phi, -1)
        chex.assert_trees_all_close(d.apply(v, x, LABELS, train=False), want, atol=1e-5)


# --- bad input ------------------------------------------------------------------------------------

def test_bad_conditioning_input_is_one_clear_error():
    g, _ = _mlp_pair("acgan")
    z = jnp.zeros((B, 6))
    with pytest.raises(ValueError, match="pass labels"):
        _init(g, z, None)
    with pytest.raises(UnknownNameError, match="valid choices"):
        _init(models.MLPGenerator(conditioning="film", num_classes=K), z, LABELS)
    with pytest.raises(ValueError, match=">= 2 classes"):
        _init(models.MLPGenerator(conditioning="concat", num_classes=0), z, LABELS)
    config = config_lib.base_config()
    config.conditioning = "acgan"
    with pytest.raises(ValueError, match=">= 2 classes"):
        config_lib.build_gan(config, (32, 32, 1), num_classes=0)
    config.conditioning = "projektion"
    with pytest.raises(UnknownNameError, match="projection"):
        config_lib.build_gan(config, (32, 32, 1), num_classes=10)


def test_build_gan_applies_the_config():
    config = config_lib.base_config()
    config.update(conditioning="acgan", class_loss_weight=0.5, resolution=16)
    gan = config_lib.build_gan(config, (16, 16, 1), num_classes=10)
    assert gan.generator.conditioning == gan.discriminator.conditioning == "acgan"
    assert gan.generator.num_classes == gan.discriminator.num_classes == 10
    assert gan.class_loss_weight == 0.5
    config.conditioning = "none"
    plain = config_lib.build_gan(config, (16, 16, 1), num_classes=10)
    assert plain.generator.conditioning == "none"


# --- the ACGAN class terms in the step ---------------------------------------------------------

class LabelOnlyGenerator(nn.Module):
    """G(z, y) = W onehot(y) + b: fakes that do not depend on the noise, so the test can recompute
    exactly what the step's discriminator saw."""

    @nn.compact
    def __call__(self, z, labels, train=True):
        del z, train
        return nn.Dense(2)(jax.nn.one_hot(labels, K))


def _acgan(loss_name: str = "non_saturating", weight: float = 0.7, penalty: str = "none"):
    return GAN(generator=LabelOnlyGenerator(),
               discriminator=models.MLPDiscriminator(hidden=(8,), activation="leaky_relu",
                                                     conditioning="acgan", num_classes=K),
               g_optimizer=optax.sgd(1.0), d_optimizer=optax.sgd(1.0),
               loss=get_loss(loss_name), penalty=get_penalty(penalty, 1.0), latent_dim=3,
               data_shape=(2,), num_classes=K, class_loss_weight=weight)


def _cross_entropy(class_logits, labels):
    """−mean log softmax(logits)[y], computed in numpy (independent of optax)."""
    logits = np.asarray(class_logits, np.float64)
    log_z = np.log(np.sum(np.exp(logits - logits.max(-1, keepdims=True)), -1)) + logits.max(-1)
    return float(np.mean(log_z - logits[np.arange(len(labels)), np.asarray(labels)]))


def test_class_cross_entropy_matches_numpy():
    logits = jax.random.normal(jax.random.key(4), (B, K)) * 3
    np.testing.assert_allclose(conditioning.class_cross_entropy(logits, LABELS),
                               _cross_entropy(logits, LABELS), rtol=1e-5)


def _expected_d_update(gan, state, real, labels):
    """What one ACGAN D update with SGD(1) must give, computed here: (new D params, D class term).

    Fakes are G(·, y) of the label-only generator, so they do not depend on the step's noise."""
    fake = gan.generator.apply(state.generator.variables(), None, labels)
    d_params = state.discriminator.params

    def d(params, x):
        return gan.discriminator.apply({"params": params}, x, labels)

    def total(params):
        (rl, rc), (fl, fc) = d(params, real), d(params, fake)
        ce = lambda c: -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(c), labels[:, None], 1))
        return gan.loss.discriminator(rl, fl) + gan.class_loss_weight * (ce(rc) + ce(fc))

    new_params = jax.tree.map(lambda p, g: p - g, d_params, jax.grad(total)(d_params))
    class_term = (_cross_entropy(d(d_params, real)[1], labels)
                  + _cross_entropy(d(d_params, fake)[1], labels))
    return new_params, class_term, d, fake


@pytest.mark.parametrize("loss_name", sorted(LOSSES))
def test_acgan_step_adds_the_class_cross_entropy(loss_name):
    gan = _acgan(loss_name, weight=0.7)
    state = create_train_state(gan, jax.random.key(5))
    real = jax.random.normal(jax.random.key(6), (B, 2))
    batch = {"x": real, "label": LABELS}
    new_state, metrics = train_step(gan, state, batch, jax.random.key(7))  # eager: 7 losses
    want_params, want_class, d, fake = _expected_d_update(gan, state, real, LABELS)
    np.testing.assert_allclose(metrics["d_class_loss"], want_class, rtol=1e-5)
    (real_logits, real_class), (fake_logits, _) = (d(state.discriminator.params, real),
                                                   d(state.discriminator.params, fake))
    np.testing.assert_allclose(metrics["d_loss"], gan.loss.discriminator(real_logits, fake_logits),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["d_class_accuracy"],
                               np.mean(np.argmax(real_class, -1) == np.asarray(LABELS)))
    # SGD(1): the D update is minus the gradient of adversarial + weight * class cross-entropy
    chex.assert_trees_all_close(new_state.discriminator.params, want_params, atol=1e-5)
    # G's class term uses the updated D on the fakes
    _, fake_class_after = d(new_state.discriminator.params, fake)
    np.testing.assert_allclose(metrics["g_class_loss"], _cross_entropy(fake_class_after, LABELS),
                               rtol=1e-5)


def test_class_loss_weight_zero_leaves_the_class_head_untouched():
    gan = _acgan(weight=0.0)
    state = create_train_state(gan, jax.random.key(8))
    batch = {"x": jax.random.normal(jax.random.key(9), (B, 2)), "label": LABELS}
    new_state, metrics = jax.jit(train_step, static_argnums=0)(gan, state, batch,
                                                               jax.random.key(10))
    chex.assert_trees_all_close(new_state.discriminator.params["class_head"],
                                state.discriminator.params["class_head"])
    assert metrics["d_class_loss"] > 0  # still reported


def test_acgan_penalty_sees_only_the_real_fake_logit():
    """The gradient penalty's critic must be the real/fake logit, not the class head."""
    gan = _acgan("wasserstein", penalty="wgan_gp")
    state = create_train_state(gan, jax.random.key(11))
    real = jax.random.normal(jax.random.key(12), (B, 2))
    _, metrics = jax.jit(discriminator_update, static_argnums=0)(gan, state, real, LABELS,
                                                                 jax.random.key(13))
    assert np.isfinite(metrics["penalty"]) and metrics["penalty"] > 0


@pytest.mark.parametrize("mode", ["pmap", "shard_map"])
def test_acgan_data_parallel_matches_the_whole_batch(mode):
    """The project's data-parallel step on 2 devices = the update on the whole batch."""
    from jaxgan.training.parallel import compile_train_step

    gan = _acgan()
    state = create_train_state(gan, jax.random.key(14))
    real = jax.random.normal(jax.random.key(15), (B, 2))
    compiled = compile_train_step(gan, mode, devices=jax.devices()[:2])
    new_device_state, metrics = compiled(compiled.put_state(state),
                                         compiled.put_batch({"x": np.asarray(real),
                                                             "label": np.asarray(LABELS)}),
                                         jax.random.key(16))
    new_state = compiled.get_state(new_device_state)
    want_params, want_class, _, _ = _expected_d_update(gan, state, real, LABELS)
    # the per-device class terms average to the whole batch's (equal halves)
    np.testing.assert_allclose(np.mean(metrics["d_class_loss"]), want_class, rtol=1e-5)
    chex.assert_trees_all_close(new_state.discriminator.params, want_params, atol=1e-5)


def test_acgan_vmapped_seeds_match_separate_runs():
    gan = _acgan()
    real = jax.random.normal(jax.random.key(17), (B, 2))
    keys = jax.random.split(jax.random.key(18), 2)
    states = jax.vmap(lambda k: create_train_state(gan, k))(keys)
    step = jax.vmap(lambda s, k: discriminator_update(gan, s, real, LABELS, k))
    new_states, metrics = jax.jit(step)(states, keys)
    for i in range(2):
        one = jax.tree.map(lambda a: a[i], states)
        want_params, want_class, _, _ = _expected_d_update(gan, one, real, LABELS)
        chex.assert_trees_all_close(jax.tree.map(lambda a: a[i], new_states.discriminator.params),
                                    want_params, atol=1e-5)
        np.testing.assert_allclose(metrics["d_class_loss"][i], want_class, rtol=1e-5)


# --- the command line on a tiny conditional digits run ---------------------------------------------

def _png(path):
    from PIL import Image

    with Image.open(path) as image:
        assert image.format == "PNG"
        image.load()
        return np.asarray(image)


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    from jaxgan import cli

    workdir = tmp_path_factory.mktemp("acgan_digits")
    data_dir = tmp_path_factory.mktemp("tfds")
    code = cli.main(["train", "--config", "experiments/acgan_digits.py", "--workdir", str(workdir),
                     "--config.steps=2", "--config.resolution=8", "--config.g_features=4",
                     "--config.d_features=4", "--config.num_samples_grid=10",
                     "--config.latent_dim=8", "--config.batch_size=10", "--config.log_every=1",
                     "--config.parallel=jit", f"--config.data_dir={data_dir}"])
    assert code == 0
    return workdir


def test_cli_sample_label_and_class_grid(digits_run, tmp_path, capsys):
    from jaxgan import cli
    from jaxgan.tools import trained

    assert cli.main(["sample", "--workdir", str(digits_run), "--label", "3", "--num", "5",
                     "--out", str(tmp_path / "three.npy")]) == 0
    threes = np.load(tmp_path / "three.npy")
    run = trained.load_run(digits_run)
    want = trained.generate_samples(run, 5, 0, labels=jnp.full((5,), 3))
    np.testing.assert_allclose(threes, want, atol=1e-6)
    other = trained.generate_samples(run, 5, 0, labels=jnp.full((5,), 4))
    assert not np.allclose(threes, other)  # the label reaches G
    # one row per class: 10 classes x ceil(25 / 10) = 3 columns of 8x8 tiles (scale 8, pad 1)
    assert cli.main(["sample", "--workdir", str(digits_run), "--num", "25",
                     "--out", str(tmp_path / "grid.png")]) == 0
    assert _png(tmp_path / "grid.png").shape[:2] == (10 * 65 + 1, 3 * 65 + 1)
    # the grid's rows are classes 0..9
    assert cli.main(["sample", "--workdir", str(digits_run), "--num", "25",
                     "--out", str(tmp_path / "grid.npy")]) == 0
    rows = trained.generate_samples(run, 30, 0, labels=jnp.repeat(jnp.arange(10), 3))
    np.testing.assert_allclose(np.load(tmp_path / "grid.npy"), rows, atol=1e-6)
    # training's sample grids also have one row per class (num_samples_grid 10: one column)
    assert _png(digits_run / "samples" / "step_0000002.png").shape[:2] == (10 * 65 + 1, 65 + 1)
    capsys.readouterr()
    assert cli.main(["sample", "--workdir", str(digits_run), "--label", "10",
                     "--out", str(tmp_path / "bad.png")]) == 2
    assert "label must be in [0, 10)" in capsys.readouterr().err


def test_cli_interpolate_digits_run(digits_run, tmp_path):
    from jaxgan import cli

    out = tmp_path / "interp.png"
    assert cli.main(["interpolate", "--workdir", str(digits_run), "--out", str(out),
                     "--steps", "7"]) == 0
    # one row per class (10), 7 steps, 8x8 tiles shown at scale 8 with 1-pixel gaps
    assert _png(out).shape[:2] == (10 * 65 + 1, 7 * 65 + 1)
    assert cli.main(["interpolate", "--workdir", str(digits_run), "--out", str(out),
                     "--label", "2", "--rows", "3", "--steps", "4"]) == 0
    assert _png(out).shape[:2] == (3 * 65 + 1, 4 * 65 + 1)


def test_eval_class_accuracy_counts_samples_recognised_as_their_class(digits_run):
    from jaxgan.data.digits_raw import load_digits_uint8
    from jaxgan.tools import evaluate, trained

    run = trained.load_run(digits_run)
    images, labels = load_digits_uint8(8)
    # real digits in the order the samples are drawn in: sample i asked for class i mod 10
    order = np.concatenate([np.flatnonzero(labels == k)[:5] for k in range(10)])
    order = order.reshape(10, 5).T.reshape(-1)
    aligned = images[order].astype(np.float32) / 127.5 - 1.0
    result = evaluate.class_accuracy(run, aligned)
    assert result["class_accuracy"] >= 0.9  # the classifier is ~99% right on real digits
    assert len(result["class_accuracy_per_class"]) == 10
    shifted = evaluate.class_accuracy(run, np.roll(aligned, 1, axis=0))  # every label off by one
    assert shifted["class_accuracy"] <= 0.1
