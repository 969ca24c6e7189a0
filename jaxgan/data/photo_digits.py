"""The embedded "digits over photographs" sets, by name: each is built in memory from the
scikit-learn digits and crops of scikit-learn's sample photographs, image i showing digit i of
`digits` (same labels, same order). `LOADERS[name](resolution)` → (uint8 [1797, R, R, 3], labels).

- `digits_photo` (jaxgan.data.digits_photo): MNIST-M's blend |crop − digit|;
- `digits_photo_bright` (jaxgan.data.digits_photo_bright): crop/2 + digit/2, strokes always
  brighter than the background.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from jaxgan.data import digits_photo, digits_photo_bright

LOADERS: dict[str, Callable[[int], tuple[np.ndarray, np.ndarray]]] = {
    digits_photo.NAME: digits_photo.load_digits_photo_uint8,
    digits_photo_bright.NAME: digits_photo_bright.load_digits_photo_bright_uint8,
}
