"""A 2-D convolution whose gradients (of any order) are again convolutions in the canonical
NHWC / HWIO / NHWC layout, so XLA's CPU backend runs every one of them on its fast convolution
kernels, also inside `lax.cond` / `lax.switch` branches.

Why (measured, jax/jaxlib 0.10.2, XLA CPU; issue 17, benchmarks/README.md "#17 session 6"): JAX's
transpose rules of `lax.conv_general_dilated` express ∂/∂x and ∂/∂w as convolutions with permuted
dimension numbers (e.g. `f01b_i01o->01bf` for the kernel gradient, `b01f_01oi->b01f` for the input
gradient). XLA's CPU compiler rewrites such convolutions into the canonical form in the entry
computation, but not inside the branch computations of a `conditional`: there they are emitted as
naive loops. A 3×3 64→64 convolution on [32, 32, 32, 64]: kernel gradient 0.04 CPU-s at top
level, 3.7 CPU-s inside `lax.cond` (90×); input gradient 0.03 vs 0.14 CPU-s. StyleGAN2's lazy R1
(a double backward of D) runs inside `lax.cond` (jaxgan.core.stylegan_step), so it was 14×
slower than the same R1 outside the cond.

`conv2d(x, w, strides, padding, lhs_dilation, rhs_dilation)` equals `lax.conv_general_dilated` with
dimension_numbers ('NHWC', 'HWIO', 'NHWC'). Its VJP follows JAX's own rules
(jax/_src/lax/convolution.py, `_conv_general_dilated_transpose_lhs` / `_rhs` and the two
`_conv_general_vjp_*_padding` helpers, read in jax 0.10.2), written with explicit transposes so
each gradient is a canonical `conv2d` (itself with this VJP, so gradients of gradients stay
canonical):

  ∂x = conv2d(g, rev_hw(w)ᵀ_io, strides=lhs_dilation, padding=P_x, lhs_dilation=strides,
              rhs_dilation=rhs_dilation)                       (w' [kh, kw, O, I])
  ∂w = conv2d(x as [I, H, W, N], g as [Ho, Wo, N, O], strides=rhs_dilation, padding=P_w,
              lhs_dilation=lhs_dilation, rhs_dilation=strides) → [I, kh, kw, O] → [kh, kw, I, O]

with P_x = (r − 1 − lo, l + r − 1 − o − (r − 1 − lo)) and P_w = (lo, (o − l) + (r − 1 − lo)) per
spatial axis, l, r, o the dilated input, kernel and output sizes (ℓ ↦ (ℓ − 1)·d + 1).

`conv_general_dilated` is the one switch point the model families use (flax `nn.Conv`'s
`conv_general_dilated` attribute through jaxgan.models.blocks.conv, and the DCGAN layers of
jaxgan.models.layers): `lax.conv_general_dilated`'s signature, routed to `conv2d` on the backends
of `CANONICAL_BACKENDS` for 2-D NHWC/HWIO convolutions without feature groups, otherwise to lax
itself. Why every family, not only StyleGAN2's cond (issue 21, benchmarks/README.md "#21 session
7"): the fused K-step `lax.scan` (config.steps_per_call) and the n_critic `lax.scan` put every
gradient convolution of a training step inside a loop body, where XLA CPU leaves them as naive
loops just as inside `lax.cond`.
"""
from __future__ import annotations

import functools
from typing import Sequence

import jax
import jax.numpy as jnp

Array = jax.Array
_DN = ("NHWC", "HWIO", "NHWC")


def _dilated(size: int, d: int) -> int:
    return 0 if size == 0 else (size - 1) * d + 1


def _pads(x_shape, w_shape, strides, padding, rhs_dilation) -> tuple[tuple[int, int], ...]:
    if isinstance(padding, str):
        window = [_dilated(k, d) for k, d in zip(w_shape[:2], rhs_dilation)]
        return tuple(jax.lax.padtype_to_pads(x_shape[1:3], window, strides, padding))
    return tuple((int(lo), int(hi)) for lo, hi in padding)


def conv2d(x: Array, w: Array, strides: Sequence[int] = (1, 1), padding="SAME",
           lhs_dilation: Sequence[int] = (1, 1), rhs_dilation: Sequence[int] = (1, 1)) -> Array:
    """lax.conv_general_dilated(x [N, H, W, I], w [kh, kw, I, O]) in NHWC/HWIO/NHWC, with the
    canonical-layout VJP of this module's docstring."""
    strides, lhs_dilation, rhs_dilation = (tuple(int(v) for v in t)
                                           for t in (strides, lhs_dilation, rhs_dilation))
    pads = _pads(x.shape, w.shape, strides, padding, rhs_dilation)
    return _conv(x, w.astype(x.dtype), strides, pads, lhs_dilation, rhs_dilation)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _conv(x, w, strides, pads, lhs_dilation, rhs_dilation):
    return jax.lax.conv_general_dilated(x, w, strides, pads, lhs_dilation, rhs_dilation,
                                        dimension_numbers=_DN)


# Backends whose XLA compiler needs the canonical-layout gradients. GPU (cuDNN) and TPU take any
# layout natively; there the explicit transposes would only add data movement.
CANONICAL_BACKENDS: tuple[str, ...] = ("cpu",)


def conv_general_dilated(lhs: Array, rhs: Array, window_strides: Sequence[int], padding,
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None, dimension_numbers=None,
                         feature_group_count: int = 1, batch_group_count: int = 1,
                         precision=None, preferred_element_type=None) -> Array:
    """`lax.conv_general_dilated`, with `conv2d`'s canonical-layout gradients where it applies:
    a default backend in `CANONICAL_BACKENDS`, 2-D convolutions in NHWC/HWIO/NHWC, one feature
    and batch group, default precision. The value is the same convolution either way."""
    canonical = (jax.default_backend() in CANONICAL_BACKENDS and lhs.ndim == 4
                 and dimension_numbers is not None
                 and (jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
                      == jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, _DN))
                 and feature_group_count == 1 and batch_group_count == 1 and precision is None
                 and preferred_element_type is None
                 and not (isinstance(padding, str) and tuple(lhs_dilation or (1, 1)) != (1, 1)))
    if not canonical:
        return jax.lax.conv_general_dilated(
            lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
            feature_group_count, batch_group_count, precision, preferred_element_type)
    return conv2d(lhs, rhs, window_strides, padding, lhs_dilation or (1, 1),
                  rhs_dilation or (1, 1))


def _conv_fwd(x, w, strides, pads, lhs_dilation, rhs_dilation):
    return _conv(x, w, strides, pads, lhs_dilation, rhs_dilation), (x, w)


def _conv_bwd(strides, pads, lhs_dilation, rhs_dilation, res, g):
    x, w = res
    in_sizes = [_dilated(n, d) for n, d in zip(x.shape[1:3], lhs_dilation)]
    k_sizes = [_dilated(n, d) for n, d in zip(w.shape[:2], rhs_dilation)]
    out_sizes = [_dilated(n, s) for n, s in zip(g.shape[1:3], strides)]
    # ∂x (jax: _conv_general_vjp_lhs_padding)
    pads_x = []
    for l_, r_, o_, (lo, _) in zip(in_sizes, k_sizes, out_sizes, pads):
        before = r_ - lo - 1
        pads_x.append((before, l_ + r_ - 1 - o_ - before))
    w_t = jnp.transpose(jnp.flip(w, (0, 1)), (0, 1, 3, 2)).astype(g.dtype)   # [kh, kw, O, I]
    dx = _conv(g, w_t, lhs_dilation, tuple(pads_x), strides, rhs_dilation)
    # ∂w (jax: _conv_general_vjp_rhs_padding)
    pads_w = tuple((lo, (o_ - l_) + (r_ - lo - 1))
                   for l_, r_, o_, (lo, _) in zip(in_sizes, k_sizes, out_sizes, pads))
    x_t = jnp.transpose(x, (3, 1, 2, 0)).astype(g.dtype)                      # [I, H, W, N]
    g_t = jnp.transpose(g, (1, 2, 0, 3))                                      # [Ho, Wo, N, O]
    dw = _conv(x_t, g_t, rhs_dilation, pads_w, lhs_dilation, strides)         # [I, kh, kw, O]
    dw = jnp.transpose(dw, (1, 2, 0, 3))
    return dx.astype(x.dtype), dw.astype(w.dtype)


_conv.defvjp(_conv_fwd, _conv_bwd)
