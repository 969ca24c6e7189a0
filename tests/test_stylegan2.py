"""StyleGAN2 and ADA against independent computations (issue 17): modulated convolution,
demodulation, equalised learning rate, the FIR resampling, R1 and path length, lazy Adam, style
mixing, truncation, ADA's transforms and its p controller, p through a checkpoint."""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxgan.config import base_config, build_gan
from jaxgan.core import ada
from jaxgan.core import stylegan_step as sgs
from jaxgan.core.state import create_train_state
from jaxgan.core.step import jit_train_step
from jaxgan.models import stylegan2 as sg


def _conv(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _explicit_modconv(x, weight, styles, demodulate):
    """Per sample b: w'_b = weight·s_b over I, / √(Σ w'_b² + 1e-8) per output; conv x_b."""
    outs = []
    for b in range(x.shape[0]):
        wb = weight * styles[b][None, None, :, None]
        if demodulate:
            wb = wb / jnp.sqrt(jnp.sum(wb ** 2, axis=(0, 1, 2), keepdims=True) + 1e-8)
        outs.append(_conv(x[b:b + 1], wb)[0])
    return jnp.stack(outs)


@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_equals_per_sample_conv_forward_and_gradients(demodulate):
    kx, kw, ks, ky = jax.random.split(jax.random.key(0), 4)
    x = jax.random.normal(kx, (3, 5, 5, 4))
    w = jax.random.normal(kw, (3, 3, 4, 6))
    s = jax.random.normal(ks, (3, 4)) + 1.0
    y = jax.random.normal(ky, (3, 5, 5, 6))
    def both(fn):
        loss = lambda x, w, s: jnp.sum(fn(x, w, s, demodulate) * y)  # noqa: E731
        return jax.jit(lambda x, w, s: (fn(x, w, s, demodulate),
                                        jax.grad(loss, (0, 1, 2))(x, w, s)))
    (out, grads), (ref_out, ref_grads) = (both(sg.modulated_conv2d)(x, w, s),
                                          both(_explicit_modconv)(x, w, s))
    np.testing.assert_allclose(out, ref_out, rtol=1e-4, atol=1e-5)
    for a, b in zip(grads, ref_grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_demodulation_gives_unit_variance_for_unit_variance_inputs():
    kx, kw, ks = jax.random.split(jax.random.key(1), 3)
    x = jax.random.normal(kx, (8, 24, 24, 32))
    w = jax.random.normal(kw, (3, 3, 32, 16)) * 5.0       # any scale: demodulation removes it
    s = jnp.exp(jax.random.normal(ks, (8, 32)))
    # interior pixels: all 9 taps inside the image; variance per sample and output channel
    variances = jax.jit(lambda demod: jnp.var(
        sg.modulated_conv2d(x, w, s, demod)[:, 1:-1, 1:-1], axis=(1, 2)), static_argnums=0)
    var = variances(True)
    assert abs(float(jnp.mean(var)) - 1.0) < 0.03
    assert float(jnp.max(jnp.abs(var - 1.0))) < 0.2
    assert float(jnp.mean(variances(False))) > 10.0  # not unit without it


def test_equalised_lr_scales_at_run_time_while_params_stay_standard_normal():
    x = jax.random.normal(jax.random.key(2), (4, 6, 6, 16))
    conv = sg.EqualConv(64, 3, activation="linear")
    params = jax.jit(conv.init)(jax.random.key(3), x)["params"]
    kernel = params["kernel"]
    assert kernel.shape == (3, 3, 16, 64)
    assert abs(float(jnp.std(kernel)) - 1.0) < 0.05 and abs(float(jnp.mean(kernel))) < 0.05
    params = {"kernel": kernel, "bias": jnp.arange(64.0)}
    np.testing.assert_allclose(conv.apply({"params": params}, x),
                               _conv(x, kernel / math.sqrt(16 * 9)) + jnp.arange(64.0),
                               rtol=1e-5, atol=1e-5)
    # gradient w.r.t. the stored parameter = gain × gradient w.r.t. the effective weight
    loss = lambda k: jnp.sum(conv.apply({"params": {**params, "kernel": k}}, x) ** 2)  # noqa
    eff = lambda v: jnp.sum((_conv(x, v) + jnp.arange(64.0)) ** 2)  # noqa: E731
    np.testing.assert_allclose(jax.grad(loss)(kernel),
                               jax.grad(eff)(kernel / 12.0) / 12.0, rtol=1e-4, atol=1e-4)
    # mapping layers: lr multiplier 0.01, stored N(0, 1)/0.01, used × 0.01/√fan_in, bias × 0.01
    dense = sg.EqualDense(256, lr_multiplier=0.01)
    z = jax.random.normal(jax.random.key(4), (5, 128))
    p = jax.jit(dense.init)(jax.random.key(5), z)["params"]
    assert abs(float(jnp.std(p["kernel"])) - 100.0) < 3.0
    p = {"kernel": p["kernel"], "bias": jnp.full((256,), 3.0)}
    np.testing.assert_allclose(dense.apply({"params": p}, z),
                               z @ (p["kernel"] * 0.01 / math.sqrt(128)) + 0.03,
                               rtol=1e-4, atol=1e-4)


def _upfirdn_numpy(x, up, down, pad, gain):
    f = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64.0 * gain
    u = np.zeros((x.shape[0] * up, x.shape[1] * up))
    u[::up, ::up] = x
    u = np.pad(u, (pad, pad))
    n = u.shape[0] - 3
    return np.array([[np.sum(u[i:i + 4, j:j + 4] * f) for j in range(n)]
                     for i in range(n)])[::down, ::down]


def test_fir_resampling_matches_upfirdn2d():
    x = np.random.RandomState(0).randn(2, 8, 8, 3).astype(np.float32)
    up, down = np.asarray(sg.upsample2d(jnp.asarray(x))), np.asarray(sg.downsample2d(x))
    np.testing.assert_allclose(up[1, :, :, 2], _upfirdn_numpy(x[1, :, :, 2], 2, 1, (2, 1), 4),
                               atol=1e-5)
    np.testing.assert_allclose(down[0, :, :, 1], _upfirdn_numpy(x[0, :, :, 1], 1, 2, (1, 1), 1),
                               atol=1e-5)


def test_minibatch_std_matches_the_reference_grouping():
    x = np.random.RandomState(1).randn(8, 4, 4, 6).astype(np.float32)
    out = np.asarray(sg.minibatch_std(jnp.asarray(x), 4))
    for i in range(8):  # group of example i: i, i ± 2, ... (i mod n/G with n/G = 2)
        group = x[i % 2::2]
        expected = np.mean(np.sqrt(np.var(group, axis=0) + 1e-8))
        np.testing.assert_allclose(out[i, :, :, 6], expected, rtol=1e-5)
    np.testing.assert_array_equal(out[..., :6], x)


def test_r1_term_equals_its_formula_for_a_linear_critic():
    a = jax.random.normal(jax.random.key(6), (4, 4, 2))
    x = jax.random.normal(jax.random.key(7), (5, 4, 4, 2))
    d_fn = lambda x: jnp.sum(x * a, axis=(1, 2, 3)) + jnp.sum(x ** 2, axis=(1, 2, 3))  # noqa
    penalty, _ = sgs.r1_term(d_fn, x, gamma=0.3)
    grads = a + 2 * x                                       # ∇_x D per example
    expected = 0.15 * np.mean(np.sum(np.asarray(grads) ** 2, axis=(1, 2, 3)))
    np.testing.assert_allclose(penalty, expected, rtol=1e-5)


def test_path_length_has_the_closed_form_of_a_linear_synthesis():
    b, layers, w_dim, h = 3, 4, 5, 4
    ka, kw, ky = jax.random.split(jax.random.key(8), 3)
    a = jax.random.normal(ka, (layers, w_dim, h * h * 2))   # img = Σ_l w_l A_l
    synth = lambda ws: jnp.einsum("blw,lwp->bp", ws, a).reshape(-1, h, h, 2)  # noqa: E731
    ws = jax.random.normal(kw, (b, layers, w_dim))
    lengths = sgs.path_lengths(synth, ws, ky)
    y = np.asarray(jax.random.normal(ky, (b, h, h, 2)) / h).reshape(b, -1)  # N(0, I)/√(HW)
    jy = np.einsum("lwp,bp->blw", np.asarray(a), y)          # Jᵀy per layer
    expected = np.sqrt(np.mean(np.sum(jy ** 2, axis=2), axis=1))
    np.testing.assert_allclose(lengths, expected, rtol=1e-5)
    penalty, new_mean = sgs.path_length_term(lengths, jnp.float32(0.7), 0.01, 2.0)
    mean = 0.7 + 0.01 * (expected.mean() - 0.7)
    np.testing.assert_allclose(new_mean, mean, rtol=1e-6)
    np.testing.assert_allclose(penalty, 2.0 * np.mean((expected - mean) ** 2), rtol=1e-5)


def test_lazy_adam_scales_lr_and_betas():
    params = {"w": jnp.array([1.0, -2.0, 3.0])}
    grads = [{"w": jnp.array([0.3, -1.0, 2.0]) * (i + 1)} for i in range(3)]
    c = 16 / 17
    ours, ref = sgs.lazy_adam(0.0025, 0.0, 0.99, 16), optax.adam(0.0025 * c, 0.0, 0.99 ** c)
    so, sr = ours.init(params), ref.init(params)
    for g in grads:
        uo, so = ours.update(g, so, params)
        ur, sr = ref.update(g, sr, params)
        np.testing.assert_allclose(uo["w"], ur["w"], rtol=1e-6)
    plain = optax.adam(0.0025, 0.0, 0.99)
    up, _ = plain.update(grads[0], plain.init(params), params)
    assert not np.allclose(up["w"], sgs.lazy_adam(0.0025, 0.0, 0.99, 16).update(
        grads[0], ours.init(params), params)[0]["w"])


def test_style_mixing_switches_w_at_the_crossover():
    ws = jnp.zeros((2, 6, 3))
    ws2 = jnp.ones((2, 6, 3))
    cutoffs = set()
    for i in range(20):
        mixed = np.asarray(sgs.mix_styles(ws, ws2, jax.random.key(i), 1.0))
        from_second = mixed[0, :, 0] == 1.0
        cut = int(np.argmax(from_second))
        assert 1 <= cut <= 5 and not from_second[:cut].any() and from_second[cut:].all()
        np.testing.assert_array_equal(mixed[0], mixed[1])  # one cutoff for the batch
        cutoffs.add(cut)
    assert len(cutoffs) >= 3
    np.testing.assert_array_equal(sgs.mix_styles(ws, ws2, jax.random.key(0), 0.0), ws)


def _tiny_config(**overrides) -> ml_collections.ConfigDict:
    c = base_config()
    c.update(model="stylegan2", training="stylegan2", latent_dim=8, w_dim=8, mapping_layers=2,
             channel_base=32, channel_max=8, batch_size=8, g_lr=0.0025, d_lr=0.0025, b1=0.0,
             b2=0.99, penalty="none", loss="non_saturating", style_mixing_prob=0.0,
             pl_weight=0.0, r1_gamma=1.0, ema_kimg=1.0, ada_target=0.6, ada_interval=1,
             ada_kimg=0.08, ada_pipeline="bgc")
    c.update(**overrides)
    return c


def test_truncation_psi_zero_gives_the_w_avg_image_for_every_z():
    g = sg.StyleGAN2Generator(resolution=8, channels=3, w_dim=8, mapping_layers=2,
                              channel_base=32, channel_max=4)
    z = jax.random.normal(jax.random.key(11), (4, 8))
    variables = jax.jit(g.init)(jax.random.key(9), z)
    w_avg = jax.random.normal(jax.random.key(10), (8,))
    variables = {"params": variables["params"], "batch_stats": {
        **variables["batch_stats"], "mapping": {"w_avg": w_avg}}}
    truncated = sg.generator_with_truncation(g, 0.0)
    images = jax.jit(lambda v, z: truncated.apply(v, z, None, False))(variables, z)
    target = jax.jit(lambda v, ws: g.apply(v, ws, method="synthesize"))(
        variables, jnp.broadcast_to(w_avg, (1, sg.num_ws(8), 8)))
    np.testing.assert_allclose(images, jnp.broadcast_to(target, images.shape), atol=1e-5)
    free = jax.jit(lambda v, z: g.apply(v, z, None, False))(variables, z)
    assert float(jnp.std(free, axis=0).mean()) > 1e-3        # ψ = 1: the images differ


def test_ada_transforms_are_identity_at_p0_invertible_and_differentiable():
    x = jax.random.uniform(jax.random.key(12), (4, 8, 8, 3), minval=-1, maxval=1)
    pipe = jax.jit(ada.PIPELINES["bgc"])  # one compilation serves every p and key below
    np.testing.assert_allclose(pipe(x, jax.random.key(0), 0.0), x, atol=1e-6)
    # flips, 90° rotations (and integer translations) permute pixels: G⁻¹ undoes them exactly
    blit = ada.AdaPipeline(xflip=1, rotate90=1)
    m = ada.geometric_matrix(blit, jax.random.key(1), x.shape, 1.0)
    moved = ada.apply_geometric(x, m)
    assert float(jnp.abs(moved - x).max()) > 0.1
    np.testing.assert_allclose(ada.apply_geometric(moved, jnp.linalg.inv(m)), x, atol=1e-5)
    shift = ada.AdaPipeline(xint=1, xint_max=0.25)
    m = ada.geometric_matrix(shift, jax.random.key(2), x.shape, 1.0)
    back = ada.apply_geometric(ada.apply_geometric(x, m), jnp.linalg.inv(m))
    t = np.abs(np.asarray(m[:, :2, 2])).max().astype(int)
    np.testing.assert_allclose(back[:, t:8 - t, t:8 - t], x[:, t:8 - t, t:8 - t], atol=1e-5)
    # the colour matrix is invertible: C⁻¹ undoes brightness, contrast, luma flip, hue, saturation
    c = ada.color_matrix(ada.PIPELINES["color"], jax.random.key(3), x.shape, 1.0)
    np.testing.assert_allclose(ada.apply_color(ada.apply_color(x, c), jnp.linalg.inv(c)), x,
                               atol=1e-4)
    # differentiable in the image: T is affine in x for a fixed key, T(x) = L x + T(0), and the
    # gradient of ⟨T(x), u⟩ is Lᵀu: ⟨∇, v⟩ = ⟨T(v) − T(0), u⟩ for any v
    u, v = jax.random.normal(jax.random.key(5), (2,) + x.shape)
    t = lambda im: pipe(im, jax.random.key(4), 0.8)  # noqa: E731
    grad = jax.grad(lambda im: jnp.sum(t(im) * u))(x)
    np.testing.assert_allclose(jnp.sum(grad * v), jnp.sum((t(v) - t(jnp.zeros_like(x))) * u),
                               rtol=1e-4)
    assert float(jnp.abs(t(x) - x).max()) > 0.1


def test_p_controller_formula():
    up = ada.adjust_p(jnp.float32(0.2), jnp.float32(0.9), 0.6, 64, 4, 500)
    np.testing.assert_allclose(up, 0.2 + 64 * 4 / 500_000, rtol=1e-6)
    np.testing.assert_allclose(ada.adjust_p(jnp.float32(0.2), jnp.float32(0.1), 0.6, 64, 4, 500),
                               0.2 - 64 * 4 / 500_000, rtol=1e-6)
    assert float(ada.adjust_p(jnp.float32(0.0), jnp.float32(-1.0), 0.6, 64, 4, 500)) == 0.0


@pytest.fixture(scope="module")
def tiny():
    """A 4×4 StyleGAN2 with ADA (p moves 0.1 per step) and its compiled step; the colour
    pipeline and no R1 keep the compilation cheap (the controller does not depend on them)."""
    gan = build_gan(_tiny_config(ada_p_init=0.5, ada_pipeline="color", r1_gamma=0.0),
                    (4, 4, 1))
    return gan, jit_train_step(gan)


_INITS = {}


def _init(gan, seed):
    """create_train_state(gan, key(seed)), compiled once per GAN."""
    if id(gan) not in _INITS:
        _INITS[id(gan)] = jax.jit(functools.partial(create_train_state, gan))
    return _INITS[id(gan)](jax.random.key(seed))


def _with_d_bias(state, bias):
    d = state.discriminator
    params = jax.tree.map(lambda a: a, d.params)
    params["b4_out"]["bias"] = jnp.full_like(params["b4_out"]["bias"], bias)
    return state.replace(discriminator=d.replace(params=params))


@pytest.mark.parametrize("bias, direction", [(100.0, 1), (-100.0, -1)])
def test_p_moves_up_when_d_overfits_and_down_when_not(tiny, bias, direction):
    gan, step = tiny
    state = _with_d_bias(_init(gan, 13), bias)
    batch = {"x": jax.random.uniform(jax.random.key(14), (8, 4, 4, 1), minval=-1, maxval=1)}
    ps = []
    for i in range(3):
        state, metrics = step(state, batch, jax.random.key(i))
        ps.append(float(metrics["ada_p"]))
        assert float(metrics["r_t"]) == direction          # sign(D(real)) the bias dictates
    np.testing.assert_allclose(ps, [0.5 + direction * 0.1 * (i + 1) for i in range(3)],
                               rtol=1e-5)
    assert bool(metrics["finite"])


def test_p_and_pl_mean_are_restored_on_resume(tiny, tmp_path):
    from jaxgan.training.checkpoint import Checkpointer
    from jaxgan.training.run import abstract_state
    gan, step = tiny
    state = _with_d_bias(_init(gan, 15), 100.0)
    batch = {"x": jnp.zeros((8, 4, 4, 1))}
    state, _ = step(state, batch, jax.random.key(0))
    state = state.replace(extras={**state.extras, "pl_mean": jnp.float32(0.25)})
    config = {"model": "stylegan2"}
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, state, {"position": 0}, config, wait=True)
    restored = Checkpointer(tmp_path).restore(abstract_state(gan, jax.random.key(15)),
                                              config=config).state
    assert float(restored.extras["ada_p"]) == pytest.approx(0.6)
    assert float(restored.extras["pl_mean"]) == 0.25
    # every leaf bit-identical (p, pl_mean, the sign sums, w_avg, params, Adam states): the step is
    # a pure function of (state, batch, key), so the resumed run continues exactly
    saved, back = jax.tree_util.tree_leaves(state), jax.tree_util.tree_leaves(restored)
    assert len(saved) == len(back)
    for a, b in zip(saved, back):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_stylegan2_and_ada_keys_are_range_checked_with_one_line():
    from jaxgan.training.run_config import ConfigError, load_experiment, validate_config
    good = load_experiment("experiments/stylegan2_cifar10.py")
    validate_config(good)
    bad = {"ada_target": 1.0, "ada_p_init": -0.1, "style_mixing_prob": 1.5, "r1_interval": -1,
           "pl_interval": -4, "ada_interval": 0, "ada_kimg": 0.0, "pl_decay": 2.0,
           "pl_batch_shrink": 0, "r1_gamma": -1.0, "mbstd_group_size": 0, "w_dim": 0,
           "ada_pipeline": "bgcx", "training": "stylegan3", "d_architecture": "skip"}
    for key, value in bad.items():
        config = good.copy_and_resolve_references()
        config[key] = value
        with pytest.raises(ConfigError) as info:
            validate_config(config)
        message = str(info.value)
        assert "\n" not in message and f"config.{key}" in message, message
    for value in (0.0, 0.6):  # 0 switches ADA off
        config = good.copy_and_resolve_references()
        config.ada_target = value
        validate_config(config)
