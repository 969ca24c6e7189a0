"""Adaptive discriminator augmentation, ADA (Karras et al. 2020, arXiv:2006.06676), after
NVlabs/stylegan2-ada-pytorch `training/augment.py` (lines cited as augment.py:N) and the p
controller of `training/training_loop.py:312-316`.

Every image D sees (real and fake, each its own draw) goes through a chain of transforms, each
applied independently per image with probability p·multiplier (the pipeline `bgc`, the paper's
default, has every multiplier 1):

  geometric (one inverse homogeneous matrix G⁻¹ per image, output pixel → input pixel, in pixel
  units about the image centre, augment.py:192-263):
    xflip       x → −x with probability ½                              (:196-202)
    rotate90    by −π/2·i, i ~ U{0..3} (entries exactly 0, ±1)          (:204-210)
    xint        integer translation round(t·W), t ~ U[−0.125, 0.125]²   (:212-218)
    scale       isotropic 2^N(0, 0.2²)                                  (:224-230)
    rotate      θ ~ U[−π, π] before and after aniso, each with probability 1 − √(1 − p) (:232-255)
    aniso       (s, 1/s), s = 2^N(0, 0.2²)                              (:241-247)
    xfrac       translation N(0, 0.125²)·(W, H)                          (:257-263)
  resampled bilinearly with reflecting borders (the reference pads by reflection, up-samples ×2
  with a wavelet filter, grid-samples and down-samples, :269-301: a simplification here);
  colour (one 4×4 matrix C per image acting on (r, g, b, 1), :307-366):
    brightness  + N(0, 0.2²)                                            (:311-317)
    contrast    × 2^N(0, 0.5²)                                          (:319-325)
    lumaflip    Householder reflection about the luma axis v = (1,1,1)/√3, i ~ U{0,1} (:327-334)
    hue         rotation about v by θ ~ U[−π, π] (RGB only)              (:336-342)
    saturation  vvᵀ + (I − vvᵀ)·2^N(0, 1) (RGB only)                      (:344-350)
  grey images use the mean of C's first three rows (:361-363).

Each transform is linear in the image, so ∂T(x)/∂x exists and G's gradient flows through
T(G(z)); x-flip, 90° rotations and integer translations (inside the border) only permute pixels
and are inverted exactly by their inverses (tests/test_stylegan2.py).

p is adjusted every `interval` steps from r_t = E[sign(D(real))] over those steps:
  p ← max(0, p + sign(r_t − target)·batch·interval/(kimg·1000))    (training_loop.py:312-316),
so p moves by 1 in `kimg` thousand images (target 0.6).
"""
from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from jaxgan.core.registry import Registry

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class AdaPipeline:
    """Probability multipliers of each transform (augment.py:118-158 defaults for the ranges)."""

    xflip: float = 0.0
    rotate90: float = 0.0
    xint: float = 0.0
    scale: float = 0.0
    rotate: float = 0.0
    aniso: float = 0.0
    xfrac: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    lumaflip: float = 0.0
    hue: float = 0.0
    saturation: float = 0.0
    xint_max: float = 0.125
    scale_std: float = 0.2
    rotate_max: float = 1.0
    aniso_std: float = 0.2
    xfrac_std: float = 0.125
    brightness_std: float = 0.2
    contrast_std: float = 0.5
    hue_max: float = 1.0
    saturation_std: float = 1.0

    def __call__(self, images: Array, key: Array, p: Array | float) -> Array:
        """T(images) for images [B, H, W, C] in [−1, 1] (C = 1 or 3), each transform with
        probability p·multiplier per image."""
        key_geom, key_color = jax.random.split(key)
        images = apply_geometric(images, geometric_matrix(self, key_geom, images.shape, p))
        return apply_color(images, color_matrix(self, key_color, images.shape, p))


_BLIT = dict(xflip=1, rotate90=1, xint=1)
_GEOM = dict(scale=1, rotate=1, aniso=1, xfrac=1)
_COLOR = dict(brightness=1, contrast=1, lumaflip=1, hue=1, saturation=1)

PIPELINES: Registry[AdaPipeline] = Registry("ADA pipeline", {
    "blit": AdaPipeline(**_BLIT), "geom": AdaPipeline(**_GEOM), "color": AdaPipeline(**_COLOR),
    "bg": AdaPipeline(**_BLIT, **_GEOM), "bgc": AdaPipeline(**_BLIT, **_GEOM, **_COLOR),
})


# --- matrices (augment.py:27-93) ------------------------------------------------------------------

def _mat3(rows) -> Array:
    return jnp.stack([jnp.stack(r, axis=-1) for r in rows], axis=-2)


def _translate2d_inv(tx: Array, ty: Array) -> Array:
    o, z = jnp.ones_like(tx), jnp.zeros_like(tx)
    return _mat3([[o, z, -tx], [z, o, -ty], [z, z, o]])


def _scale2d_inv(sx: Array, sy: Array) -> Array:
    o, z = jnp.ones_like(sx), jnp.zeros_like(sx)
    return _mat3([[1 / sx, z, z], [z, 1 / sy, z], [z, z, o]])


def _rotate2d_inv_cs(c: Array, s: Array) -> Array:
    """Inverse of the rotation [[c, −s], [s, c]]: its transpose."""
    o, z = jnp.ones_like(c), jnp.zeros_like(c)
    return _mat3([[c, s, z], [-s, c, z], [z, z, o]])


def _gate(key: Array, shape, prob, value: Array, identity: float) -> Array:
    """`value` where U[0,1) < prob, else `identity` (one coin per image)."""
    on = jax.random.uniform(key, shape) < prob
    return jnp.where(on, value, identity)


def geometric_matrix(pipe: AdaPipeline, key: Array, shape, p) -> Array:
    """G⁻¹ [B, 3, 3]: output pixel (x, y, 1) about the centre → input pixel (augment.py:192-263)."""
    b, h, w = shape[0], shape[1], shape[2]
    keys = iter(jax.random.split(key, 16))
    m = jnp.broadcast_to(jnp.eye(3), (b, 3, 3))
    if pipe.xflip > 0:
        i = jnp.floor(jax.random.uniform(next(keys), (b,)) * 2)
        i = _gate(next(keys), (b,), pipe.xflip * p, i, 0.0)
        m = m @ _scale2d_inv(1 - 2 * i, jnp.ones_like(i))
    if pipe.rotate90 > 0:
        i = jnp.floor(jax.random.uniform(next(keys), (b,)) * 4)
        i = _gate(next(keys), (b,), pipe.rotate90 * p, i, 0.0).astype(jnp.int32)
        # rotation by −π/2·i with exact entries
        c = jnp.array([1.0, 0.0, -1.0, 0.0])[i]
        s = jnp.array([0.0, -1.0, 0.0, 1.0])[i]
        m = m @ _rotate2d_inv_cs(c, s)
    if pipe.xint > 0:
        t = (jax.random.uniform(next(keys), (b, 2)) * 2 - 1) * pipe.xint_max
        t = _gate(next(keys), (b, 1), pipe.xint * p, t, 0.0)
        m = m @ _translate2d_inv(jnp.round(t[:, 0] * w), jnp.round(t[:, 1] * h))
    if pipe.scale > 0:
        s = jnp.exp2(jax.random.normal(next(keys), (b,)) * pipe.scale_std)
        s = _gate(next(keys), (b,), pipe.scale * p, s, 1.0)
        m = m @ _scale2d_inv(s, s)
    p_rot = 1 - jnp.sqrt(jnp.clip(1 - pipe.rotate * p, 0, 1))  # P(pre or post) = p
    if pipe.rotate > 0:
        theta = (jax.random.uniform(next(keys), (b,)) * 2 - 1) * math.pi * pipe.rotate_max
        theta = _gate(next(keys), (b,), p_rot, theta, 0.0)
        m = m @ _rotate2d_inv_cs(jnp.cos(-theta), jnp.sin(-theta))
    if pipe.aniso > 0:
        s = jnp.exp2(jax.random.normal(next(keys), (b,)) * pipe.aniso_std)
        s = _gate(next(keys), (b,), pipe.aniso * p, s, 1.0)
        m = m @ _scale2d_inv(s, 1 / s)
    if pipe.rotate > 0:
        theta = (jax.random.uniform(next(keys), (b,)) * 2 - 1) * math.pi * pipe.rotate_max
        theta = _gate(next(keys), (b,), p_rot, theta, 0.0)
        m = m @ _rotate2d_inv_cs(jnp.cos(-theta), jnp.sin(-theta))
    if pipe.xfrac > 0:
        t = jax.random.normal(next(keys), (b, 2)) * pipe.xfrac_std
        t = _gate(next(keys), (b, 1), pipe.xfrac * p, t, 0.0)
        m = m @ _translate2d_inv(t[:, 0] * w, t[:, 1] * h)
    return m


def apply_geometric(images: Array, g_inv: Array) -> Array:
    """out[y, x] = in[G⁻¹(x, y)] sampled bilinearly (order 1) with reflecting borders."""
    b, h, w, c = images.shape
    ys, xs = jnp.meshgrid(jnp.arange(h, dtype=jnp.float32) - (h - 1) / 2,
                          jnp.arange(w, dtype=jnp.float32) - (w - 1) / 2, indexing="ij")
    pts = jnp.stack([xs.ravel(), ys.ravel(), jnp.ones(h * w)])          # [3, HW]
    src = g_inv.astype(jnp.float32) @ pts                               # [B, 3, HW]
    src_x = src[:, 0] + (w - 1) / 2
    src_y = src[:, 1] + (h - 1) / 2

    def one(img, sy, sx):  # img [H, W, C]
        sample = lambda ch: jax.scipy.ndimage.map_coordinates(  # noqa: E731
            ch, [sy, sx], order=1, mode="mirror")
        return jax.vmap(sample, in_axes=-1, out_axes=-1)(img).reshape(h, w, c)

    return jax.vmap(one)(images, src_y, src_x).astype(images.dtype)


def _mat4_translate(t: Array) -> Array:
    m = jnp.broadcast_to(jnp.eye(4), t.shape[:1] + (4, 4))
    return m.at[:, :3, 3].set(t[:, None])


def _rotate3d(v: Array, theta: Array) -> Array:
    """Rotation by θ about the unit axis v (first 3 entries), homogeneous 4×4 (augment.py:79-86)."""
    vx, vy, vz = v[0], v[1], v[2]
    s, c = jnp.sin(theta), jnp.cos(theta)
    cc = 1 - c
    o, z = jnp.ones_like(theta), jnp.zeros_like(theta)
    rows = [[vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, z],
            [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, z],
            [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, z],
            [z, z, z, o]]
    return jnp.stack([jnp.stack([jnp.broadcast_to(e, theta.shape) for e in r], -1)
                      for r in rows], -2)


def color_matrix(pipe: AdaPipeline, key: Array, shape, p) -> Array:
    """C [B, 4, 4] acting on (r, g, b, 1) (augment.py:307-350)."""
    b, channels = shape[0], shape[-1]
    keys = iter(jax.random.split(key, 10))
    eye = jnp.eye(4)
    m = jnp.broadcast_to(eye, (b, 4, 4))
    v = jnp.array([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3)
    vv = jnp.outer(v, v)
    if pipe.brightness > 0:
        t = jax.random.normal(next(keys), (b,)) * pipe.brightness_std
        t = _gate(next(keys), (b,), pipe.brightness * p, t, 0.0)
        m = _mat4_translate(t) @ m
    if pipe.contrast > 0:
        s = jnp.exp2(jax.random.normal(next(keys), (b,)) * pipe.contrast_std)
        s = _gate(next(keys), (b,), pipe.contrast * p, s, 1.0)
        m = (jnp.diag(jnp.array([1.0, 1.0, 1.0, 0.0]))[None] * s[:, None, None]
             + jnp.diag(jnp.array([0.0, 0.0, 0.0, 1.0]))[None]) @ m
    if pipe.lumaflip > 0:
        i = jnp.floor(jax.random.uniform(next(keys), (b, 1, 1)) * 2)
        i = _gate(next(keys), (b, 1, 1), pipe.lumaflip * p, i, 0.0)
        m = (eye - 2 * vv * i) @ m
    if pipe.hue > 0 and channels > 1:
        theta = (jax.random.uniform(next(keys), (b,)) * 2 - 1) * math.pi * pipe.hue_max
        theta = _gate(next(keys), (b,), pipe.hue * p, theta, 0.0)
        m = _rotate3d(v, theta) @ m
    if pipe.saturation > 0 and channels > 1:
        s = jnp.exp2(jax.random.normal(next(keys), (b, 1, 1)) * pipe.saturation_std)
        s = _gate(next(keys), (b, 1, 1), pipe.saturation * p, s, 1.0)
        # vvᵀ + (I − vvᵀ)·s on rgb; the homogeneous coordinate kept at 1 (the reference's
        # [3, 3] entry becomes s, which its rows 0-2 never read)
        rgb = jnp.diag(jnp.array([1.0, 1.0, 1.0, 0.0]))
        m = (vv + (rgb - vv) * s + (eye - rgb)) @ m
    return m


def apply_color(images: Array, m: Array) -> Array:
    """(r, g, b) ← C[:3, :3]·rgb + C[:3, 3]; grey: x·Σ_j mean_i C[i, j] + mean_i C[i, 3]."""
    b, h, w, c = images.shape
    x = images.reshape(b, h * w, c).astype(jnp.float32)
    if c == 3:
        x = jnp.einsum("bij,bpj->bpi", m[:, :3, :3], x) + m[:, None, :3, 3]
    elif c == 1:
        rows = jnp.mean(m[:, :3, :], axis=1)                               # [B, 4]
        x = x * jnp.sum(rows[:, :3], axis=-1)[:, None, None] + rows[:, None, 3:]
    else:
        raise ValueError(f"ADA colour transforms need 1 or 3 channels, got {c}")
    return x.reshape(b, h, w, c).astype(images.dtype)


def adjust_p(p: Array, sign_mean: Array, target: float, batch_size: int, interval: int,
             kimg: float) -> Array:
    """p ← max(0, p + sign(r_t − target)·batch·interval/(kimg·1000)) (training_loop.py:312-316)."""
    step = batch_size * interval / (kimg * 1000.0)
    return jnp.maximum(p + jnp.sign(sign_mean - target) * step, 0.0)
