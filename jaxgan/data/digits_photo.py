"""`digits_photo`: the embedded digits blended over crops of photographs, MNIST-M style — the second
domain of the offline CycleGAN pair (domain A: `digits`).

MNIST-M (Ganin et al. 2016, arXiv:1505.07818, §5.1) blends each MNIST digit over a random patch of
a colour photograph: out = |patch − digit|, channel by channel. Here the photographs are the two
that scikit-learn ships (`sklearn.datasets.load_sample_images`: china.jpg, flower.jpg, 427×640), so
the set needs no download. Digit i of `digits_raw.load_digits_uint8(R)` (the same 1,797 digits and
labels as `digits`) gets photo p_i ~ U{0, 1}, a square crop of side s_i ~ U{R, …, 4R} at a uniform
position, resized to R×R (PIL bilinear), and
    out_i = |crop_i − d_i|  (uint8, RGB; d_i the grey digit tiled to 3 channels),
so the background is the photo and the strokes are its negative. Every draw comes from
numpy's Generator seeded with `DIGITS_PHOTO_SEED`: one fixed data set. Built in memory on first use
(about 0.1 s at 16 px); labels are the source digits' labels (for evaluating translations).
"""
from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from jaxgan.data import digits_raw
from jaxgan.data.errors import DataError

DIGITS_PHOTO_SEED = 20_170_330
NAME = "digits_photo"


@functools.lru_cache(maxsize=1)
def _photos() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_sample_images

    return tuple(np.asarray(img, np.uint8) for img in load_sample_images().images)


def photo_crops(num: int, resolution: int, seed: int = DIGITS_PHOTO_SEED) -> np.ndarray:
    """uint8 [num, R, R, 3]: crop k of a random photo, side U{R..4R} at a uniform place, resized."""
    rng = np.random.default_rng([seed, resolution])
    photos = _photos()
    crops = np.empty((num, resolution, resolution, 3), np.uint8)
    for k in range(num):
        photo = photos[rng.integers(len(photos))]
        side = int(rng.integers(resolution, 4 * resolution + 1))
        top = int(rng.integers(photo.shape[0] - side + 1))
        left = int(rng.integers(photo.shape[1] - side + 1))
        patch = photo[top:top + side, left:left + side]
        crops[k] = np.asarray(Image.fromarray(patch).resize((resolution, resolution),
                                                            Image.BILINEAR))
    return crops


def blend(digits_u8: np.ndarray, crops_u8: np.ndarray) -> np.ndarray:
    """|crop − digit| per channel (MNIST-M), uint8; grey digits [N, R, R, 1] tile to RGB."""
    digit = digits_u8.astype(np.int16)
    return np.abs(crops_u8.astype(np.int16) - digit).astype(np.uint8)


def blended_digits(name: str, resolution: int, blend_fn) -> tuple[np.ndarray, np.ndarray]:
    """(blend_fn(digits, crops) read-only uint8 [1797, R, R, 3], labels int64 [1797]): the
    digits over this module's photo crops, in the digits' order; `name` for the error line."""
    if resolution not in digits_raw.ALLOWED_RESOLUTIONS:
        raise DataError(f"{name} resolution must be one of {digits_raw.ALLOWED_RESOLUTIONS}, "
                        f"got {resolution}")
    digits, labels = digits_raw.load_digits_uint8(resolution)
    images = blend_fn(digits, photo_crops(len(digits), resolution))
    images.setflags(write=False)
    return images, labels


@functools.lru_cache(maxsize=4)
def load_digits_photo_uint8(resolution: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [1797, R, R, 3], labels int64 [1797]) in the digits' order."""
    return blended_digits(NAME, resolution, blend)
