"""ResNet G and D of SNGAN and BigGAN (jaxgan.models.resnet), on tiny widths.

Shapes at every resolution; class-conditional BatchNorm against its closed form; spectral norm's
σ_max; the self-attention block against a numpy reference; orthogonal init; the EMA start step;
the data-parallel step of a conditional-BN BigGAN against the one-device step.
"""
from __future__ import annotations

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxgan.config import build_gan, presets
from jaxgan.core.gan import GAN
from jaxgan.core.state import create_train_state
from jaxgan.core.step import ema_decay_at
from jaxgan.models import MODELS, resnet
from jaxgan.training import parallel

K = 10


def _config(model: str, **overrides):
    c = presets.digits_resnet(model)
    c.g_features, c.d_features, c.latent_dim = 2, 4, 6  # 8 channels; 6 = 3 chunks of z
    if model == "resnet":
        c.conditioning = "none"  # SNGAN as published: unconditional
    for key, value in overrides.items():
        setattr(c, key, value)
    return c


@pytest.mark.parametrize("model", ["resnet", "biggan"])
@pytest.mark.parametrize("resolution", [16, 32, 64, 128])
def test_output_shapes_at_every_resolution(model, resolution):
    """G: [B, R, R, 3] in [-1, 1] (tanh); D: logits [B]; the number of up-blocks is log2(R/4) and
    D's blocks follow D_LAYOUTS. Traced with eval_shape (no arithmetic)."""
    c = _config(model, g_attention_resolution=16, d_attention_resolution=16)
    if model == "biggan":  # hierarchical z: (blocks + 1) chunks
        c.latent_dim = 2 * (int(np.log2(resolution // 4)) + 1)
    gan = build_gan(c, (resolution, resolution, 3), num_classes=K if model == "biggan" else 0)
    labels = jnp.zeros((2,), jnp.int32) if model == "biggan" else None
    z, x = jnp.zeros((2, c.latent_dim)), jnp.zeros((2, resolution, resolution, 3))
    g_vars = jax.eval_shape(gan.generator.init, jax.random.key(0), z, labels)
    d_vars = jax.eval_shape(gan.discriminator.init, jax.random.key(0), x, labels)
    fake = jax.eval_shape(lambda v: gan.generator.apply(v, z, labels, train=False), g_vars)
    logits = jax.eval_shape(lambda v: gan.discriminator.apply(v, x, labels, train=False), d_vars)
    assert fake.shape == (2, resolution, resolution, 3)
    assert logits.shape == (2,)
    blocks = [k for k in g_vars["params"] if k.startswith("block")]
    assert len(blocks) == int(np.log2(resolution // 4))
    widths, _ = resnet.D_LAYOUTS["biggan" if model == "biggan" else "sngan"][resolution]
    assert len([k for k in d_vars["params"] if k.startswith("block")]) == len(widths)
    assert "attention" in g_vars["params"]  # after the up-block that outputs 16×16
    assert ("attention" in d_vars["params"]) == (resolution >= 32)  # D at 16 px: 8, 4, 4


def test_unknown_resolution_and_bad_hierarchical_split_are_rejected():
    with pytest.raises(ValueError, match="must be one of"):
        build_gan(_config("resnet"), (24, 24, 1))
    gan = build_gan(_config("biggan", latent_dim=7), (16, 16, 1), num_classes=K)
    with pytest.raises(ValueError, match="divisible by 3"):  # raised while tracing
        jax.eval_shape(gan.generator.init, jax.random.key(0), jnp.zeros((2, 7)),
                       jnp.zeros((2,), jnp.int32))


# --- class-conditional BatchNorm -----------------------------------------------------------------

def test_conditional_batch_norm_is_the_closed_form_of_the_embedding():
    """out = (x − μ)/√(σ² + ε)·(1 + W_γ c) + W_β c (batch statistics, no own scale/bias) for a
    conditioning vector c, and (1 + E_γ[y]), E_β[y] for labels: numpy against the module."""
    rng = np.random.RandomState(0)
    x = rng.randn(6, 4, 4, 5).astype(np.float32)
    cond = rng.randn(6, 3).astype(np.float32)
    layer = resnet.ConditionalBatchNorm(K, epsilon=1e-4)
    variables = layer.init(jax.random.key(0), x, cond)
    out, _ = layer.apply(variables, x, cond, mutable=["batch_stats"])
    p = variables["params"]
    normed = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-4)
    gain = 1 + cond @ np.asarray(p["gain"]["kernel"])
    bias = cond @ np.asarray(p["bias"]["kernel"])
    np.testing.assert_allclose(out, normed * gain[:, None, None] + bias[:, None, None],
                               rtol=1e-4, atol=1e-4)
    labels = np.array([0, 3, 3, 9, 1, 0])
    layer = resnet.ConditionalBatchNorm(K)
    variables = layer.init(jax.random.key(1), x, labels)
    out, _ = layer.apply(variables, x, labels, mutable=["batch_stats"])
    p = variables["params"]
    gain = 1 + np.asarray(p["gain"]["embedding"])[labels]
    bias = np.asarray(p["bias"]["embedding"])[labels]
    np.testing.assert_allclose(out, (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-4)
                               * gain[:, None, None] + bias[:, None, None], rtol=1e-4, atol=1e-4)


def test_biggan_generator_takes_the_class_from_the_shared_embedding():
    """Eval mode (running statistics: each sample on its own): the same z with another label gives
    another image, the same label the same image; changing the shared embedding's row of class 3
    changes exactly the samples labelled 3."""
    gan = build_gan(_config("biggan", g_attention_resolution=0), (16, 16, 1), num_classes=K)
    z = jax.random.normal(jax.random.key(1), (4, 6))
    z = jnp.concatenate([z, z])
    labels = jnp.array([3, 5, 3, 0, 3, 5, 3, 0])
    variables = gan.generator.init(jax.random.key(0), z, labels)
    apply = jax.jit(lambda v, y: gan.generator.apply(v, z, y, train=False))
    g = lambda v, y: np.asarray(apply(v, y))
    out = g(variables, labels)
    np.testing.assert_array_equal(out[:4], out[4:])  # fixed (z, label): the same image
    np.testing.assert_array_equal(out, g(variables, labels))
    other = g(variables, jnp.array([3, 5, 3, 0, 7, 7, 7, 7]))
    np.testing.assert_array_equal(other[:4], out[:4])
    assert np.all(np.abs(other[4:] - out[4:]).max(axis=(1, 2, 3)) > 1e-3)
    params = jax.tree.map(jnp.asarray, variables["params"])
    table = params["shared_embedding"]["embedding"]
    params = {**params, "shared_embedding": {"embedding": table.at[3].add(0.5)}}
    moved = g({**variables, "params": params}, labels)
    changed = np.abs(moved - out).max(axis=(1, 2, 3)) > 1e-4
    np.testing.assert_array_equal(changed, np.asarray(labels) == 3)


# --- spectral norm, attention, init ---------------------------------------------------------------

def test_spectral_norm_bounds_every_discriminator_layer():
    """After 30 power iterations (D applied with mutable batch_stats) each D weight divided by the
    σ it keeps has largest singular value 1 ± 1e-3 (numpy SVD); every weight matrix of D (convs,
    linear, projection embedding, attention) has such a σ; and the raw weights do not (σ ≠ 1)."""
    gan = build_gan(_config("biggan"), (16, 16, 1), num_classes=K)
    x = jax.random.normal(jax.random.key(2), (4, 16, 16, 1))
    labels = jnp.arange(4)
    variables = jax.jit(gan.discriminator.init)(jax.random.key(0), x, labels)
    apply = jax.jit(lambda v: gan.discriminator.apply(v, x, labels, mutable=["batch_stats"])[1])
    for _ in range(30):
        variables = {**variables, **apply(variables)}
    sigmas = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(variables["batch_stats"])[0]:
        keys = [getattr(k, "key", str(k)) for k in path]
        if keys[-1].endswith("/sigma"):
            sigmas["/".join(keys[:-2] + [keys[-1][:-len("/sigma")]])] = float(leaf)
    weights = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(variables["params"])[0]:
        keys = [getattr(k, "key", str(k)) for k in path]
        if np.ndim(leaf) >= 2:
            weights["/".join(keys)] = np.asarray(leaf).reshape(-1, leaf.shape[-1])
    assert sorted(sigmas) == sorted(weights) and len(weights) >= 12
    raw = []
    for name, w in weights.items():
        top = np.linalg.svd(w, compute_uv=False)[0]
        assert abs(top / sigmas[name] - 1) < 1e-3, name
        raw.append(top)
    assert max(abs(s - 1) for s in raw) > 0.1


def _attention_reference(x: np.ndarray, p: dict) -> np.ndarray:
    """numpy SAGAN block: θ = xW_θ, φ = maxpool(xW_φ), g = maxpool(xW_g), β = softmax(θφᵀ),
    out = x + γ·(βg)W_o."""
    b, h, w, c = x.shape
    k = lambda name: np.asarray(p[name]["kernel"]).reshape(c if name != "out" else c // 2, -1)
    pool = lambda t: t.reshape(b, h // 2, 2, w // 2, 2, -1).max(axis=(2, 4))
    theta = (x @ k("theta")).reshape(b, h * w, -1)
    phi = pool(x @ k("phi")).reshape(b, h * w // 4, -1)
    g = pool(x @ k("g")).reshape(b, h * w // 4, -1)
    logits = theta @ phi.transpose(0, 2, 1)
    beta = np.exp(logits - logits.max(-1, keepdims=True))
    beta /= beta.sum(-1, keepdims=True)
    return x + float(p["gamma"]) * ((beta @ g) @ k("out")).reshape(b, h, w, c)


def test_self_attention_is_the_identity_at_init_and_a_softmax_attention():
    x = np.random.RandomState(0).randn(2, 4, 6, 16).astype(np.float32)
    block = resnet.SelfAttention()
    variables = block.init(jax.random.key(0), x)
    out, inter = block.apply(variables, x, mutable=["intermediates"])
    assert float(variables["params"]["gamma"]) == 0.0
    np.testing.assert_array_equal(out, x)
    (beta,) = inter["intermediates"]["attention"]
    assert beta.shape == (2, 24, 6) and float(beta.min()) >= 0
    np.testing.assert_allclose(np.asarray(beta).sum(-1), 1.0, rtol=1e-6)
    params = {**variables["params"], "gamma": jnp.asarray(0.7)}
    out = block.apply({"params": params}, x)
    assert np.abs(out - x).max() > 1e-2
    np.testing.assert_allclose(out, _attention_reference(x, params), rtol=1e-4, atol=1e-5)


def test_orthogonal_init_gives_orthonormal_weights():
    """BigGAN ('ortho'): every conv / dense kernel as a [fan_in, fan_out] matrix W has WᵀW = I
    (fan_in ≥ fan_out) or WWᵀ = I, to 1e-5; SNGAN's Xavier init is not orthogonal."""
    gan = build_gan(_config("biggan", g_attention_resolution=0), (16, 16, 1), num_classes=K)
    variables = gan.generator.init(jax.random.key(0), jnp.zeros((2, 6)), jnp.zeros((2,), int))
    kernels = [np.asarray(a).reshape(-1, a.shape[-1])
               for p, a in jax.tree_util.tree_flatten_with_path(variables["params"])[0]
               if getattr(p[-1], "key", "") == "kernel"]

    def gram_error(w):
        gram = w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T
        return np.abs(gram - np.eye(len(gram))).max()

    assert len(kernels) >= 10
    assert max(gram_error(w) for w in kernels) < 1e-5
    xavier = resnet.kernel_init("xavier", residual=True)(jax.random.key(0), (3, 3, 8, 8))
    assert gram_error(np.asarray(xavier).reshape(72, 8)) > 1e-2


def test_ema_starts_at_the_configured_step():
    """β_t = 0 before `start` (the EMA copies G), then the warm-up min(β, (1+s)/(10+s)) counted
    from s = t − start, or β itself without warm-up."""
    steps = jnp.arange(8)
    np.testing.assert_allclose(ema_decay_at(0.99, steps, False, 3), [0, 0, 0] + [0.99] * 5)
    s = np.arange(5)
    np.testing.assert_allclose(ema_decay_at(0.99, steps, True, 3),
                               [0, 0, 0] + list(np.minimum(0.99, (1 + s) / (10 + s))), rtol=1e-6)
    np.testing.assert_allclose(ema_decay_at(0.99, steps, True, 0),
                               np.minimum(0.99, (1 + np.arange(8)) / (10 + np.arange(8))),
                               rtol=1e-6)


def test_resnet_experiments_validate_and_have_the_published_hyperparameters():
    """SNGAN: mimicry / Miyato et al. (hinge, n_dis 5, Adam(2e-4, 0, 0.9), batch 64, 50,000
    steps, linear decay); BigGAN: StudioGAN's BigGAN-Mod CIFAR-10 recipe (z 80, ch 96, shared
    embedding 128, hierarchical z, attention at 16, EMA 0.9999 from step 1,000, Adam β1 0)."""
    from jaxgan.training.run_config import load_experiment, validate_config

    for name in ("sngan_cifar10", "sngan_celeba64", "biggan_cifar10", "sngan_digits",
                 "biggan_digits"):
        validate_config(load_experiment(name))
    c = load_experiment("sngan_cifar10")
    assert (c.model, c.loss, c.n_critic, c.batch_size, c.steps) == ("resnet", "hinge", 5, 64,
                                                                     50_000)
    assert (c.g_lr, c.d_lr, c.b1, c.b2, c.lr_schedule) == (2e-4, 2e-4, 0.0, 0.9, "linear_decay")
    c = load_experiment("biggan_cifar10")
    assert (c.model, c.latent_dim, c.g_features, c.d_features, c.g_shared_dim) == (
        "biggan", 80, 96, 96, 128)
    assert c.g_hierarchical_z and c.g_spectral_norm and c.conditioning == "projection"
    assert (c.g_attention_resolution, c.d_attention_resolution) == (16, 16)
    assert (c.ema_decay, c.ema_start, c.ema_warmup) == (0.9999, 1000, False)
    assert (c.loss, c.n_critic, c.b1, c.b2, c.g_lr) == ("hinge", 5, 0.0, 0.999, 2e-4)


def test_models_registry_has_the_resnet_families():
    assert MODELS["resnet"] is resnet.sngan_model_pair
    assert MODELS["biggan"] is resnet.biggan_model_pair


# --- data-parallel step ------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _biggan_run(mode: str):
    """State after one step (n_critic 2) of a tiny conditional BigGAN (conditional BN from the
    shared embedding and hierarchical z, spectral norm in D, synchronised BatchNorm) with
    shared noise (test_parallel) and SGD."""
    from test_parallel import NUM_DEVICES, SharedNoiseGAN, _as_numpy, _train

    c = _config("biggan", n_critic=2, loss="relativistic", ema_decay=0.9, sync_batch_norm=True,
                g_attention_resolution=0, d_attention_resolution=0, g_spectral_norm=False)
    gan = build_gan(c, (16, 16, 1), num_classes=K, axis_name=parallel.step_axis_name(mode))
    b = 16
    fields = {f.name: getattr(gan, f.name) for f in dataclasses.fields(GAN)}
    # SGD: the update is linear in the gradient. Adam's first step, ±lr·sign(g), would turn the
    # round-off gradient of biases that a BatchNorm cancels (0 in exact arithmetic) into ±lr.
    fields.update(g_optimizer=optax.sgd(0.1), d_optimizer=optax.sgd(0.1))
    gan = SharedNoiseGAN(**fields, global_batch=b)
    compiled = parallel.compile_train_step(gan, mode, jax.devices()[:NUM_DEVICES])
    rng = np.random.RandomState(0)
    batch = {"x": rng.uniform(-1, 1, (2 * b, 16, 16, 1)).astype(np.float32),
             "label": rng.randint(0, K, 2 * b)}
    state = create_train_state(gan, jax.random.key(0))
    initial = _as_numpy(state.generator.params)
    new_state, metrics = _train(compiled, state, [batch], jax.random.key(1))
    return _as_numpy(new_state), _as_numpy(metrics), initial


# ~30 CPU-s; data parallel = one device is checked fast by test_parallel (DCGAN, BatchNorm)
@pytest.mark.slow
def test_data_parallel_step_equals_one_device_step_with_conditional_batch_norm():
    """8 devices × 2 rows with synchronised (conditional) BatchNorm vs one device on all 16 rows:
    every leaf of the new state (params, BN statistics, spectral-norm vectors, EMA) and every
    metric agree to float32 summation order (rtol 1e-4, atol 1e-6)."""
    state, metrics, initial = _biggan_run("shard_map")
    ref_state, ref_metrics, _ = _biggan_run("jit")
    chex.assert_trees_all_close(state, ref_state, rtol=1e-4, atol=1e-6)
    chex.assert_trees_all_close(metrics, ref_metrics, rtol=1e-4, atol=1e-6)
    moved = jax.tree.map(lambda a, b: np.abs(a - b).max(), state.generator.params, initial)
    assert max(jax.tree.leaves(moved)) > 1e-4  # the step did change G
