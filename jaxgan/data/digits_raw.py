"""The 1,797 real 8x8 handwritten digits shipped inside scikit-learn, as uint8 images.

This is the single definition of how the embedded digits become images: the TFDS builder and the
metrics classifier both use it, so what the classifier was trained on is what the GAN sees.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

ALLOWED_RESOLUTIONS = (8, 16, 32, 64)


def load_digits_uint8(resolution: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Returns (images uint8 [N, R, R, 1], labels int64 [N]) in scikit-learn's order.

    The 0..16 intensities are scaled to 0..255 and upsampled with PIL's bilinear filter.
    """
    if resolution not in ALLOWED_RESOLUTIONS:
        raise ValueError(
            f"digits resolution must be one of {ALLOWED_RESOLUTIONS}, got {resolution}")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    raw = np.round(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    if resolution == 8:
        images = raw
    else:
        images = np.stack([
            np.asarray(Image.fromarray(img).resize((resolution, resolution), Image.BILINEAR))
            for img in raw
        ])
    return images[..., None], bunch.target.astype(np.int64)
