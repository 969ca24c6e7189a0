"""`digits_shifted`: the embedded digits at half size, each at a random place of a black canvas —
a variant where pixel distances break down (issue 18's "digits at random shifts").

Digit i of `digits_raw.load_digits_uint8(R // 2)` (the same 1,797 digits and labels as `digits`)
is pasted at offset (dy_i, dx_i) ~ U{0, …, R/2}² of an R×R black canvas:
    out_i[dy_i + u, dx_i + v] = d_i[u, v],   0 elsewhere   (uint8, one channel).
Two images of the same digit share few lit pixels unless their offsets are close, so a nearest
neighbour in pixel space mostly finds digits at the same place; a convolutional G and D see the
same strokes anywhere. Every draw comes from numpy's Generator seeded with `DIGITS_SHIFTED_SEED`:
one fixed data set, built in memory on first use. At R = 16 the digits are the native 8×8 ones.
"""
from __future__ import annotations

import functools

import numpy as np

from jaxgan.data import digits_raw
from jaxgan.data.errors import DataError

DIGITS_SHIFTED_SEED = 20_181_018
NAME = "digits_shifted"
ALLOWED_RESOLUTIONS = tuple(2 * r for r in digits_raw.ALLOWED_RESOLUTIONS if 2 * r <= 64)


def shifts(num: int, resolution: int, seed: int = DIGITS_SHIFTED_SEED) -> np.ndarray:
    """int64 [num, 2]: the (dy, dx) offset of every digit, each uniform on {0, …, R/2}."""
    rng = np.random.default_rng([seed, resolution])
    return rng.integers(0, resolution // 2 + 1, size=(num, 2))


@functools.lru_cache(maxsize=4)
def load_digits_shifted_uint8(resolution: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(images read-only uint8 [1797, R, R, 1], labels int64 [1797]) in the digits' order."""
    if resolution not in ALLOWED_RESOLUTIONS:
        raise DataError(f"{NAME} resolution must be one of {ALLOWED_RESOLUTIONS}, got "
                        f"{resolution}")
    half = resolution // 2
    digits, labels = digits_raw.load_digits_uint8(half)
    images = np.zeros((len(digits), resolution, resolution, 1), np.uint8)
    for image, digit, (dy, dx) in zip(images, digits, shifts(len(digits), resolution)):
        image[dy:dy + half, dx:dx + half] = digit
    images.setflags(write=False)
    return images, labels
