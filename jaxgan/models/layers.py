"""Layers shared by the models: the DCGAN 4x4 stride-2 convolutions, with fast CPU forms.

`ConvTranspose4x4S2` is the DCGAN up-sampling layer: a 4x4 transposed convolution with stride 2,
padding 1 (PyTorch `ConvTranspose2d(k=4, s=2, p=1)`), mapping [N, H, W, C] to [N, 2H, 2W, F].
`Conv4x4S2` is the DCGAN down-sampling layer: a 4x4 convolution with stride 2, padding 1 (PyTorch
`Conv2d(k=4, s=2, p=1)`), mapping [N, 2H, 2W, C] to [N, H, W, F]. Both store their kernel as flax's
`nn.ConvTranspose` / `nn.Conv` do: one parameter 'kernel' of shape (4, 4, C, F), HWIO.

Each layer computes one fixed function of (x, kernel) and can compute it in several equivalent ways
(`impl`), all differentiable with respect to the same (4, 4, C, F) kernel, so a checkpoint trained
with one impl loads and gives the same outputs with any other:

- 'xla': one `lax.conv_transpose` / `lax.conv_general_dilated`, through
  `canonical_conv.conv_general_dilated` (on CPU its gradients are canonical-layout
  convolutions, fast also inside the fused and critic `lax.scan` bodies; issue 21). All
  forms built on convolutions use it.
- 'subpixel' (transposed conv): the same kernel rearranged into a 2x2 stride-1 convolution to 4F
  channels on the input padded by one, followed by a depth-to-space that takes each of the four
  output phases from its own shifted window (Shi et al. 2016, arXiv:1609.05158, "sub-pixel
  convolution"; the 2x2-per-phase form of their equivalence). FLOPs: (H+1)²/H² of the direct form.
- 'space_to_depth' (conv): space-to-depth of the input padded by one, then a 2x2 stride-1
  convolution with 4C input channels (the kernel rearranged to (2, 2, 4C, F)). Same FLOPs.
- 'matmul': explicit matrix products with the exact FLOP count. The conv is
  patches(x) @ K[16C, F] (im2col); the transposed conv is its adjoint pattern,
  fold(x @ K'[C, 16F]) (col2im: each input pixel's 16 kernel taps are overlap-added into the
  output). Their gradients are again matrix products plus `patches`/`fold`, which are each
  other's transposes (pure data movement).
- 'auto': per backend, `AUTO_IMPL[platform]` (measured: benchmarks/README.md).

Why: XLA's CPU backend computes the kernel gradient of a stride-2 transposed convolution (a
convolution with input dilation) 10-30x slower than the same arithmetic as a matrix product.
"""
from __future__ import annotations

from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxgan.core.registry import Registry
from jaxgan.models import canonical_conv

Array = jax.Array
Initializer = jax.nn.initializers.Initializer
LayerFn = Callable[[Array, Array], Array]

_DIMENSION_NUMBERS = ("NHWC", "HWIO", "NHWC")


# --- data movement: space-to-depth, 4x4 stride-2 patches and their adjoint ----------------------

def _pad1(x: Array) -> Array:
    return jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))


def _space_to_depth(x: Array) -> Array:
    """[N, 2h, 2w, C] -> [N, h, w, 2, 2, C]: out[n, j, i, r, s] = x[n, 2j + r, 2i + s]."""
    n, h2, w2, c = x.shape
    return x.reshape(n, h2 // 2, 2, w2 // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)


def _depth_to_space(x: Array) -> Array:
    """[N, h, w, 2, 2, C] -> [N, 2h, 2w, C], the inverse of `_space_to_depth`."""
    n, h, w, _, _, c = x.shape
    return x.transpose(0, 1, 3, 2, 4, 5).reshape(n, 2 * h, 2 * w, c)


def patches_4x4_s2(x: Array) -> Array:
    """im2col of a 4x4 stride-2 window with padding 1: [N, 2H, 2W, C] -> [N, H, W, 16·C].

    patches[n, m, j, (a, b, r, s, c)] = x_pad[n, 2m + ky, 2j + kx, c] with ky = 2a + r,
    kx = 2b + s and x_pad = x zero-padded by one pixel on each side; the tap order (a, b, r, s)
    makes this four contiguous slices of the space-to-depth of x_pad.
    """
    n, h2, w2, c = x.shape
    h, w = h2 // 2, w2 // 2
    blocks = _space_to_depth(_pad1(x))  # [N, h + 1, w + 1, 2, 2, C]
    taps = [blocks[:, a:a + h, b:b + w] for a in (0, 1) for b in (0, 1)]
    return jnp.stack(taps, axis=3).reshape(n, h, w, 16 * c)


def fold_4x4_s2(p: Array) -> Array:
    """col2im, the adjoint (transpose) of `patches_4x4_s2`: [N, H, W, 16·C] -> [N, 2H, 2W, C].

    out[n, y, x, c] = Σ over (m, j, ky, kx) with 2m + ky − 1 = y and 2j + kx − 1 = x of
    p[n, m, j, tap(ky, kx), c]: every patch entry is added back where it was read from.
    """
    n, h, w, c16 = p.shape
    p = p.reshape(n, h, w, 2, 2, 2, 2, c16 // 16)  # [.., a, b, r, s, C]
    blocks = sum(jnp.pad(p[:, :, :, a, b], ((0, 0), (a, 1 - a), (b, 1 - b), (0, 0), (0, 0),
                                            (0, 0)))
                 for a in (0, 1) for b in (0, 1))  # [N, h + 1, w + 1, 2, 2, C]
    return _depth_to_space(blocks)[:, 1:-1, 1:-1]


def _tap_major(kernel: Array) -> Array:
    """(4, 4, C, F) -> (2, 2, 2, 2, C, F) indexed [a, b, r, s] with ky = 2a + r, kx = 2b + s."""
    c, f = kernel.shape[2:]
    return kernel.reshape(2, 2, 2, 2, c, f).transpose(0, 2, 1, 3, 4, 5)


# --- the transposed convolution: three equal forms ---------------------------------------------

def conv_transpose_4x4_s2_xla(x: Array, kernel: Array) -> Array:
    """y = lax.conv_transpose(x, kernel, (2, 2), ((2, 2), (2, 2))), NHWC / HWIO.

    Per spatial axis y[2i + 2 − k] += x[i] · kernel[k]: PyTorch ConvTranspose2d(k=4, s=2, p=1)
    up to the kernel's spatial flip (flax's convention, no kernel transpose).
    """
    return canonical_conv.conv_general_dilated(x, kernel.astype(x.dtype), (1, 1),
                                               ((2, 2), (2, 2)), lhs_dilation=(2, 2),
                                               dimension_numbers=_DIMENSION_NUMBERS)


def subpixel_kernel(kernel: Array) -> Array:
    """The (4, 4, C, F) transposed-conv kernel as a (2, 2, C, 4F) stride-1 conv kernel.

    w[a, b, c, (p, q, f)] = kernel[2a + p, 2b + q, c, f]: output phase (p, q) of the transposed
    conv is the 2x2 correlation of the padded input with its own four taps.
    """
    c, f = kernel.shape[2:]
    return kernel.reshape(2, 2, 2, 2, c, f).transpose(0, 2, 4, 1, 3, 5).reshape(2, 2, c, 4 * f)


def conv_transpose_4x4_s2_subpixel(x: Array, kernel: Array) -> Array:
    """Sub-pixel form: y[2m + p, 2j + q] = u[m + p, j + q, (p, q)], u = conv2x2(pad(x, 1), w).

    With w = `subpixel_kernel(kernel)`: u[m'] = x[m' − 1]·w[0] + x[m']·w[1] per axis, and
    y[2m] = x[m − 1]·k[0] + x[m]·k[2], y[2m + 1] = x[m]·k[1] + x[m + 1]·k[3] (Shi et al. 2016).
    """
    n, h, w, _ = x.shape
    f = kernel.shape[-1]
    u = canonical_conv.conv_general_dilated(_pad1(x), subpixel_kernel(kernel).astype(x.dtype),
                                            (1, 1), "VALID", dimension_numbers=_DIMENSION_NUMBERS)
    u = u.reshape(n, h + 1, w + 1, 2, 2, f)
    phases = jnp.stack([jnp.stack([u[:, p:p + h, q:q + w, p, q] for q in (0, 1)], axis=3)
                        for p in (0, 1)], axis=3)  # [N, h, w, p, q, F]
    return _depth_to_space(phases)


def conv_transpose_4x4_s2_matmul(x: Array, kernel: Array) -> Array:
    """col2im form: y = fold(x @ K'), K'[c, (a, b, r, s, f)] = kernel[3 − ky, 3 − kx, c, f].

    Input pixel i reaches output 2i + 2 − k = 2i + ky − 1 with ky = 3 − k, which is where
    `patches_4x4_s2` reads tap ky of patch i, so the overlap-add is `fold_4x4_s2`.
    """
    n, h, w, c = x.shape
    f = kernel.shape[-1]
    k = _tap_major(kernel[::-1, ::-1]).transpose(4, 0, 1, 2, 3, 5).reshape(c, 16 * f)
    z = jnp.dot(x.reshape(n * h * w, c), k.astype(x.dtype))
    return fold_4x4_s2(z.reshape(n, h, w, 16 * f))


def _hybrid(xla: LayerFn, matmul: LayerFn, doc: str) -> LayerFn:
    """`xla`'s function with the VJP (∂x from `xla`'s own VJP, ∂kernel from `matmul`'s).

    A `jax.custom_vjp` (until issue 21 session 7 a `custom_jvp` whose JVP was
    xla(dx, kernel) + matmul(x, dk)): the 'xla' forms are canonical_conv convolutions on CPU, whose
    custom VJP cannot be transposed inside a JVP rule. Reverse mode of any order works (the
    backward pass is built from differentiable functions); forward mode (`jax.jvp`) does not.
    """
    fn = jax.custom_vjp(lambda x, kernel: xla(x, kernel))

    def bwd(res, g):
        x, kernel = res
        dx = jax.vjp(lambda x_: xla(x_, kernel), x)[1](g)[0]
        dk = jax.vjp(lambda k_: matmul(x, k_), kernel)[1](g)[0]
        return dx, dk

    fn.defvjp(lambda x, kernel: (xla(x, kernel), (x, kernel)), bwd)
    fn.__doc__ = doc
    return fn


conv_transpose_4x4_s2_hybrid = _hybrid(
    conv_transpose_4x4_s2_xla, conv_transpose_4x4_s2_matmul,
    """The 'xla' forward and input-gradient with the 'matmul' kernel-gradient.

    Same function as `conv_transpose_4x4_s2_xla`; reverse mode takes dx from XLA's strided
    convolution and dk = xᵀ · patches(dy) from one matrix product (`_hybrid`).
    """)


# --- the strided convolution: three equal forms ------------------------------------------------

def conv_4x4_s2_xla(x: Array, kernel: Array) -> Array:
    """y = lax.conv_general_dilated(x, kernel, (2, 2), ((1, 1), (1, 1))), NHWC / HWIO.

    y[m] = Σ_k x[2m + k − 1] · kernel[k] per axis: PyTorch Conv2d(k=4, s=2, p=1).
    """
    return canonical_conv.conv_general_dilated(x, kernel.astype(x.dtype), (2, 2),
                                               ((1, 1), (1, 1)),
                                               dimension_numbers=_DIMENSION_NUMBERS)


def space_to_depth_kernel(kernel: Array) -> Array:
    """The (4, 4, C, F) kernel as a (2, 2, 4C, F) kernel: w[a, b, (r, s, c)] = kernel[2a + r, 2b + s, c]."""
    c, f = kernel.shape[2:]
    return _tap_major(kernel).reshape(2, 2, 4 * c, f)


def conv_4x4_s2_space_to_depth(x: Array, kernel: Array) -> Array:
    """y = conv2x2(space_to_depth(pad(x, 1)), w): y[m] = Σ_a blocks[m + a] · w[a] per axis."""
    n, h2, w2, c = x.shape
    blocks = _space_to_depth(_pad1(x)).reshape(n, h2 // 2 + 1, w2 // 2 + 1, 4 * c)
    return canonical_conv.conv_general_dilated(
        blocks, space_to_depth_kernel(kernel).astype(x.dtype), (1, 1), "VALID",
        dimension_numbers=_DIMENSION_NUMBERS)


def conv_4x4_s2_matmul(x: Array, kernel: Array) -> Array:
    """im2col form: y = patches(x) @ K, K[(a, b, r, s, c), f] = kernel[2a + r, 2b + s, c, f]."""
    n, h2, w2, c = x.shape
    f = kernel.shape[-1]
    p = patches_4x4_s2(x)
    y = jnp.dot(p.reshape(-1, 16 * c), _tap_major(kernel).reshape(16 * c, f).astype(x.dtype))
    return y.reshape(n, h2 // 2, w2 // 2, f)


conv_4x4_s2_hybrid = _hybrid(
    conv_4x4_s2_xla, conv_4x4_s2_matmul,
    """The 'xla' forward and input-gradient with the 'matmul' kernel-gradient.

    Same function as `conv_4x4_s2_xla`; reverse mode takes dx from XLA and
    dk = patches(x)ᵀ · dy from one matrix product (`_hybrid`).
    """)


# --- Winograd F(2x2, 2x2) forms (Lavin & Gray 2016, arXiv:1509.09308) ----------------------------
# After space-to-depth both layers are 2x2 stride-1 convolutions; Winograd's minimal filtering
# algorithm F(2, 2) computes 2 outputs of a 2-tap filter with 3 multiplications instead of 4:
#   y0 = d0·g0 + d1·g1 = m0 + m1,  y1 = d1·g0 + d2·g1 = m1 + m2,
#   m0 = (d0 − d1)·g0,  m1 = d1·(g0 + g1),  m2 = (d2 − d1)·g1,
# i.e. V = Bᵀd, U = Gg, y = Aᵀ(U ⊙ V) with the matrices below. Nested over both axes, a 2x2
# output tile costs 9 instead of 16 multiplications per channel pair, and the channel sums become
# 9 batched matrix products. All transform coefficients are 0 or ±1, so no rounding is added
# beyond a different order of summation.

_BT = ((1, -1, 0), (0, 1, 0), (0, -1, 1))  # Bᵀ[i][a]: input tile (3) -> transform domain (3)
_G = ((1, 0), (1, 1), (0, 1))              # G[i][a]: kernel taps (2) -> transform domain (3)
_AT = ((1, 1, 0), (0, 1, 1))               # Aᵀ[i][a]: transform domain (3) -> output tile (2)


def _signed_sum(terms: list[tuple[int, Array]]) -> Array:
    """Σ c·a over (c, a) with c in {−1, 0, 1}, skipping zeros."""
    out = None
    for coef, a in terms:
        if coef:
            out = (a if coef > 0 else -a) if out is None else (out + a if coef > 0 else out - a)
    return out


def _input_transform(s: Array) -> Array:
    """V[(i, j), n, t, u] = Σ_ab Bᵀ[i][a]·Bᵀ[j][b]·s[n, 2t + a, 2u + b]: [N, 2p+1, 2q+1, C] -> [9, N, p, q, C]."""
    p, q = (s.shape[1] - 1) // 2, (s.shape[2] - 1) // 2
    taps = [[s[:, a:a + 2 * p:2, b:b + 2 * q:2] for b in range(3)] for a in range(3)]
    return jnp.stack([_signed_sum([(_BT[i][a] * _BT[j][b], taps[a][b])
                                   for a in range(3) for b in range(3)])
                      for i in range(3) for j in range(3)])


def _input_transform_adjoint(v: Array) -> Array:
    """The adjoint of `_input_transform`: [9, N, p, q, C] -> [N, 2p+1, 2q+1, C] (overlap-add)."""
    _, n, p, q, c = v.shape
    v = v.reshape((3, 3) + v.shape[1:])
    r = [[_signed_sum([(_BT[i][a] * _BT[j][b], v[i, j]) for i in range(3) for j in range(3)])
          for b in range(3)] for a in range(3)]  # r[a][b]: what tile (t, u) adds at (2t+a, 2u+b)

    def shift(x: Array, rows: tuple[int, int], cols: tuple[int, int]) -> Array:
        return jnp.pad(x, ((0, 0), rows, cols, (0, 0)))
    # Offset 2 of tile t is offset 0 of tile t + 1: even rows and columns overlap-add.
    even_even = (shift(r[0][0], (0, 1), (0, 1)) + shift(r[2][0], (1, 0), (0, 1))
                 + shift(r[0][2], (0, 1), (1, 0)) + shift(r[2][2], (1, 0), (1, 0)))
    even_odd = shift(r[0][1], (0, 1), (0, 1)) + shift(r[2][1], (1, 0), (0, 1))
    odd_even = shift(r[1][0], (0, 1), (0, 1)) + shift(r[1][2], (0, 1), (1, 0))
    odd_odd = shift(r[1][1], (0, 1), (0, 1))
    grid = jnp.stack([jnp.stack([even_even, even_odd], axis=3),
                      jnp.stack([odd_even, odd_odd], axis=3)], axis=2)  # [N, p+1, 2, q+1, 2, C]
    return grid.reshape(n, 2 * p + 2, 2 * q + 2, c)[:, :2 * p + 1, :2 * q + 1]


def _output_transform(m: Array) -> Array:
    """y[n, 2t + i, 2u + j] = Σ_ab Aᵀ[i][a]·Aᵀ[j][b]·m[(a, b), n, t, u]: [9, N, p, q, F] -> [N, 2p, 2q, F]."""
    _, n, p, q, f = m.shape
    m = m.reshape((3, 3) + m.shape[1:])
    y = [[_signed_sum([(_AT[i][a] * _AT[j][b], m[a, b]) for a in range(3) for b in range(3)])
          for j in range(2)] for i in range(2)]
    y = jnp.stack([jnp.stack(row, axis=3) for row in y], axis=2)  # [N, p, 2, q, 2, F]
    return y.reshape(n, 2 * p, 2 * q, f)


def _output_transform_adjoint(y: Array) -> Array:
    """The adjoint of `_output_transform`: [N, 2p, 2q, C] -> [9, N, p, q, C]."""
    taps = [[y[:, i::2, j::2] for j in range(2)] for i in range(2)]
    return jnp.stack([_signed_sum([(_AT[i][a] * _AT[j][b], taps[i][j])
                                   for i in range(2) for j in range(2)])
                      for a in range(3) for b in range(3)])


def _linear_pair(fn: Callable[[Array], Array], adjoint: Callable[[Array], Array]):
    """`fn` and `adjoint` (linear maps, each other's transpose), each with the other as its VJP.

    Plain autodiff of the strided slices in these transforms would build one zero-padded
    full-size array per tap and add them up; the explicit adjoint is one lean pass.
    """
    fn_v, adjoint_v = jax.custom_vjp(fn), jax.custom_vjp(adjoint)
    fn_v.defvjp(lambda x: (fn_v(x), None), lambda _, ct: (adjoint_v(ct),))
    adjoint_v.defvjp(lambda x: (adjoint_v(x), None), lambda _, ct: (fn_v(ct),))
    return fn_v, adjoint_v


_winograd_input, _winograd_input_adjoint = _linear_pair(_input_transform,
                                                        _input_transform_adjoint)
_winograd_output, _winograd_output_adjoint = _linear_pair(_output_transform,
                                                          _output_transform_adjoint)


def _winograd_kernel(w: Array) -> Array:
    """U[(i, j)] = Σ_ab G[i][a]·G[j][b]·w[a, b]: a (2, 2, I, O) kernel -> (9, I, O).

    One (9, 4) x (4, I·O) product with G ⊗ G, whose transpose (the kernel gradient) is again a
    single product.
    """
    g = jnp.asarray(_G, w.dtype)
    gg = jnp.einsum("ia,jb->ijab", g, g).reshape(9, 4)
    return jnp.dot(gg, w.reshape(4, -1)).reshape((9,) + w.shape[2:])


def _batched_matmul(a: Array, b: Array) -> Array:
    """[P, T, I] x [P, I, O] -> [P, T, O]."""
    return jax.lax.dot_general(a, b.astype(a.dtype), (((2,), (1,)), ((0,), (0,))))


def conv_4x4_s2_winograd(x: Array, kernel: Array) -> Array:
    """Winograd F(2x2, 2x2) on the space-to-depth form; needs H and W divisible by 4.

    y = Aᵀ[(G w Gᵀ) ⊙ (Bᵀ s B)]A per 2x2 output tile, s = space_to_depth(pad(x, 1)),
    w = `space_to_depth_kernel(kernel)`; the sum over the 4C channels is 9 batched matmuls.
    """
    n, h2, w2, c = x.shape
    h, w = h2 // 2, w2 // 2
    f = kernel.shape[-1]
    s = _space_to_depth(_pad1(x)).reshape(n, h + 1, w + 1, 4 * c)
    v = _winograd_input(s).reshape(9, -1, 4 * c)                        # (9, T, 4C)
    m = _batched_matmul(v, _winograd_kernel(space_to_depth_kernel(kernel)))  # (9, T, F)
    return _winograd_output(m.reshape(9, n, h // 2, w // 2, f))


def conv_transpose_4x4_s2_winograd(x: Array, kernel: Array) -> Array:
    """The transposed conv as the adjoint of `conv_4x4_s2_winograd`; needs H and W even.

    The transposed conv is the adjoint of the strided conv with kernel
    k'[ky, kx, f, c] = kernel[3 − ky, 3 − kx, c, f]; each Winograd stage is replaced by its
    adjoint in reverse order: Aᵀ's adjoint on 2x2 tiles of x, 9 batched matmuls with Uᵀ, Bᵀ's
    adjoint (overlap-add of 3x3 tiles), depth-to-space.
    """
    n, h, w, c = x.shape
    f = kernel.shape[-1]
    flipped = kernel[::-1, ::-1].transpose(0, 1, 3, 2)                 # (4, 4, F, C)
    u = _winograd_kernel(space_to_depth_kernel(flipped))                # (9, 4F, C)
    m = _winograd_output_adjoint(x).reshape(9, -1, c)                   # (9, T, C)
    v = _batched_matmul(m, u.transpose(0, 2, 1))                        # (9, T, 4F)
    s = _winograd_input_adjoint(v.reshape(9, n, h // 2, w // 2, 4 * f))  # [N, h+1, w+1, 4F]
    return _depth_to_space(s.reshape(n, h + 1, w + 1, 2, 2, f))[:, 1:-1, 1:-1]


CONV_TRANSPOSE_4X4_S2: Registry[LayerFn] = Registry("ConvTranspose4x4S2 impl", {
    "xla": conv_transpose_4x4_s2_xla,
    "subpixel": conv_transpose_4x4_s2_subpixel,
    "matmul": conv_transpose_4x4_s2_matmul,
    "hybrid": conv_transpose_4x4_s2_hybrid,
    "winograd": conv_transpose_4x4_s2_winograd,
})
CONV_4X4_S2: Registry[LayerFn] = Registry("Conv4x4S2 impl", {
    "xla": conv_4x4_s2_xla,
    "space_to_depth": conv_4x4_s2_space_to_depth,
    "matmul": conv_4x4_s2_matmul,
    "hybrid": conv_4x4_s2_hybrid,
    "winograd": conv_4x4_s2_winograd,
})

# Impl names a whole model can use for both layers (config.conv_impl).
MODEL_CONV_IMPLS: tuple[str, ...] = ("auto",) + tuple(
    sorted(set(CONV_TRANSPOSE_4X4_S2) & set(CONV_4X4_S2)))

ImplChoice = Callable[[tuple[int, ...], tuple[int, ...]], str]


def _cpu_conv_transpose_choice(x_shape: tuple[int, ...], kernel_shape: tuple[int, ...]) -> str:
    """Winograd where channel products dominate and 2x2 tiles fit, else XLA + matmul kernel-grad."""
    _, h, w, _ = x_shape
    c, f = kernel_shape[2:]
    return "winograd" if h % 2 == 0 and w % 2 == 0 and min(c, f) >= 16 else "hybrid"


def _cpu_conv_choice(x_shape: tuple[int, ...], kernel_shape: tuple[int, ...]) -> str:
    """Winograd where channel products dominate and 2x2 output tiles fit, else XLA's conv."""
    _, h, w, _ = x_shape
    c, f = kernel_shape[2:]
    return "winograd" if h % 4 == 0 and w % 4 == 0 and min(c, f) >= 16 else "xla"


# What 'auto' means per backend (measurements: benchmarks/README.md). Backends not listed (GPU,
# TPU) keep XLA's native convolutions: cuDNN and the TPU compiler handle strided and transposed
# convolutions directly, and the rearranged forms only add data movement there.
AUTO_IMPL: dict[str, dict[str, ImplChoice]] = {
    "ConvTranspose4x4S2": {"cpu": _cpu_conv_transpose_choice},
    "Conv4x4S2": {"cpu": _cpu_conv_choice},
}

# Shape requirements of the Winograd forms (2x2 tiles of the layer's stride-1 form).
_WINOGRAD_TILES = {"ConvTranspose4x4S2": 2, "Conv4x4S2": 4}


def resolve_impl(layer: str, impl: str, x_shape: tuple[int, ...],
                 kernel_shape: tuple[int, ...]) -> LayerFn:
    """The function `impl` names for `layer` ('auto': AUTO_IMPL of the default backend)."""
    registry = {"ConvTranspose4x4S2": CONV_TRANSPOSE_4X4_S2, "Conv4x4S2": CONV_4X4_S2}[layer]
    if impl == "auto":
        choice = AUTO_IMPL[layer].get(jax.default_backend())
        impl = "xla" if choice is None else choice(tuple(x_shape), tuple(kernel_shape))
    fn = registry[impl]
    tile = _WINOGRAD_TILES[layer]
    if impl == "winograd" and (x_shape[1] % tile or x_shape[2] % tile):
        raise ValueError(f"{layer} impl 'winograd' needs input height and width divisible by "
                         f"{tile}, got input shape {tuple(x_shape)}; use impl='auto' or 'xla'")
    return fn


class ConvTranspose4x4S2(nn.Module):
    """out = lax.conv_transpose(x, kernel, strides=(2, 2), padding=((2, 2), (2, 2))).

    impl: 'xla' | 'subpixel' | 'matmul' | 'auto' (per backend) — equal functions of the same
    kernel; see the module docstring.
    """

    features: int
    use_bias: bool = False
    kernel_init: Initializer = nn.initializers.normal(0.02)
    dtype: jnp.dtype | None = None
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel_shape = (4, 4, x.shape[-1], self.features)
        fn = resolve_impl("ConvTranspose4x4S2", self.impl, x.shape, kernel_shape)
        kernel = self.param("kernel", self.kernel_init, kernel_shape)
        y = fn(x, kernel)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y


class Conv4x4S2(nn.Module):
    """out = lax.conv_general_dilated(x, kernel, (2, 2), ((1, 1), (1, 1))): PyTorch Conv2d(4, 2, 1).

    Parameters are those of `nn.Conv(features, (4, 4), strides=(2, 2), padding=((1, 1), (1, 1)))`
    ('kernel' (4, 4, C, F), optional 'bias' (F,)), so the two are interchangeable in a param tree.
    impl: 'xla' | 'space_to_depth' | 'matmul' | 'auto' (per backend).
    """

    features: int
    use_bias: bool = False
    kernel_init: Initializer = nn.initializers.normal(0.02)
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim != 4 or x.shape[1] % 2 or x.shape[2] % 2:
            raise ValueError(f"Conv4x4S2 expects [N, H, W, C] with even H and W, got {x.shape}")
        kernel_shape = (4, 4, x.shape[-1], self.features)
        fn = resolve_impl("Conv4x4S2", self.impl, x.shape, kernel_shape)
        kernel = self.param("kernel", self.kernel_init, kernel_shape)
        y = fn(x, kernel)
        if self.use_bias:
            y = y + self.param("bias", nn.initializers.zeros, (self.features,))
        return y
