"""uint8 image conversions: resolution (pad, or centre crop + resize), channels, [-1, 1] scaling."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image

from jaxgan.data.errors import DataError

# ITU-R 601-2 luma, the weights PIL's convert('L') uses.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def to_unit_range(images_u8: np.ndarray) -> np.ndarray:
    """x = u / 127.5 − 1 as float32, mapping 0 -> −1 and 255 -> +1 exactly (DCGAN's tanh range)."""
    return images_u8.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def pad_to(image: np.ndarray, resolution: int) -> np.ndarray:
    """Centres [H, W, C] on a zero (black, −1 in data space) [R, R, C] canvas, e.g. 28 -> 32."""
    height, width = image.shape[:2]
    if height > resolution or width > resolution:
        raise DataError(f"cannot pad {height}x{width} images to {resolution}x{resolution}; "
                        f"use resize_method='resize'")
    top, left = (resolution - height) // 2, (resolution - width) // 2
    bottom, right = resolution - height - top, resolution - width - left
    return np.pad(image, ((top, bottom), (left, right), (0, 0)))


def crop_resize(image: np.ndarray, resolution: int) -> np.ndarray:
    """Centre-crops [H, W, C] to a square of side min(H, W), then resizes with PIL bilinear
    (antialiased when shrinking) to [R, R, C]."""
    height, width = image.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    square = image[top:top + side, left:left + side]
    if side == resolution:
        return square
    channels = square.shape[2]
    pil = Image.fromarray(square[..., 0] if channels == 1 else square)
    resized = np.asarray(pil.resize((resolution, resolution), Image.BILINEAR))
    return resized.reshape(resolution, resolution, channels)


RESIZE_METHODS: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "pad": pad_to,
    "resize": crop_resize,
}


def choose_resize_method(method: str, source_hw: tuple[int | None, int | None],
                         resolution: int) -> str:
    """Resolves 'auto': 'pad' for a square source a little smaller than the target
    (H = W < R < 2H, e.g. 28 -> 32), else 'resize'."""
    height, width = source_hw
    if method != "auto":
        if method not in RESIZE_METHODS:
            raise DataError(f"unknown resize_method {method!r}; use one of "
                            f"{['auto', *RESIZE_METHODS]}")
        if method == "pad" and max(height or 0, width or 0) > resolution:
            raise DataError(f"cannot pad {height}x{width} images to {resolution}x{resolution}; "
                            f"use resize_method='resize'")
        return method
    if height is not None and height == width and height < resolution < 2 * height:
        return "pad"
    return "resize"


def to_luminance(image: np.ndarray) -> np.ndarray:
    """RGB [H, W, 3] -> grey [H, W, 1], L = 0.299 R + 0.587 G + 0.114 B (ITU-R 601-2), rounded."""
    luma = np.rint(image[..., :3].astype(np.float64) @ LUMA_WEIGHTS)
    return np.clip(luma, 0, 255).astype(np.uint8)[..., None]


def convert_images(images: Sequence[np.ndarray], resolution: int | None, channels: int,
                   method: str) -> np.ndarray:
    """Converts uint8 [H, W, C] images to one uint8 array [N, R, R, channels].

    Grey -> RGB tiles the channel; RGB -> grey takes the luminance; an alpha channel is dropped.
    `resolution=None` keeps the (square) size; `method` is 'pad' or 'resize' (see above).
    """
    resize = RESIZE_METHODS[method]
    out = []
    for image in images:
        if image.ndim == 2:
            image = image[..., None]
        if channels == 1 and image.shape[2] >= 3:
            image = to_luminance(image)
        elif image.shape[2] == 4:
            image = image[..., :3]
        if resolution is not None and image.shape[:2] != (resolution, resolution):
            image = resize(image, resolution)
        if channels == 3 and image.shape[2] == 1:
            image = np.repeat(image, 3, axis=2)
        out.append(image)
    return np.stack(out).astype(np.uint8, copy=False)
