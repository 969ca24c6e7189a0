"""Mixed precision (jaxgan.core.precision, config.compute_dtype): bfloat16 nets, float32 state."""
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.config import base_config, build_gan, presets
from jaxgan.core import precision
from jaxgan.core.registry import UnknownNameError
from jaxgan.core.state import create_train_state
from jaxgan.core.step import train_step


def _bf16(a):
    return np.asarray(jnp.asarray(a, jnp.bfloat16).astype(jnp.float32), np.float64)


def test_apply_computes_in_bfloat16_on_rounded_params_and_returns_float32():
    dense = nn.Dense(8)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 16))
    variables = dense.init(jax.random.PRNGKey(1), x)
    low = precision.apply(dense, variables, x, dtype=jnp.bfloat16)
    full = precision.apply(dense, variables, x, dtype=jnp.float32)
    assert low.dtype == jnp.float32 and full.dtype == jnp.float32
    w, b = variables["params"]["kernel"], variables["params"]["bias"]
    # The closed form on bfloat16-rounded operands (float64 accumulation), to bfloat16's precision.
    expected = _bf16(x) @ _bf16(w) + _bf16(b)
    np.testing.assert_allclose(np.asarray(low), expected, rtol=2**-7, atol=2**-7)
    np.testing.assert_allclose(np.asarray(full), np.asarray(x) @ np.asarray(w) + np.asarray(b),
                               rtol=1e-5, atol=1e-5)
    assert np.max(np.abs(np.asarray(low) - np.asarray(full))) > 1e-4, "bfloat16 must differ"


def test_mutable_collections_come_back_float32():
    bn = nn.BatchNorm(use_running_average=False)
    x = 3.0 + jax.random.normal(jax.random.PRNGKey(0), (32, 4))
    variables = bn.init(jax.random.PRNGKey(1), x)
    _, mutated = precision.apply(bn, variables, x, dtype=jnp.bfloat16, mutable=["batch_stats"])
    stats = mutated["batch_stats"]
    assert {leaf.dtype for leaf in jax.tree.leaves(stats)} == {jnp.dtype(jnp.float32)}
    # flax reduces the moments in float32: the running mean moves by 0.01 x the batch mean of the
    # bfloat16 input, i.e. agrees with float32 to bfloat16's input rounding (|x| ~ 3: 2^-6).
    np.testing.assert_allclose(np.asarray(stats["mean"]), 0.01 * np.asarray(x).mean(0), atol=1e-3)


def _digits_gan(dtype: str, **overrides):
    config = presets.digits_default()
    config.compute_dtype = dtype
    config.update(overrides)
    return build_gan(config, (16, 16, 1), num_classes=10)


def _batch():
    x = jax.random.uniform(jax.random.PRNGKey(1), (64, 16, 16, 1), minval=-1.0, maxval=1.0)
    return {"x": x, "label": jnp.arange(64, dtype=jnp.int32) % 10}


@pytest.fixture(scope="module")
def one_step():
    """{dtype: (state before, state after, metrics)} of one digits-default step from one state,
    batch and key, computed once for the tests below."""
    results = {}
    for dtype in ("float32", "bfloat16"):
        gan = _digits_gan(dtype)
        state = create_train_state(gan, jax.random.PRNGKey(0))
        new, metrics = jax.jit(lambda s, b, k: train_step(gan, s, b, k))(
            state, _batch(), jax.random.PRNGKey(2))
        results[dtype] = (state, new, metrics)
    return results


def test_one_bfloat16_step_stays_close_to_the_float32_step(one_step):
    """Stated tolerance: losses and gradient norms within 1% of float32's, and each network's
    parameter update (new − old) with cosine similarity ≥ 0.9 to float32's. Adam's first update
    is ≈ lr·sign(g), so gradient components near 0 whose sign bfloat16 flips count fully; measured
    0.93 (G) here."""
    (old, f32, m32), (_, bf16, m16) = one_step["float32"], one_step["bfloat16"]
    for name in ("d_loss", "g_loss", "d_grad_norm", "g_grad_norm"):
        np.testing.assert_allclose(float(m16[name]), float(m32[name]), rtol=1e-2, err_msg=name)
    for net in ("generator", "discriminator"):
        flat = lambda s: np.concatenate([np.ravel(a) for a in jax.tree.leaves(
            getattr(s, net).params)]).astype(np.float64)
        d32, d16 = flat(f32) - flat(old), flat(bf16) - flat(old)
        cosine = d32 @ d16 / (np.linalg.norm(d32) * np.linalg.norm(d16))
        assert cosine >= 0.9, (net, cosine)
    state_dtypes = {leaf.dtype for leaf in jax.tree.leaves(bf16) if jnp.issubdtype(leaf.dtype,
                                                                                 jnp.floating)}
    assert state_dtypes == {jnp.dtype(jnp.float32)}, "params, opt state, EMA, stats stay float32"
    assert {m.dtype for m in jax.tree.leaves(m16) if jnp.issubdtype(m.dtype, jnp.floating)} \
        == {jnp.dtype(jnp.float32)}


def _conv_operand_dtypes(dtype: str) -> set[str]:
    """The result dtypes of every convolution and matmul in the step's jaxpr, nested ones too,
    read from its text, where each equation starts `out:bf16[64,16] = dot_general[`."""
    gan = _digits_gan(dtype)
    state = create_train_state(gan, jax.random.PRNGKey(0))
    text = str(jax.make_jaxpr(lambda s, b, k: train_step(gan, s, b, k))(
        state, _batch(), jax.random.PRNGKey(2)))
    found = re.findall(r":(bf16|f32)\[[^\]]*\] = (?:conv_general_dilated|dot_general)\[", text)
    assert found, "no convolution or matmul found in the step"
    return {{"bf16": "bfloat16", "f32": "float32"}[t] for t in found}


def test_bfloat16_convolutions_and_matmuls_really_run_in_bfloat16():
    assert "bfloat16" in _conv_operand_dtypes("bfloat16")
    assert _conv_operand_dtypes("float32") == {"float32"}


def test_gradient_penalty_input_gradient_is_float32_and_close():
    """WGAN-GP on a bfloat16 MLP critic: the penalty (a float32 input gradient) agrees with the
    float32 one to 2% on the same state and batch."""
    penalties = {}
    for dtype in ("float32", "bfloat16"):
        config = base_config()
        config.update(model="mlp", latent_dim=2, mlp_g_hidden=(32, 32), mlp_d_hidden=(32, 32),
                      mlp_d_activation="leaky_relu", mlp_g_batch_norm=False, loss="wasserstein",
                      penalty="wgan_gp", compute_dtype=dtype)
        gan = build_gan(config, (2,))
        state = create_train_state(gan, jax.random.PRNGKey(0))
        batch = {"x": jax.random.normal(jax.random.PRNGKey(1), (64, 2))}
        step = jax.jit(lambda s, b, k: train_step(gan, s, b, k))
        _, metrics = step(state, batch, jax.random.PRNGKey(3))
        assert metrics["penalty"].dtype == jnp.float32
        penalties[dtype] = float(metrics["penalty"])
    assert penalties["float32"] > 0
    np.testing.assert_allclose(penalties["bfloat16"], penalties["float32"], rtol=2e-2)


def test_unknown_compute_dtype_names_the_choices():
    config = base_config()
    config.compute_dtype = "float16"
    with pytest.raises(UnknownNameError, match="bfloat16, float32"):
        build_gan(config, (16, 16, 1))
