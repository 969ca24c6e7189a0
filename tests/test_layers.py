"""The fast forms of the DCGAN 4x4 stride-2 layers equal XLA's convolutions, values and gradients.

Reference: `lax.conv_transpose(x, k, (2, 2), ((2, 2), (2, 2)))` for the up-sampling layer and
`lax.conv_general_dilated(x, k, (2, 2), ((1, 1), (1, 1)))` for the down-sampling one, with random
inputs, on every layer shape of the DCGAN-16/32/64 models (1 and 3 image channels).
"""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import models
from jaxgan.models import layers

TOL = 1e-5  # on max |fast − reference| / max(1, max |reference|)


def _dcgan_layer_shapes():
    """(input size, C, F) of every stride-2 layer of DCGAN-16/32/64 with 1 or 3 image channels."""
    up, down = set(), set()
    for resolution in (16, 32, 64):
        n = int(np.log2(resolution // 4))
        for channels in (1, 3):
            g = [64 * 2 ** (n - 1 - i) for i in range(n)] + [channels]
            up |= {(4 * 2 ** i, g[i], g[i + 1]) for i in range(n)}
            d = [channels] + [64 * 2 ** i for i in range(n)]
            down |= {(resolution // 2 ** i, d[i], d[i + 1]) for i in range(n)}
    return sorted(up), sorted(down)


UP_SHAPES, DOWN_SHAPES = _dcgan_layer_shapes()
_DN = ("NHWC", "HWIO", "NHWC")


def _lax_conv_transpose(x, k):
    return jax.lax.conv_transpose(x, k, (2, 2), ((2, 2), (2, 2)), dimension_numbers=_DN)


def _lax_conv(x, k):
    return jax.lax.conv_general_dilated(x, k, (2, 2), ((1, 1), (1, 1)), dimension_numbers=_DN)


# Plain lax, with JAX's own transpose rules: the 'xla' forms themselves route through
# jaxgan.models.canonical_conv on CPU (canonical-layout gradients), so they are checked too.
REFERENCE = {"ConvTranspose4x4S2": (layers.CONV_TRANSPOSE_4X4_S2, _lax_conv_transpose),
             "Conv4x4S2": (layers.CONV_4X4_S2, _lax_conv)}


def _rel_err(a, b) -> float:
    return float(jnp.max(jnp.abs(a - b)) / jnp.maximum(1.0, jnp.max(jnp.abs(b))))


def _inputs(size: int, c: int, f: int, batch: int = 2, width: int | None = None):
    kx, kk = jax.random.split(jax.random.key(size * 1000 + c * 10 + f))
    x = jax.random.normal(kx, (batch, size, width or size, c))
    kernel = jax.random.normal(kk, (4, 4, c, f)) / np.sqrt(4 * c)  # outputs of order one
    return x, kernel


def _value_and_grads(fn, x, kernel, g):
    y, vjp = jax.vjp(fn, x, kernel)
    return (y,) + vjp(g)


_run = jax.jit(_value_and_grads, static_argnums=0)  # arrays as arguments: no constant folding


def _check_impls(layer: str, impls, x: jax.Array, kernel: jax.Array) -> None:
    registry, reference = REFERENCE[layer]
    g = jax.random.normal(jax.random.key(7), jax.eval_shape(reference, x, kernel).shape)
    want = _run(reference, x, kernel, g)
    for impl in sorted(impls):
        got = _run(registry[impl], x, kernel, g)
        for name, a, b in zip(("value", "d/dx", "d/dkernel"), got, want):
            assert a.shape == b.shape, (layer, impl, name)
            assert _rel_err(a, b) < TOL, (layer, impl, name, x.shape, kernel.shape, _rel_err(a, b))


def _cpu_auto(layer: str, x: jax.Array, kernel: jax.Array) -> str:
    return layers.AUTO_IMPL[layer]["cpu"](x.shape, kernel.shape)


@pytest.mark.parametrize("size,c,f", UP_SHAPES)
def test_fast_conv_transpose_equals_lax_conv_transpose_on_model_shapes(size, c, f):
    """What 'auto' runs on CPU for each DCGAN layer ('winograd' or 'hybrid')."""
    x, k = _inputs(size, c, f)
    _check_impls("ConvTranspose4x4S2", [_cpu_auto("ConvTranspose4x4S2", x, k)], x, k)


@pytest.mark.parametrize("size,c,f", DOWN_SHAPES)
def test_fast_conv_equals_lax_conv_on_model_shapes(size, c, f):
    """What 'auto' runs on CPU for each DCGAN layer ('winograd' or 'xla')."""
    x, k = _inputs(size, c, f)
    _check_impls("Conv4x4S2", [_cpu_auto("Conv4x4S2", x, k)], x, k)


@pytest.mark.parametrize("layer,size,width,c,f", [
    # the two marked slow repeat a property the other shapes check (odd sizes, wide channels)
    pytest.param("ConvTranspose4x4S2", 4, 4, 32, 16, marks=pytest.mark.slow),
    ("ConvTranspose4x4S2", 8, 6, 16, 3), ("ConvTranspose4x4S2", 5, 7, 3, 2),
    ("Conv4x4S2", 16, 16, 3, 16), ("Conv4x4S2", 8, 12, 16, 8),
    pytest.param("Conv4x4S2", 6, 10, 2, 3, marks=pytest.mark.slow)])
def test_every_impl_equals_xla(layer, size, width, c, f):
    """All forms, also on odd and non-square sizes (Winograd only where its tiles fit)."""
    x, k = _inputs(size, c, f, width=width)
    tile = layers._WINOGRAD_TILES[layer]
    fits = size % tile == 0 and width % tile == 0
    _check_impls(layer, [i for i in REFERENCE[layer][0] if i != "winograd" or fits], x, k)


def test_patches_and_fold_are_adjoint():
    x = jax.random.normal(jax.random.key(0), (2, 6, 8, 3))
    p = jax.random.normal(jax.random.key(1), (2, 3, 4, 48))
    np.testing.assert_allclose(jnp.vdot(layers.patches_4x4_s2(x), p),
                               jnp.vdot(x, layers.fold_4x4_s2(p)), rtol=1e-5)
    # the patches are the 4x4 stride-2 windows of the zero-padded input, in (a, b, r, s) order
    xp = np.pad(np.asarray(x), ((0, 0), (1, 1), (1, 1), (0, 0)))
    patches = np.asarray(layers.patches_4x4_s2(x)).reshape(2, 3, 4, 2, 2, 2, 2, 3)
    for ky in range(4):
        for kx in range(4):
            np.testing.assert_array_equal(patches[:, :, :, ky // 2, kx // 2, ky % 2, kx % 2],
                                          xp[:, ky:ky + 6:2, kx:kx + 8:2])


def test_winograd_transforms_are_adjoint_pairs():
    s = jax.random.normal(jax.random.key(0), (2, 5, 7, 3))
    v = jax.random.normal(jax.random.key(1), (9, 2, 2, 3, 3))
    y = jax.random.normal(jax.random.key(2), (2, 4, 6, 3))
    np.testing.assert_allclose(jnp.vdot(layers._winograd_input(s), v),
                               jnp.vdot(s, layers._winograd_input_adjoint(v)), rtol=1e-5)
    np.testing.assert_allclose(jnp.vdot(layers._winograd_output(v), y),
                               jnp.vdot(v, layers._winograd_output_adjoint(y)), rtol=1e-5)
    # reverse mode uses the explicit adjoint, equal to plain autodiff of the forward transform
    ct = jax.vjp(layers._winograd_input, s)[1](v)[0]
    np.testing.assert_allclose(ct, jax.vjp(layers._input_transform, s)[1](v)[0], atol=1e-5)


@pytest.mark.parametrize("layer", sorted(REFERENCE))
def test_second_order_gradients_match_xla(layer):
    """Gradient penalties differentiate ∇ₓD again w.r.t. the kernel (WGAN-GP, R1)."""
    registry, reference = REFERENCE[layer]
    x, k = _inputs(8, 4, 16) if layer == "Conv4x4S2" else _inputs(4, 16, 4)

    @jax.jit
    def penalty_grads(x, k):
        def penalty(fn, k):
            grad_x = jax.grad(lambda x: jnp.sum(jnp.tanh(fn(x, k))))(x)
            return jnp.sum(grad_x ** 2)
        return {impl: jax.grad(lambda k: penalty(fn, k))(k)
                for impl, fn in [("reference", reference), *registry.items()]}
    grads = penalty_grads(x, k)
    for impl in registry:
        assert _rel_err(grads[impl], grads["reference"]) < TOL, impl


def test_modules_share_parameters_with_flax_convs():
    """Same param tree as nn.ConvTranspose / nn.Conv; a kernel from one impl runs in any other."""
    x = jax.random.normal(jax.random.key(0), (2, 4, 4, 16))
    reference = nn.ConvTranspose(16, (4, 4), strides=(2, 2), padding=((2, 2), (2, 2)),
                                 use_bias=False)
    variables = jax.jit(reference.init)(jax.random.key(1), x)
    want = jax.jit(reference.apply)(variables, x)
    for impl in layers.CONV_TRANSPOSE_4X4_S2:
        up = layers.ConvTranspose4x4S2(16, impl=impl)
        assert jax.tree.map(jnp.shape, jax.eval_shape(up.init, jax.random.key(1), x)) == \
            jax.tree.map(jnp.shape, variables)
        assert _rel_err(jax.jit(up.apply)(variables, x), want) < TOL, impl

    x = jax.random.normal(jax.random.key(2), (2, 8, 8, 16))
    conv = nn.Conv(16, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)))
    variables = jax.tree.map(lambda a: a + 0.1, jax.jit(conv.init)(jax.random.key(3), x))
    want = jax.jit(conv.apply)(variables, x)  # with a non-zero bias
    for impl in layers.CONV_4X4_S2:
        down = layers.Conv4x4S2(16, use_bias=True, impl=impl)
        assert jax.tree.map(jnp.shape, jax.eval_shape(down.init, jax.random.key(3), x)) == \
            jax.tree.map(jnp.shape, variables)
        assert _rel_err(jax.jit(down.apply)(variables, x), want) < TOL, impl


@pytest.mark.slow  # excluded from the default run (pytest -m slow); test_every_impl_equals_xla checks each layer form
def test_dcgan_outputs_and_params_do_not_depend_on_conv_impl():
    z = jax.random.normal(jax.random.key(0), (2, 16))
    results = {}
    for impl in ("xla", "auto"):  # 'auto': Winograd and the hybrid forms on CPU
        g = models.DCGANGenerator(resolution=16, channels=1, features=16, conv_impl=impl)
        d = models.DCGANDiscriminator(resolution=16, features=16, conv_impl=impl)

        @jax.jit
        def run(z, g=g, d=d):
            g_vars = g.init(jax.random.key(1), z)
            x = g.apply(g_vars, z, train=False)
            d_vars = d.init(jax.random.key(2), x)
            return g_vars, d_vars, x, d.apply(d_vars, x, train=False)
        results[impl] = run(z)
    want = results["xla"]
    for impl, got in results.items():
        assert jax.tree.structure(got) == jax.tree.structure(want)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
            assert _rel_err(a, b) < TOL, impl  # same init (same names) and same outputs


def test_bad_impl_and_shapes_raise_clear_errors():
    x = jnp.zeros((1, 6, 6, 2))
    with pytest.raises(ValueError, match="valid choices"):
        layers.ConvTranspose4x4S2(3, impl="fft").init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="divisible by 2"):
        layers.ConvTranspose4x4S2(3, impl="winograd").init(jax.random.key(0), x[:, :5])
    with pytest.raises(ValueError, match="divisible by 4"):
        layers.Conv4x4S2(3, impl="winograd").init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="even H and W"):
        layers.Conv4x4S2(3).init(jax.random.key(0), x[:, :5])
