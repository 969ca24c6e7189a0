"""Stabilisers: label smoothing, instance noise, spectral norm, EMA, DiffAugment, optax pieces
(TTUR, gradient clipping, schedules) and the WGAN critic schedule."""
import dataclasses
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.test_util import check_grads

from jaxgan.config import base_config, build_gan
from jaxgan.core import augment
from jaxgan.core.critic_schedule import CriticSchedule, critic_schedule, gans_by_critic_steps
from jaxgan.core.losses import get_loss
from jaxgan.core.optim import clip_gradients, learning_rate, learning_rates
from jaxgan.core.registry import UnknownNameError
from jaxgan.core.state import create_train_state, generate
from jaxgan.core.step import ema_decay_at, make_train_step
from jaxgan.models import DCGANDiscriminator, MLPDiscriminator

RING8 = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], 1)


def ring8_batch(seed, n):
    rng = np.random.default_rng(seed)
    return jnp.asarray(RING8[rng.integers(0, 8, n)] + 0.01 * rng.normal(size=(n, 2)), jnp.float32)


def small_config(**overrides):
    c = base_config()
    c.model = "mlp"
    c.latent_dim = 2
    c.mlp_g_hidden = (16,)
    c.mlp_d_hidden = (16,)
    c.update(overrides)
    return c


def small_gan(**overrides):
    return build_gan(small_config(**overrides), (2,))


@pytest.fixture(scope="module")
def stabilised():
    """(gan, jitted step, initial state): EMA 0.8, TTUR 1e-4 / 4e-4, spectral norm in D."""
    gan = small_gan(ema_decay=0.8, g_lr=1e-4, d_lr=4e-4, d_spectral_norm=True,
                    mlp_g_batch_norm=False)
    return gan, jax.jit(make_train_step(gan)), create_train_state(gan, jax.random.key(0))


def test_ema_warmup_decay_closed_form_and_without_warmup():
    steps = np.array([0, 1, 10, 90, 990, 10_000])
    got = np.asarray(ema_decay_at(0.999, jnp.asarray(steps)))
    np.testing.assert_allclose(got, np.minimum(0.999, (1 + steps) / (10 + steps)), rtol=1e-6)
    np.testing.assert_allclose(got[:4], [0.1, 2 / 11, 11 / 20, 0.91], rtol=1e-6)
    assert got[-1] == np.float32(0.999)  # the ramp ends at the configured decay
    np.testing.assert_allclose(np.asarray(ema_decay_at(0.999, 0, warmup=False)), 0.999)
    # after 500 steps the initial generator's weight in the average, prod_t d_t, is negligible
    # with the ramp (it is 0.999^500 ≈ 0.61 without): a young run's EMA shows what G learned
    decays = np.asarray(ema_decay_at(0.999, jnp.arange(500)), np.float64)
    assert np.prod(decays) < 1e-3 and 0.999 ** 500 > 0.6


# --- one-sided label smoothing (Salimans et al. 2016) ---------------------------------------------

def test_label_smoothing_changes_only_the_real_bce_target():
    real = jnp.array([-2.0, 0.0, 1.5, 4.0])
    fake = jnp.array([-1.0, 0.5, 2.0, -3.0])
    sig = lambda o: 1.0 / (1.0 + np.exp(-np.asarray(o, np.float64)))
    for t in (1.0, 0.9):
        loss = build_gan(small_config(real_label=t), (2,)).loss
        expected = (np.mean(-t * np.log(sig(real)) - (1 - t) * np.log(1 - sig(real)))
                    + np.mean(-np.log(1 - sig(fake))))
        np.testing.assert_allclose(loss.discriminator(real, fake), expected, rtol=1e-5)
        # d/do of the real term is (σ(o) − t)/B: zero at σ(o) = t, i.e. o = log(t/(1−t))
        grad = jax.grad(lambda r: loss.discriminator(r, fake))(real)
        np.testing.assert_allclose(grad, (sig(real) - t) / 4, rtol=1e-5, atol=1e-7)
    # the generator's loss is untouched by the smoothing
    g = [get_loss("non_saturating", t).generator(fake) for t in (1.0, 0.9)]
    assert float(g[0]) == float(g[1])
    with pytest.raises(ValueError, match="BCE-based"):
        build_gan(small_config(real_label=0.9, loss="hinge"), (2,))


# --- instance noise (Sønderby et al. 2016) --------------------------------------------------------

def test_instance_noise_std_follows_its_linear_schedule():
    steps = jnp.array([0, 25, 50, 100, 150])
    np.testing.assert_allclose(augment.instance_noise_std(steps, 0.5, 100),
                               [0.5, 0.375, 0.25, 0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(augment.instance_noise_std(steps, 0.5, 0), [0.5] * 5)
    noise = augment.instance_noise(0.5, 100)
    zeros = jnp.zeros((20000, 2))
    for step, std in ((0, 0.5), (50, 0.25), (75, 0.125)):
        real, fake = noise(zeros, zeros, jax.random.key(step), jnp.asarray(step))
        for side in (real, fake):
            assert abs(float(jnp.std(side)) / std - 1) < 0.02
            assert abs(float(jnp.mean(side))) < 0.02 * std
        # independent noise for the two sides
        assert abs(np.corrcoef(np.asarray(real).ravel(), np.asarray(fake).ravel())[0, 1]) < 0.02
    real, fake = noise(zeros, zeros + 1, jax.random.key(0), jnp.asarray(100))
    assert float(jnp.abs(real).max()) == 0.0 and float(jnp.abs(fake - 1).max()) == 0.0
    with pytest.raises(ValueError, match="std >= 0"):
        build_gan(small_config(instance_noise_std=-0.1), (2,))


def test_instance_noise_reaches_the_discriminator_through_the_step():
    batch = {"x": ring8_batch(0, 32)}
    key = jax.random.key(3)
    gan = small_gan(instance_noise_std=1.0, instance_noise_anneal_steps=10)
    step = jax.jit(make_train_step(gan))
    state = create_train_state(gan, jax.random.key(0))
    # the state's step only feeds the noise schedule: σ(0) = 1, σ(5) = 0.5, σ(10) = σ(20) = 0
    results = {s: step(state.replace(step=state.step + s), batch, key) for s in (0, 5, 10, 20)}
    strip = lambda r: (r[0].replace(step=0), r[1])
    chex.assert_trees_all_equal(strip(results[10]), strip(results[20]))
    d_loss = {s: float(r[1]["d_loss"]) for s, r in results.items()}
    assert len({d_loss[0], d_loss[5], d_loss[10]}) == 3


# --- spectral normalisation (Miyato et al. 2018) --------------------------------------------------

def _top_singular_value(kernel):
    kernel = np.asarray(kernel, np.float64)
    return np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]


def _kernels_and_sigmas(variables):
    """[(kernel, sigma)] of every spectrally normalised layer (matched by the layer's name)."""
    kernels = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(variables["params"])[0]:
        names = [k.key for k in path]
        if names[-1] == "kernel":
            kernels["/".join(names[:-2] + [names[-2]])] = leaf
    pairs = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(variables["batch_stats"])[0]:
        names = [k.key for k in path]
        if names[-1].endswith("/kernel/sigma"):
            layer = names[-1].split("/")[0]
            pairs.append((kernels["/".join(names[:-2] + [layer])], leaf))
    return pairs


@pytest.mark.parametrize("module, x", [
    (MLPDiscriminator(hidden=(16, 16), activation="leaky_relu", spectral_norm=True),
     jnp.ones((4, 2))),
    (MLPDiscriminator(hidden=(16,), activation="maxout", spectral_norm=True), jnp.ones((4, 2))),
    (DCGANDiscriminator(resolution=8, features=4, norm="none", spectral_norm=True),
     jnp.ones((4, 8, 8, 1))),
])
def test_spectral_norm_largest_singular_value_is_one_after_power_iterations(module, x):
    variables = module.init(jax.random.key(0), x)
    update = jax.jit(lambda v: module.apply(v, x, mutable=["batch_stats"])[1]["batch_stats"])
    for _ in range(30):  # one power iteration per call
        variables = {"params": variables["params"], "batch_stats": update(variables)}
    pairs = _kernels_and_sigmas(variables)
    assert len(pairs) == sum(1 for p, _ in jax.tree_util.tree_flatten_with_path(
        variables["params"])[0] if p[-1].key == "kernel")
    for kernel, sigma in pairs:
        # σ tracks the top singular value, so W/σ has largest singular value 1
        np.testing.assert_allclose(_top_singular_value(kernel) / float(sigma), 1.0, atol=1e-3)


def test_spectral_norm_forward_uses_w_over_sigma_and_is_wired_from_config(stabilised):
    module = MLPDiscriminator(hidden=(8,), activation="leaky_relu", spectral_norm=True)
    x = jax.random.normal(jax.random.key(1), (5, 2))
    variables = module.init(jax.random.key(0), x)
    out, mutated = module.apply(variables, x, mutable=["batch_stats"])
    p, s = variables["params"], mutated["batch_stats"]
    w0 = p["Dense_0"]["kernel"] / s["SpectralNorm_0"]["Dense_0/kernel/sigma"]
    w1 = p["Dense_1"]["kernel"] / s["SpectralNorm_1"]["Dense_1/kernel/sigma"]
    h = jax.nn.leaky_relu(x @ w0 + p["Dense_0"]["bias"], 0.2)
    np.testing.assert_allclose(out, (h @ w1 + p["Dense_1"]["bias"])[:, 0], rtol=1e-5, atol=1e-6)
    # eval mode (batch_stats immutable) runs and does not need to update u
    module.apply({"params": p, "batch_stats": s}, x)

    gan, step, state = stabilised
    assert gan.discriminator.spectral_norm
    new, _ = step(state, {"x": ring8_batch(0, 32)}, jax.random.key(1))
    u_old = jax.tree.leaves(state.discriminator.batch_stats)
    u_new = jax.tree.leaves(new.discriminator.batch_stats)
    assert any(not np.array_equal(a, b) for a, b in zip(u_old, u_new))  # u advanced in the step


# --- EMA of the generator's weights ---------------------------------------------------------------

def test_ema_follows_its_update_formula_and_is_used_for_sampling(stabilised):
    gan, step, state = stabilised
    decay = gan.ema_decay
    assert decay == 0.8
    chex.assert_trees_all_equal(state.ema_params, state.generator.params)  # ema_0 = θ_0
    assert gan.ema_warmup  # the default: the decay ramps up with the step
    expected = jax.tree.map(np.asarray, state.generator.params)
    for i in range(3):
        state, _ = step(state, {"x": ring8_batch(i, 32)}, jax.random.key(i))
        params = jax.tree.map(np.asarray, state.generator.params)
        # ema_t = d_t·ema_{t−1} + (1 − d_t)·θ_t, d_t = min(d, (1 + t) / (10 + t)), t = i
        d_t = min(decay, (1 + i) / (10 + i))
        expected = jax.tree.map(lambda e, p: d_t * e + (1 - d_t) * p, expected, params)
    chex.assert_trees_all_close(state.ema_params, expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(jax.tree.leaves(state.ema_params)[0],
                           jax.tree.leaves(state.generator.params)[0])
    z = gan.sample_latent(jax.random.key(9), 6)
    ema_variables = {"params": state.ema_params, "batch_stats": state.generator.batch_stats}
    np.testing.assert_allclose(generate(gan, state, z),
                               gan.generator.apply(ema_variables, z, None, train=False),
                               rtol=1e-6)
    assert not np.allclose(generate(gan, state, z), generate(gan, state, z, use_ema=False))
    # the EMA is part of the state pytree, so checkpoints of the state carry it
    assert len(jax.tree.leaves(state)) == len(jax.tree.leaves(
        state.replace(ema_params=None))) + len(jax.tree.leaves(state.ema_params))


# --- DiffAugment (Zhao et al. 2020) ---------------------------------------------------------------

def _shift_reference(image, t_h, t_w):
    """out[i, j] = image[i + t_h, j + t_w], 0 outside (numpy, independent of the JAX code)."""
    out = np.zeros_like(image)
    h, w = image.shape[:2]
    for i in range(h):
        for j in range(w):
            if 0 <= i + t_h < h and 0 <= j + t_w < w:
                out[i, j] = image[i + t_h, j + t_w]
    return out


def _images(seed, n=6, size=8, channels=3):
    return jax.random.uniform(jax.random.key(seed), (n, size, size, channels), minval=-1,
                              maxval=1)


def test_diffaugment_translation_is_an_integer_shift_shared_by_the_pair():
    real, fake = _images(0), _images(1)
    out_real, out_fake = augment.diff_augment("translation")(real, fake, jax.random.key(3), 0)
    shift = int(8 * 0.125 + 0.5)  # 1 pixel at 8×8
    shifts_seen = set()
    for b in range(real.shape[0]):
        matches = [(th, tw) for th in range(-shift, shift + 1) for tw in range(-shift, shift + 1)
                   if np.allclose(out_real[b], _shift_reference(np.asarray(real[b]), th, tw))]
        assert len(matches) == 1
        th, tw = matches[0]
        np.testing.assert_allclose(out_fake[b], _shift_reference(np.asarray(fake[b]), th, tw))
        shifts_seen.add(matches[0])
    assert len(shifts_seen) > 1  # per-example draws


def test_diffaugment_cutout_zeros_one_square_shared_by_the_pair():
    ones = jnp.ones((16, 8, 8, 1))
    out_real, out_fake = augment.diff_augment("cutout")(ones, 2 * ones, jax.random.key(4), 0)
    np.testing.assert_array_equal(out_fake, 2 * out_real)
    k = int(8 * 0.5 + 0.5)
    for mask in np.asarray(out_real[..., 0]):
        rows, cols = np.nonzero(mask == 0)
        assert rows.size > 0
        r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
        assert rows.size == (r1 - r0 + 1) * (c1 - c0 + 1)  # a filled rectangle
        assert r1 - r0 + 1 <= k and c1 - c0 + 1 <= k
        # a side shorter than k only where the square was cut by the border
        assert r1 - r0 + 1 == k or r0 == 0 or r1 == 7
        assert c1 - c0 + 1 == k or c0 == 0 or c1 == 7


def _color_parameters(x, y):
    """(b, s, c) with y = c·s·(x − x̄_c) + c·(x̄_c − x̄) + x̄ + b, by least squares, and the residual.

    Brightness x + b, then saturation (x − x̄_c)·s + x̄_c, then contrast (x − x̄)·c + x̄ compose
    to this (x̄_c: per-pixel channel mean, x̄: image mean), Zhao et al. 2020's formulas.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    channel_mean, mean = x.mean(-1, keepdims=True), x.mean()
    features = np.stack([(x - channel_mean).ravel(),
                         np.broadcast_to(channel_mean - mean, x.shape).ravel(),
                         np.ones(x.size)], 1)
    (cs, c, b), *_ = np.linalg.lstsq(features, (y - mean).ravel(), rcond=None)
    residual = np.abs(features @ np.array([cs, c, b]) - (y - mean).ravel()).max()
    return np.array([b, cs / c, c]), residual


def test_diffaugment_color_matches_the_formulas_with_shared_draws():
    real, fake = _images(5), _images(6)
    key = jax.random.key(7)
    out_real, out_fake = augment.diff_augment("color")(real, fake, key, 0)
    drawn = []
    for b in range(real.shape[0]):
        params_real, residual_real = _color_parameters(real[b], out_real[b])
        params_fake, residual_fake = _color_parameters(fake[b], out_fake[b])
        assert residual_real < 1e-5 and residual_fake < 1e-5
        np.testing.assert_allclose(params_real, params_fake, rtol=1e-4, atol=1e-5)
        brightness, saturation, contrast = params_real
        assert -0.5 <= brightness < 0.5 and 0 <= saturation < 2 and 0.5 <= contrast < 1.5
        drawn.append(params_real)
    assert np.ptp(np.array(drawn), axis=0).min() > 0.05  # per-example draws
    # the full policy, same images on both sides -> identical outputs; another key -> different
    x = _images(8)
    a, b_ = augment.diff_augment("color,translation,cutout")(x, x, key, 0)
    np.testing.assert_array_equal(a, b_)
    c, _ = augment.diff_augment("color,translation,cutout")(x, x, jax.random.key(8), 0)
    assert not np.allclose(a, c)


def test_diffaugment_is_differentiable():
    x = _images(9, n=2, size=8, channels=3)
    weights = _images(10, n=2, size=8, channels=3)
    key = jax.random.key(11)

    def objective(images):
        _, fake = augment.diff_augment("color,translation,cutout")(images, images, key, 0)
        return jnp.sum(weights * fake)

    check_grads(jax.jit(objective), (x,), order=1, modes=["rev"], atol=1e-2, rtol=1e-2)
    assert float(jnp.abs(jax.jit(jax.grad(objective))(x)).sum()) > 0


def test_augment_errors_and_composition():
    with pytest.raises(UnknownNameError, match="valid choices: color, cutout, translation"):
        augment.diff_augment("colour")
    with pytest.raises(ValueError, match="NHWC"):
        augment.diff_augment("color")(jnp.ones((4, 2)), jnp.ones((4, 2)), jax.random.key(0), 0)
    assert build_gan(small_config(), (2,)).augment is None
    # wired from the config: DiffAugment first, then instance noise
    c = base_config()
    c.update(diffaugment="translation", instance_noise_std=0.1)
    x, key = _images(12), jax.random.key(15)
    chex.assert_trees_all_close(
        build_gan(c, (8, 8, 3)).augment(x, x, key, jnp.asarray(0)),
        augment.compose(augment.diff_augment("translation"), augment.instance_noise(0.1))(
            x, x, key, jnp.asarray(0)))
    # compose: transform i draws from fold_in(key, i)
    t = augment.compose(augment.diff_augment("translation"), augment.instance_noise(0.1))
    x = _images(13)
    key = jax.random.key(14)
    got = t(x, x, key, jnp.asarray(0))
    r, f = augment.diff_augment("translation")(x, x, jax.random.fold_in(key, 0), 0)
    want = augment.instance_noise(0.1)(r, f, jax.random.fold_in(key, 1), jnp.asarray(0))
    chex.assert_trees_all_close(got, want)


# --- TTUR, gradient clipping, learning-rate schedules ---------------------------------------------

def test_ttur_gives_each_net_its_learning_rate(stabilised):
    # Adam's first update is lr·g/(|g| + ε) ≈ ±lr for every parameter with |g| ≫ ε.
    gan, step, state = stabilised
    new, _ = step(state, {"x": ring8_batch(0, 32)}, jax.random.key(1))
    for net, lr in ((lambda s: s.generator, 1e-4), (lambda s: s.discriminator, 4e-4)):
        deltas = np.concatenate([np.abs(np.asarray(a) - np.asarray(b)).ravel() for a, b in zip(
            jax.tree.leaves(net(new).params), jax.tree.leaves(net(state).params))])
        np.testing.assert_allclose(np.max(deltas), lr, rtol=1e-2)


def test_gradient_clipping_rescales_to_the_global_norm_before_the_optimizer():
    grads = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([12.0])}  # global norm 13
    sgd = clip_gradients(optax.sgd(1.0), 1.3)
    updates, _ = sgd.update(grads, sgd.init(grads))
    chex.assert_trees_all_close(updates, jax.tree.map(lambda g: -g / 10, grads))
    small = jax.tree.map(lambda g: g / 100, grads)  # norm 0.13 < 1.3: untouched
    updates, _ = sgd.update(small, sgd.init(small))
    chex.assert_trees_all_close(updates, jax.tree.map(lambda g: -g, small))
    assert clip_gradients(optax.sgd(1.0), 0.0) is not sgd
    # wired from the config, in front of Adam: gradients g and g/5 (both above the threshold)
    # become the same clipped vector, so Adam's two updates are equal
    opt = build_gan(small_config(grad_clip_norm=0.1), (2,)).d_optimizer
    plain = build_gan(small_config(), (2,)).d_optimizer
    for optimizer, equal in ((opt, True), (plain, False)):
        state = optimizer.init(grads)
        u1, state = optimizer.update(grads, state)
        u2, state = optimizer.update(jax.tree.map(lambda g: g / 5, grads), state)
        assert np.allclose(u1["a"], u2["a"], rtol=1e-5) == equal
    with pytest.raises(ValueError, match="grad_clip_norm"):
        clip_gradients(optax.sgd(1.0), -1.0)


def test_learning_rate_schedules_match_closed_forms():
    def lr(name, t, peak=2.0, warmup=10, total=100):
        return float(learning_rate(name, peak, warmup, total)(t)) if name != "constant" else \
            learning_rate(name, peak, warmup, total)

    assert lr("constant", 0) == 2.0
    np.testing.assert_allclose([lr("linear_warmup", t) for t in (0, 5, 10, 50)], [0, 1, 2, 2])
    np.testing.assert_allclose([lr("linear_decay", t) for t in (0, 25, 100, 150)],
                               [2, 1.5, 0, 0], atol=1e-6)
    np.testing.assert_allclose([lr("cosine", t) for t in (0, 50, 100)], [2, 1, 0], atol=1e-6)
    cosine = [2 * 0.5 * (1 + math.cos(math.pi * (t - 10) / 90)) for t in (10, 55, 100)]
    np.testing.assert_allclose([lr("warmup_cosine", t) for t in (0, 5, 10, 55, 100)],
                               [0, 1] + cosine, atol=1e-6)
    with pytest.raises(UnknownNameError, match="learning-rate schedule"):
        learning_rate("step", 1.0, 0, 10)
    # D's schedule runs over D's updates: with n_critic 5, D's lr after 5t updates is G's after t
    c = small_config(lr_schedule="warmup_cosine", warmup_steps=10, steps=100, n_critic=5,
                     g_lr=1.0, d_lr=3.0)
    g_lr, d_lr = learning_rates(c)
    for t in (0, 5, 10, 40, 100):
        np.testing.assert_allclose(float(d_lr(5 * t)), 3 * float(g_lr(t)), rtol=1e-5, atol=1e-6)
    # wired into the step: linear warm-up makes the first update zero
    gan = small_gan(lr_schedule="linear_warmup", warmup_steps=4)
    state = create_train_state(gan, jax.random.key(0))
    step = jax.jit(make_train_step(gan))
    one, _ = step(state, {"x": ring8_batch(0, 32)}, jax.random.key(1))
    two, _ = step(one, {"x": ring8_batch(1, 32)}, jax.random.key(2))
    chex.assert_trees_all_equal(one.generator.params, state.generator.params)
    chex.assert_trees_all_equal(one.discriminator.params, state.discriminator.params)
    assert not np.allclose(jax.tree.leaves(two.generator.params)[0],
                           jax.tree.leaves(state.generator.params)[0])


# --- the WGAN critic schedule (Arjovsky et al. 2017) ----------------------------------------------

def test_wgan_critic_schedule_matches_the_authors_rule():
    schedule = CriticSchedule(n_critic=5, boost=100, boost_first=25, boost_every=500)
    for step in range(0, 2001):
        authors = 100 if step < 25 or step % 500 == 0 else 5  # WGAN main.py's Diters
        assert schedule.at(step) == authors
    assert schedule.distinct() == (5, 100)
    for s in (CriticSchedule(5, 100, 25, 500), CriticSchedule(2, 7, 3, 4),
              CriticSchedule(1, 3, 10, 4), CriticSchedule(3, 9, 0, 0), CriticSchedule(5)):
        for steps in (0, 1, 2, 3, 4, 5, 9, 10, 11, 24, 25, 26, 499, 500, 501, 1001):
            assert s.total(steps) == sum(s.at(i) for i in range(steps)), (s, steps)
    assert CriticSchedule(5).distinct() == (5,)
    assert critic_schedule(base_config()) == CriticSchedule(1, 0, 25, 500)
    # one GAN (one compiled step) per distinct n(s); the loop runs step s with gans[n(s)]
    # (tests/test_monitors.py runs the boosted schedule through the loop and resumes it)
    gan = small_gan(n_critic=5)
    gans = gans_by_critic_steps(gan, schedule)
    assert sorted(gans) == [5, 100] and gans[5] == gan
    assert gans[100] == dataclasses.replace(gan, n_critic=100)
    with pytest.raises(ValueError, match="n_critic_boost"):
        CriticSchedule(5, -1)
