"""`digits_photo_bright`: the embedded digits drawn as bright strokes over darkened crops of
photographs — domain B of the shipped offline CycleGAN pair (domain A: `digits`).

Why not MNIST-M's blend (`digits_photo`, out = |crop − digit|): wherever the crop is bright, |·|
draws the digit *dark on light* (44% of `digits_photo`). A CycleGAN generator G: A → B is
deterministic, so it picks one look — bright strokes on a dark crop — and F: B → A never sees a
dark-stroked digit except through F(G(a)); measured, F kept the digit of real B in 46.5% of
held-out images (benchmarks/README.md, "#19 session 6"). Here every stroke is brighter than every
background pixel, as in the images G learns to draw, so reading a real b needs nothing that G(a)
never shows: G still picks one crop per digit (a deterministic map cannot cover all crops), but
the digit's polarity no longer depends on the crop. `digits_photo` stays as the harder set
(experiments/cyclegan_digits_mnistm.py).

Formula. Digit i of `digits_raw.load_digits_uint8(R)` (the same 1,797 digits and labels as
`digits`), as intensity d_i ∈ [0, 1] (grey, tiled to RGB), over crop c_i = the crop of
`digits_photo.photo_crops` (the same crops as `digits_photo`, uint8 RGB in [0, 255]):
    out_i = round(c_i / 2 + 255 · d_i / 2)            (uint8, RGB)
i.e. the background is the crop at half contrast (c/2 ∈ [0, 127.5]) and the stroke, where d = 1,
is the crop lifted into the bright half (c/2 + 127.5 ∈ [127.5, 255]: a pale tint of the photo's
colour). Hence, per pixel and channel, out − c/2 = 127.5 · d (the stroke is brighter than the
background it covers by 127.5 · d), and every full stroke pixel (d = 1) is at least as bright as
every background pixel (d = 0) anywhere in the image. Deterministic (no draws beyond the crops,
seeded with `digits_photo.DIGITS_PHOTO_SEED`); built in memory on first use.
"""
from __future__ import annotations

import functools

import numpy as np

from jaxgan.data import digits_photo

NAME = "digits_photo_bright"
STROKE_LIFT = 127.5  # out − crop/2 where the digit is fully on (d = 1), in uint8 levels


def blend(digits_u8: np.ndarray, crops_u8: np.ndarray) -> np.ndarray:
    """round(crop/2 + 255·d/2) per channel, uint8; grey digits [N, R, R, 1] tile to RGB."""
    out = crops_u8.astype(np.float32) / 2 + digits_u8.astype(np.float32) / 2
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@functools.lru_cache(maxsize=4)
def load_digits_photo_bright_uint8(resolution: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [1797, R, R, 3], labels int64 [1797]) in the digits' order."""
    return digits_photo.blended_digits(NAME, resolution, blend)
