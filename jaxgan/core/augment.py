"""Transforms of the discriminator's inputs: DiffAugment and instance noise, composed.

A D-input transform is a pure function `(real, fake, key, step) -> (real, fake)` of the pair of
batches the discriminator is about to see (`GAN.augment`, applied by jaxgan.core.step in every D
and G update, with one key per update and `step` = the state's generator step). Seeing the pair at
once lets a transform decide how the two sides share randomness:

* DiffAugment (Zhao et al. 2020, arXiv:2006.10738) draws its per-example parameters from `key` and
  the batch shape only, and applies them to both sides: row i of the real batch and row i of the
  fake batch get the same translation, cutout square and colour change. Every operation is
  differentiable in the images, so G's gradient flows through T(G(z)).
* Instance noise (Sønderby et al. 2016, arXiv:1610.04490; Arjovsky & Bottou 2017,
  arXiv:1701.04862) adds independent N(0, σ(step)²) noise to each side, σ annealed linearly to 0.

`compose(t1, t2, ...)` chains transforms (t1 first), each with its own key fold_in(key, i).
`build_augment(config)` is the transform a config asks for (None when none).
"""
from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import ml_collections

from jaxgan.core.registry import Registry

Array = jax.Array
PairTransform = Callable[[Array, Array, Array, Array], tuple[Array, Array]]
ImageOp = Callable[[Array, Array], Array]  # (images [B, H, W, C], key) -> images


# --- DiffAugment operations (Zhao et al. 2020); random draws depend on key and shape only --------

def _per_example_uniform(key: Array, x: Array) -> Array:
    return jax.random.uniform(key, (x.shape[0], 1, 1, 1), x.dtype)


def rand_brightness(x: Array, key: Array) -> Array:
    """x + b, b ~ U[−0.5, 0.5) per example (Zhao et al. 2020, `rand_brightness`)."""
    return x + (_per_example_uniform(key, x) - 0.5)


def rand_saturation(x: Array, key: Array) -> Array:
    """(x − x̄_c)·s + x̄_c, x̄_c the per-pixel channel mean, s ~ U[0, 2) per example.

    Zhao et al. 2020 (`rand_saturation`); a no-op on one-channel images.
    """
    mean = jnp.mean(x, axis=-1, keepdims=True)
    return (x - mean) * (2.0 * _per_example_uniform(key, x)) + mean


def rand_contrast(x: Array, key: Array) -> Array:
    """(x − x̄)·c + x̄, x̄ the per-example mean, c ~ U[0.5, 1.5) (Zhao et al. 2020)."""
    mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
    return (x - mean) * (_per_example_uniform(key, x) + 0.5) + mean


def _translate_axis(x: Array, shift: Array, axis: int) -> Array:
    """out[..., i, ...] = x[..., i + shift_b, ...] along `axis` (1 or 2), 0 outside the image."""
    size = x.shape[axis]
    source = jnp.arange(size)[None, :] + shift[:, None]  # [B, size]
    inside = (source >= 0) & (source < size)
    index = jnp.clip(source, 0, size - 1)
    index_shape = (x.shape[0], size, 1, 1) if axis == 1 else (x.shape[0], 1, size, 1)
    gathered = jnp.take_along_axis(x, index.reshape(index_shape), axis=axis)
    return gathered * inside.reshape(index_shape).astype(x.dtype)


def rand_translation(x: Array, key: Array, ratio: float = 0.125) -> Array:
    """Shift each image by (t_h, t_w) pixels, t ~ U{−s, …, s}, s = ⌊ratio·size + ½⌋, zero fill.

    Zhao et al. 2020 (`rand_translation`, ratio 1/8): out[i, j] = x[i + t_h, j + t_w].
    """
    batch, height, width = x.shape[:3]
    shift_h, shift_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    key_h, key_w = jax.random.split(key)
    t_h = jax.random.randint(key_h, (batch,), -shift_h, shift_h + 1)
    t_w = jax.random.randint(key_w, (batch,), -shift_w, shift_w + 1)
    return _translate_axis(_translate_axis(x, t_h, 1), t_w, 2)


def rand_cutout(x: Array, key: Array, ratio: float = 0.5) -> Array:
    """Zero a square of side k = ⌊ratio·size + ½⌋ per image, centred at o ~ U{0, …, size − k mod 2}.

    Zhao et al. 2020 (`rand_cutout`, ratio 1/2): rows [o_h − ⌊k/2⌋, o_h − ⌊k/2⌋ + k) (and the same
    for columns), clipped to the image, are set to 0.
    """
    batch, height, width = x.shape[:3]
    size_h, size_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    key_h, key_w = jax.random.split(key)
    o_h = jax.random.randint(key_h, (batch, 1), 0, height + (1 - size_h % 2)) - size_h // 2
    o_w = jax.random.randint(key_w, (batch, 1), 0, width + (1 - size_w % 2)) - size_w // 2
    rows, cols = jnp.arange(height)[None, :], jnp.arange(width)[None, :]
    in_h = (rows >= o_h) & (rows < o_h + size_h)  # [B, H]
    in_w = (cols >= o_w) & (cols < o_w + size_w)  # [B, W]
    keep = 1.0 - (in_h[:, :, None] & in_w[:, None, :]).astype(x.dtype)
    return x * keep[..., None]


DIFF_AUGMENT_POLICIES: Registry[tuple[ImageOp, ...]] = Registry("DiffAugment policy", {
    "color": (rand_brightness, rand_saturation, rand_contrast),
    "translation": (rand_translation,),
    "cutout": (rand_cutout,),
})
"""Zhao et al. 2020's policies; their recommended combination is 'color,translation,cutout'."""


def parse_policy(policy: str | Sequence[str]) -> tuple[str, ...]:
    """'color,translation' → ('color', 'translation'), each checked against the registry."""
    names = tuple(p.strip() for p in (policy.split(",") if isinstance(policy, str) else policy))
    names = tuple(n for n in names if n)
    for name in names:
        DIFF_AUGMENT_POLICIES[name]  # raises, listing the valid policies
    return names


def diff_augment_images(x: Array, key: Array, policy: str | Sequence[str]) -> Array:
    """T(x): the operations of `policy` in order, operation i drawing from fold_in(key, i).

    Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training". Images are
    NHWC; the draws depend only on `key` and x's shape, so equal keys give equal transforms.
    """
    if x.ndim != 4:
        raise ValueError(f"DiffAugment needs NHWC image batches, got shape {x.shape}; "
                         f"set diffaugment='' for non-image data")
    ops = [op for name in parse_policy(policy) for op in DIFF_AUGMENT_POLICIES[name]]
    for i, op in enumerate(ops):
        x = op(x, jax.random.fold_in(key, i))
    return x


def diff_augment(policy: str | Sequence[str]) -> PairTransform:
    """The D-input transform (real, fake) → (T(real), T(fake)) with the same draws for both sides.

    Zhao et al. 2020 apply the same augmentation T to real and generated images in both the D and
    the G update; here row i of each side also shares T's random parameters.
    """
    names = parse_policy(policy)

    def transform(real: Array, fake: Array, key: Array, step: Array) -> tuple[Array, Array]:
        del step
        if real.shape != fake.shape:
            raise ValueError(f"DiffAugment pairs real and fake rows: shapes {real.shape} and "
                             f"{fake.shape} differ")
        return diff_augment_images(real, key, names), diff_augment_images(fake, key, names)

    return transform


# --- instance noise -------------------------------------------------------------------------------

def instance_noise_std(step: Array | int, std: float, anneal_steps: int) -> Array:
    """σ(step) = std·max(0, 1 − step/anneal_steps) (constant `std` when anneal_steps is 0).

    Linear annealing of instance noise to 0 (Sønderby et al. 2016, arXiv:1610.04490).
    """
    step = jnp.asarray(step, jnp.float32)
    if anneal_steps <= 0:
        return jnp.full_like(step, std)
    return std * jnp.maximum(0.0, 1.0 - step / anneal_steps)


def instance_noise(std: float, anneal_steps: int = 0) -> PairTransform:
    """(real, fake) → (real + σ·ε_r, fake + σ·ε_f), ε ~ N(0, I) independent, σ = σ(step).

    Instance noise (Sønderby et al. 2016; Arjovsky & Bottou 2017, arXiv:1701.04862): both
    distributions are convolved with N(0, σ²I), so they overlap and D's optimum stays smooth.
    """
    if std < 0 or anneal_steps < 0:
        raise ValueError(f"instance noise needs std >= 0 and anneal_steps >= 0, got std={std}, "
                         f"anneal_steps={anneal_steps}")

    def transform(real: Array, fake: Array, key: Array, step: Array) -> tuple[Array, Array]:
        sigma = instance_noise_std(step, std, anneal_steps).astype(real.dtype)
        key_real, key_fake = jax.random.split(key)
        return (real + sigma * jax.random.normal(key_real, real.shape, real.dtype),
                fake + sigma * jax.random.normal(key_fake, fake.shape, fake.dtype))

    return transform


# --- composition ----------------------------------------------------------------------------------

def compose(*transforms: PairTransform) -> PairTransform:
    """t_n ∘ … ∘ t_1 on the pair; t_i draws from fold_in(key, i)."""

    def transform(real: Array, fake: Array, key: Array, step: Array) -> tuple[Array, Array]:
        for i, t in enumerate(transforms):
            real, fake = t(real, fake, jax.random.fold_in(key, i), step)
        return real, fake

    return transform


def build_augment(config: ml_collections.ConfigDict) -> PairTransform | None:
    """DiffAugment (`config.diffaugment`, e.g. 'color,translation,cutout') then instance noise
    (`config.instance_noise_std`, annealed over `config.instance_noise_anneal_steps`); None if
    neither is on."""
    transforms = []
    if parse_policy(config.get("diffaugment", "")):
        transforms.append(diff_augment(config.diffaugment))
    if config.get("instance_noise_std", 0.0) != 0:  # a negative std raises in instance_noise
        transforms.append(instance_noise(config.instance_noise_std,
                                         config.get("instance_noise_anneal_steps", 0)))
    if not transforms:
        return None
    return transforms[0] if len(transforms) == 1 else compose(*transforms)
