"""The ResNet models (jaxgan.models.resnet) on the project's shared paths, on tiny widths at 16 px:
vmapped seeds, exact resume through the real loop and Orbax checkpoints, DiffAugment in the step,
`interpolate`, and D's features for jaxgan.anomaly.
"""
from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.anomaly import features as anomaly_features
from jaxgan.config import build_gan
from jaxgan.core import augment, step as gan_step
from jaxgan.core.latent import random_interpolations
from jaxgan.core.state import create_train_state, generate
from jaxgan.tools.interpolate import interpolation_samples
from jaxgan.training import seeds

from test_resnet import K, _config
from test_resume import latest_checkpoint, leaves_bytes, run

SHAPE = (16, 16, 1)
NUM_SEEDS, ROWS = 2, 8


@pytest.fixture(scope="module")
def conditional_resnet():
    """SNGAN's ResNet with class-conditional BatchNorm (per-layer class embeddings) and a
    projection D, with SGD (see below), and NUM_SEEDS initial states from the vmapped init: one
    init compilation shared by the tests of this module."""
    gan = build_gan(_config("resnet", conditioning="projection"), SHAPE, num_classes=K)
    gan = dataclasses.replace(gan, g_optimizer=optax.sgd(0.1), d_optimizer=optax.sgd(0.1))
    return gan, seeds.create_seed_states(gan, seeds.seed_keys(0, NUM_SEEDS))


@pytest.mark.slow  # ~25 CPU-s; vmapped seeds = separate runs: tests/test_seeds.py
def test_vmapped_seeds_step_equals_separate_steps_for_a_conditional_resnet(conditional_resnet):
    """2 steps of 2 seeds vmapped in one jit equal each seed's own 2 steps from the same initial
    state (params, BatchNorm statistics, spectral-norm vectors, EMA, metrics) to float32
    round-off (rtol 2e-4, as tests/test_seeds.py). SGD, as in test_resnet's data-parallel test:
    Adam's first step ±lr·sign(g) turns the round-off gradients of the conv biases before a
    BatchNorm (0 in exact arithmetic) into differences of ±lr (seen: block1/conv1/bias)."""
    gan, initial = conditional_resnet
    num_steps = 2
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, (num_steps, NUM_SEEDS, ROWS) + SHAPE).astype(np.float32)
    ys = rng.integers(0, K, (num_steps, NUM_SEEDS, ROWS)).astype(np.int32)
    base_keys = seeds.seed_keys(100, NUM_SEEDS)
    multi = seeds.make_multi_seed_step(gan, donate=False)
    stacked, multi_metrics = initial, []
    for t in range(num_steps):
        stacked, metrics = multi(stacked, {"x": xs[t], "label": ys[t]},
                                 seeds.multi_seed_step_keys(base_keys, t))
        multi_metrics.append(metrics)
    single = jax.jit(gan_step.make_train_step(gan))
    for i in range(NUM_SEEDS):
        state = seeds.unstack_state(initial, i)
        for t in range(num_steps):
            state, metrics = single(state, {"x": xs[t, i], "label": ys[t, i]},
                                    gan_step.step_key(base_keys[i], t))
            chex.assert_trees_all_close(seeds.unstack_state(multi_metrics[t], i), metrics,
                                        rtol=2e-4, atol=2e-5)
        chex.assert_trees_all_close(seeds.unstack_state(stacked, i), state, rtol=2e-4, atol=2e-5)
    first, second = (seeds.unstack_state(stacked, i).generator.params for i in (0, 1))
    assert max(jax.tree.leaves(jax.tree.map(lambda a, b: float(jnp.abs(a - b).max()),
                                            first, second))) > 1e-3  # the seeds differ


def _tiny_biggan(steps: int):
    """biggan_digits with tiny widths: conditional BatchNorm from the shared embedding,
    hierarchical z, self-attention at 8×8 in G and D, EMA from step 2 (the resume crosses it)."""
    config = _config("biggan", g_shared_dim=4, batch_size=8, steps=steps, checkpoint_every=2,
                     sample_every=0, log_every=1, monitor_every=0, steps_per_call=1,
                     num_samples_grid=10, ema_start=2, parallel="jit")
    assert config.g_attention_resolution == config.d_attention_resolution == 8
    return config


@pytest.mark.slow  # ~104 CPU-s (load 4-8): three loop runs, each compiling the BigGAN step
def test_biggan_half_then_resume_equals_the_straight_run_bit_for_bit(tmp_path):
    """4 steps straight vs 2 steps, then `train` again to 4 in the same workdir (restored from
    Orbax, data iterator included): every leaf of the final state (params, Adam states,
    conditional-BN statistics, spectral-norm vectors, attention γ, EMA) bit-identical, and the
    last checkpoints equal."""
    straight = run(_tiny_biggan(4), tmp_path / "straight")
    first = run(_tiny_biggan(2), tmp_path / "halves")
    resumed = run(_tiny_biggan(4), tmp_path / "halves")
    assert first.step == 2 and resumed.start_step == 2 and resumed.step == straight.step == 4
    assert "attention" in resumed.state.generator.params
    assert leaves_bytes(resumed.state) == leaves_bytes(straight.state)
    a, b = latest_checkpoint(tmp_path / "straight"), latest_checkpoint(tmp_path / "halves")
    assert a.step == b.step == 4 and a.data_state == b.data_state
    assert leaves_bytes(a.state) == leaves_bytes(b.state) == leaves_bytes(straight.state)
    # the EMA started averaging at step 2: it is no longer a copy of G
    ema, params = resumed.state.ema_params, resumed.state.generator.params
    assert max(jax.tree.leaves(jax.tree.map(lambda e, p: float(jnp.abs(e - p).max()),
                                            ema, params))) > 0


@pytest.mark.slow  # ~15 CPU-s; DiffAugment in the step: tests/test_stabilizers.py
def test_diffaugment_reaches_the_resnet_discriminator_and_g_gradient_flows_through_it(
        conditional_resnet):
    """With diffaugment 'translation,cutout' the step's D loss is the hinge loss of the
    conditional ResNet D on the pair T(real), T(G(z)) (T drawn from the update's own key, shared
    by the pair), not of D on the raw pair; and G's gradient norm in the step equals that of
    hinge_G(D(T(G(z)))) taken through T (0 if T cut the gradient). One compilation."""
    policy = "translation,cutout"
    plain, initial = conditional_resnet
    gan = dataclasses.replace(plain, augment=augment.build_augment(_config(
        "resnet", diffaugment=policy)))
    state = seeds.unstack_state(initial, 0)
    real = jax.random.uniform(jax.random.key(1), (ROWS,) + SHAPE, minval=-1, maxval=1)
    labels = jnp.arange(ROWS) % K
    key = jax.random.key(2)
    transform = augment.diff_augment(policy)

    @jax.jit
    def losses(state):
        d_metrics = gan_step.discriminator_update(gan, state, real, labels, key)[1]
        g_metrics = gan_step.generator_update(gan, state, real, labels, key)[1]
        g, d = state.generator, state.discriminator

        def apply_d(variables, x, y=labels):  # training mode: spectral norm's u advances
            return gan.apply_discriminator(variables, x, y, train=True, mutable=["batch_stats"])

        def d_pair(r, f):  # as the step: one call on [r; f], or r then f with r's new u
            if gan.d_joint_batch:
                out = apply_d(d.variables(), jnp.concatenate([r, f]), jnp.tile(labels, 2))[0]
                return out[:ROWS], out[ROWS:]
            out_r, mutated = apply_d(d.variables(), r)
            return out_r, apply_d({"params": d.params, **mutated}, f)[0]

        def fake_of(params, z):
            return gan.apply_generator({"params": params, "batch_stats": g.batch_stats}, z,
                                       labels, train=True, mutable=["batch_stats"])[0]

        def hinge_d(r, f):
            out_r, out_f = d_pair(r, f)
            return jnp.mean(jax.nn.relu(1 - out_r)) + jnp.mean(jax.nn.relu(1 + out_f))
        key_z, _, key_aug = jax.random.split(key, 3)  # the D update's (z, penalty, augment)
        fake = fake_of(g.params, gan.sample_latent(key_z, ROWS))
        d_augmented = hinge_d(*transform(real, fake, key_aug, 0))
        d_raw = hinge_d(real, fake)
        key_z, key_aug = jax.random.split(key)  # the G update's (z, augment)
        z = gan.sample_latent(key_z, ROWS)
        def g_loss(p):  # hinge: −mean D(T(G(z))); D's u as the step (state's, not advanced)
            r, f = transform(real, fake_of(p, z), key_aug, 0)
            if gan.d_joint_batch:
                return -jnp.mean(apply_d(d.variables(), jnp.concatenate([r, f]),
                                         jnp.tile(labels, 2))[0][ROWS:])
            return -jnp.mean(apply_d(d.variables(), f)[0])
        return (d_metrics["d_loss"], d_augmented, d_raw, g_metrics["g_grad_norm"],
                optax.tree.norm(jax.grad(g_loss)(g.params)))

    d_step, d_augmented, d_raw, g_step_norm, g_norm = (float(v) for v in losses(state))
    np.testing.assert_allclose(d_step, d_augmented, rtol=1e-5)
    assert abs(d_step - d_raw) > 1e-4
    np.testing.assert_allclose(g_step_norm, g_norm, rtol=1e-4)
    assert g_norm > 1e-3


@pytest.fixture(scope="module")
def biggan():
    """An unconditional BigGAN (shared embedding unused, self-attention at 8×8 in G and D,
    spectral norm in G and D, orthogonal init) and its initial state: one init compilation."""
    gan = build_gan(_config("biggan", conditioning="none"), SHAPE)
    return gan, jax.jit(lambda key: create_train_state(gan, key))(jax.random.key(0))


def test_interpolate_rows_end_at_the_samples_of_their_endpoint_latents(biggan):
    """BigGAN with attention (eval mode): row r of `interpolate` starts at G(z0_r) and ends at
    G(z1_r), z0, z1 the path's N(0, I) draws, as `generate` gives them; the middle differs from
    both ends."""
    gan, state = biggan
    key, rows, steps = jax.random.key(5), 3, 5
    out = interpolation_samples(gan, state, key, rows, steps)
    assert out.shape == (rows, steps) + SHAPE
    key0, key1 = jax.random.split(key)  # jaxgan.core.latent.random_interpolations
    ends = np.concatenate([jax.random.normal(key0, (rows, gan.latent_dim)),
                           jax.random.normal(key1, (rows, gan.latent_dim))])
    paths = random_interpolations(key, rows, steps, gan.latent_dim)
    np.testing.assert_allclose(paths[:, 0], ends[:rows], atol=1e-5)
    np.testing.assert_allclose(paths[:, -1], ends[rows:], atol=1e-5)
    expected = np.asarray(jax.jit(lambda z: generate(gan, state, z))(ends))
    np.testing.assert_allclose(out[:, 0], expected[:rows], atol=1e-5)
    np.testing.assert_allclose(out[:, -1], expected[rows:], atol=1e-5)
    middle = out[:, steps // 2]
    assert np.abs(middle - out[:, 0]).max() > 1e-3 and np.abs(middle - out[:, -1]).max() > 1e-3


def test_resnet_discriminator_exposes_its_pre_pooling_features_for_anomaly_detection(biggan):
    """jaxgan.anomaly.features on an unconditional BigGAN (attention in D): f(x) is D's ReLU map
    before global sum pooling, [B, 4·4·C] (16 px: 16 → 8 → 4 → 4), and the logit is the
    spectrally normalised linear layer of its sum over positions: d(x) − b = (Σ_hw f(x))·W/σ, one
    σ > 0 for every row (σ from the power iteration, not read here)."""
    gan, state = biggan
    _, f, d = anomaly_features.networks(gan, state)
    x = jax.random.uniform(jax.random.key(3), (6,) + SHAPE, minval=-1, maxval=1)
    feats, logits = np.asarray(jax.jit(f)(x)), np.asarray(jax.jit(d)(x))
    width = gan.discriminator.features * 2
    assert feats.shape == (6, 4 * 4 * width) and feats.min() >= 0 and feats.max() > 0
    linear = state.discriminator.params["linear"]
    pooled = feats.reshape(6, 4 * 4, width).sum(axis=1)
    unnormalised = pooled @ np.asarray(linear["kernel"])[:, 0]
    ratio = (logits - float(linear["bias"][0])) / unnormalised  # = 1/σ for every row
    assert np.all(np.abs(unnormalised) > 1e-3) and ratio.min() > 0
    np.testing.assert_allclose(ratio, ratio.mean(), rtol=1e-4)
