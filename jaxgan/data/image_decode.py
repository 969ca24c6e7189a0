"""One image file (or array) -> uint8 [R, R, C] pixels, the conversion `jaxgan prepare` applies.

Every step is fixed and documented so that a prepared data set says exactly what it holds:

1. Decode with Pillow (any format it reads: PNG, JPEG, BMP, WebP, TIFF, GIF, ...; animated files
   give their first frame). Truncated or corrupt files raise `ImageSkipped` with the reason. The
   EXIF orientation tag is applied (`PIL.ImageOps.exif_transpose`), so photos stand as viewers show
   them.
2. Mode -> 8-bit L or RGB:
   * '1' (bilevel) -> L with 0/255.
   * 16-bit grey (I;16, I;16B, I;16L; 'I' holding values in [0, 65535]) is scaled, not clipped:
     u8 = round(v · 255 / 65535). (Pillow's own convert('L') clips every value above 255 to white.)
     'I' values outside [0, 65535] are refused; 'F' (float TIFF) is read as [0, 1], clipped,
     u8 = round(255 · v).
   * P (palette) and PA -> RGBA through the palette (its transparency becomes alpha).
   * LA, RGBA (and premultiplied La, RGBa, converted first) are composited on the background
     colour b (`background`, default 0 = black, i.e. −1 in data space, the same value that pads
     non-square images): u8 = round_half_up((c · a + b · (255 − a)) / 255).
   * CMYK, YCbCr, LAB, HSV -> RGB with Pillow's conversion (CMYK: R = (255 − C)(255 − K) / 255,
     no ICC colour management).
3. Channels: RGB -> grey with Pillow's ITU-R 601-2 luma
   L = (19595 R + 38470 G + 7471 B + 2^15) >> 16 (0.299 R + 0.587 G + 0.114 B, rounded);
   grey -> RGB repeats the channel.
4. Square: crop='center' keeps the centred min(H, W) square (left = ⌊(W − s)/2⌋,
   top = ⌊(H − s)/2⌋); crop='none' loses nothing and centres the image on a max(H, W) square of
   the background colour.
5. Resolution R (None: keep the side): shrinking uses Pillow's BOX filter (each output pixel the
   area-weighted mean of the input pixels it covers: exact averaging, no aliasing), enlarging
   Pillow's LANCZOS (a = 3) filter, as StyleGAN2-ADA's dataset_tool does (Karras et al. 2020,
   arXiv:2006.06676). Parmar et al. 2022 ("On Aliased Resizing and Surprising Subtleties in GAN
   Evaluation", arXiv:2104.11222) show that non-antialiased resizing changes FID; both filters here
   are antialiased.

Stored images are PNG (lossless), so the prepared pixels are exactly those computed here.

Worker-side code of `jaxgan.data.prepare_images`: imports only numpy and Pillow.
"""
from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps

CROPS = ("center", "none")
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
ALPHA_MODES = ("LA", "RGBA")
_READ_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError,
                Image.DecompressionBombError, zipfile.BadZipFile)


class ImageSkipped(Exception):
    """This file is not a readable image; the message is the reason (one short phrase)."""


def composite(pixels: np.ndarray, background: int) -> np.ndarray:
    """[H, W, C+1] uint8 colour + alpha -> [H, W, C] uint8 over a grey background b:
    round_half_up((c·a + b·(255 − a)) / 255), in integers (exact, deterministic)."""
    colour = pixels[..., :-1].astype(np.int32)
    alpha = pixels[..., -1:].astype(np.int32)
    mixed = colour * alpha + int(background) * (255 - alpha)
    return ((2 * mixed + 255) // 510).astype(np.uint8)


def to_8bit(image: Image.Image, background: int) -> Image.Image:
    """Any Pillow mode -> an 8-bit 'L' or 'RGB' image (steps 1-2 of the module docstring)."""
    mode = image.mode
    if mode in SIXTEEN_BIT_MODES or mode == "I":
        values = np.asarray(image).astype(np.int64)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise ImageSkipped(f"{mode} pixels outside [0, 65535] (min {values.min()}, "
                               f"max {values.max()})")
        return Image.fromarray(((values * 255 + 32767) // 65535).astype(np.uint8), "L")
    if mode == "F":
        values = np.asarray(image, np.float64)
        if not np.all(np.isfinite(values)):
            raise ImageSkipped("float pixels that are NaN or infinite")
        return Image.fromarray(np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8), "L")
    if mode == "1":
        return image.convert("L")
    if mode in ("P", "PA"):
        image = image.convert("RGBA")
    elif mode == "La":
        image = image.convert("LA")
    elif mode == "RGBa":
        image = image.convert("RGBA")
    if image.mode in ALPHA_MODES:
        pixels = composite(np.asarray(image), background)
        return Image.fromarray(pixels[..., 0] if image.mode == "LA" else pixels,
                               "L" if image.mode == "LA" else "RGB")
    if image.mode in ("L", "RGB"):
        return image
    return image.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...


def to_channels(image: Image.Image, channels: int) -> Image.Image:
    """8-bit L/RGB -> 'L' (ITU-R 601-2 luma) for channels=1, 'RGB' (grey repeated) for 3."""
    wanted = "L" if channels == 1 else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


def to_square(image: Image.Image, crop: str, background: int) -> Image.Image:
    """Centre crop to the min side (crop='center') or centre on a max-side canvas ('none')."""
    width, height = image.size
    if width == height:
        return image
    if crop == "center":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return image.crop((left, top, left + side, top + side))
    side = max(width, height)
    fill = background if image.mode == "L" else (background,) * 3
    canvas = Image.new(image.mode, (side, side), fill)
    canvas.paste(image, ((side - width) // 2, (side - height) // 2))
    return canvas


def resize(image: Image.Image, resolution: int | None) -> Image.Image:
    """To resolution x resolution: BOX (area averaging) when shrinking, LANCZOS when enlarging."""
    side = image.size[0]
    if resolution is None or side == resolution:
        return image
    method = Image.Resampling.BOX if side > resolution else Image.Resampling.LANCZOS
    return image.resize((resolution, resolution), method)


def convert_image(image: Image.Image, *, resolution: int | None, channels: int, crop: str,
                  background: int) -> np.ndarray:
    """A decoded Pillow image -> uint8 [R, R, channels] (steps 2-5 of the module docstring)."""
    image = to_channels(to_8bit(image, background), channels)
    image = resize(to_square(image, crop, background), resolution)
    pixels = np.asarray(image, np.uint8)
    return pixels.reshape(*pixels.shape[:2], channels)


def decode_bytes(data: bytes, **options) -> np.ndarray:
    """Encoded image bytes -> uint8 [R, R, C]; raises ImageSkipped with the reason."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)  # the first frame of an animation
            image.load()
            image = ImageOps.exif_transpose(image)
            return convert_image(image, **options)
    except ImageSkipped:
        raise
    except Image.UnidentifiedImageError:
        raise ImageSkipped("not an image file Pillow can identify") from None
    except _READ_ERRORS as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ImageSkipped(reason[:120]) from None


def array_to_image(pixels: np.ndarray) -> Image.Image:
    """uint8 [H, W] or [H, W, C] with C in 1 (L), 2 (LA), 3 (RGB), 4 (RGBA) -> a Pillow image."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    pixels = np.ascontiguousarray(pixels, np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 2:  # Image.fromarray has no 2-channel mode
        return Image.frombytes("LA", pixels.shape[1::-1], pixels.tobytes())
    return Image.fromarray(pixels)


def encode_png(pixels: np.ndarray) -> bytes:
    """uint8 [R, R, C] -> PNG bytes (Pillow, default zlib level 6: deterministic, lossless)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# A decoded example as it travels back from a worker: (png bytes, raw pixels) or a skip reason.
Result = tuple[bytes, np.ndarray] | str


def _finish(pixels: np.ndarray) -> tuple[bytes, np.ndarray]:
    return encode_png(pixels), pixels


def decode_files(container: str | None, names: Sequence[str], options: dict) -> list[Result]:
    """Worker task: the files `names` (paths, or members of the zip `container`) -> results."""
    results: list[Result] = []
    archive = zipfile.ZipFile(container) if container is not None else None
    try:
        for name in names:
            try:
                if archive is not None:
                    data = archive.read(name)
                else:
                    with open(name, "rb") as handle:
                        data = handle.read()
            except (OSError, zipfile.BadZipFile, KeyError) as err:
                results.append(f"cannot read: {getattr(err, 'strerror', None) or err}")
                continue
            try:
                results.append(_finish(decode_bytes(data, **options)))
            except ImageSkipped as err:
                results.append(str(err))
    finally:
        if archive is not None:
            archive.close()
    return results


def decode_arrays(pixels: np.ndarray, options: dict) -> list[Result]:
    """Worker task: uint8 arrays [n, H, W(, C)] -> results."""
    out: list[Result] = []
    for image in pixels:
        try:
            out.append(_finish(convert_image(array_to_image(image), **options)))
        except ImageSkipped as err:
            out.append(str(err))
    return out


def file_label(path: str) -> str:
    """A short name for messages: the last two path parts."""
    parts = path.replace(os.sep, "/").split("/")
    return "/".join(parts[-2:])
