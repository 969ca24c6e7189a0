"""A trained CycleGAN run: load it, translate images A → B or B → A, and evaluate it.

`load_cyclegan_run(workdir, step)` restores the latest (or `step`) checkpoint of a run trained with
task 'cyclegan' (jaxgan.training.cyclegan_loop); `translate_images(run, images, direction)` maps
NHWC images in [-1, 1]; `read_images(path, shape)` reads the inputs of `jaxgan translate` (a .npy
array, or a folder of image files decoded as `jaxgan prepare` does, jaxgan.data.image_decode);
`evaluate_cyclegan(run)` computes the metrics of the embedded digits pairs (below): domain A =
`digits`, domain B = one of the digits-over-photographs sets of jaxgan.data.photo_digits
(`digits_photo_bright`, the shipped experiment's; `digits_photo`, MNIST-M's blend).

Metrics (issue 19), on the 359 held-out digits of `jaxgan.metrics.digits_classifier.held_out_split`
in both domains (held out from the classifiers; the CycleGAN trains on all 1,797 images of each
domain, unpaired):
  digit_kept_a2b: fraction of G(a) that domain B's digit classifier (the one of the run's
      dataset_b, jaxgan.metrics.digits_photo_classifier) reads as a's digit;
  digit_kept_b2a: fraction of F(b) that the shipped digits classifier reads as b's digit;
  target_domain_a2b / _b2a: fraction of G(a) (F(b)) the domain classifier (real A vs real B)
      puts in B (A);
  cycle_error_a / _b: mean over images of ‖F(G(a)) − a‖₁ / (H·W·C), the mean absolute pixel error
      in data units ([-1, 1]; also reported summed per image, `cycle_l1_a`, `cycle_l1_b`);
  plus each classifier's accuracy on the real held-out images of its domain.
For other data sets only the cycle errors are computed.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxgan import data
from jaxgan.config.cyclegan import build_cyclegan
from jaxgan.core import cyclegan as core
from jaxgan.data import image_decode
from jaxgan.training import cyclegan_loop
from jaxgan.training.checkpoint import Checkpointer, CheckpointError
from jaxgan.training.run import run_keys
from jaxgan.training.run_config import config_from_dict
from jaxgan.training.workdir import CHECKPOINT_DIR, CONFIG_FILE, WorkdirError

DIRECTIONS = ("a2b", "b2a")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
EVAL_FILE = "eval.json"


@dataclasses.dataclass(frozen=True)
class CycleGANRun:
    workdir: pathlib.Path
    config: ml_collections.ConfigDict
    cg: core.CycleGAN
    state: core.CycleGANState
    step: int


def is_cyclegan_workdir(workdir: str | pathlib.Path) -> bool:
    """Whether DIR/config.json names task 'cyclegan'."""
    path = pathlib.Path(workdir).expanduser() / CONFIG_FILE
    try:
        return json.loads(path.read_text()).get("task") == "cyclegan"
    except (OSError, ValueError, AttributeError):
        return False


def load_cyclegan_run(workdir: str | pathlib.Path, step: int | None = None) -> CycleGANRun:
    workdir = pathlib.Path(workdir).expanduser().absolute()
    path = workdir / CONFIG_FILE
    try:
        config = config_from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise WorkdirError(f"{path} not found: {workdir} is not a jaxgan workdir (run `jaxgan "
                           f"train --config cyclegan_digits --workdir {workdir}` first)") from None
    except (OSError, ValueError) as err:
        raise WorkdirError(f"cannot read the run config {path}: {err}") from None
    if config.get("task") != "cyclegan":
        raise WorkdirError(f"{workdir} is not a CycleGAN run (its config has task "
                           f"{config.get('task', 'gan')!r}); `jaxgan translate` needs one")
    if not (workdir / CHECKPOINT_DIR).is_dir():
        raise CheckpointError(f"no checkpoint in {workdir / CHECKPOINT_DIR}; train first")
    name_a, options_a = cyclegan_loop.domain_data(config, "a")
    name_b, options_b = cyclegan_loop.domain_data(config, "b")
    shape_a = data.get_spec(name_a, **options_a).shape
    shape_b = data.get_spec(name_b, **options_b).shape
    cg = build_cyclegan(config, shape_a, shape_b)
    checkpointer = Checkpointer(workdir / CHECKPOINT_DIR)
    try:
        if checkpointer.latest_step() is None:
            raise CheckpointError(f"no checkpoint in {workdir / CHECKPOINT_DIR}; train first")
        target = jax.eval_shape(functools.partial(core.create_state, cg),
                                run_keys(config.seed).init)
        restored = checkpointer.restore(target, step=step, move_corrupt=False)
    finally:
        checkpointer.close()
    return CycleGANRun(workdir, config, cg, restored.state, int(restored.step))


@functools.partial(jax.jit, static_argnums=(0, 3))
def _translate(cg, state, x, direction):
    return core.translate(cg, state, x, direction)


def translate_images(run: CycleGANRun, images: np.ndarray, direction: str,
                     batch_size: int = 256) -> np.ndarray:
    """G(images) ('a2b') or F(images) ('b2a'), float32 NHWC in [-1, 1]."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    shape = run.cg.shape_a if direction == "a2b" else run.cg.shape_b
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or tuple(images.shape[1:]) != tuple(shape):
        raise ValueError(f"direction {direction} takes images of shape [N, "
                         f"{', '.join(map(str, shape))}], got {list(images.shape)}")
    out = []
    for start in range(0, len(images), batch_size):
        chunk = images[start:start + batch_size]
        n = len(chunk)
        if n < batch_size and len(images) > batch_size:  # one compiled shape
            chunk = np.concatenate([chunk, np.repeat(chunk[:1], batch_size - n, axis=0)])
        out.append(np.asarray(_translate(run.cg, run.state, chunk, direction))[:n])
    return np.concatenate(out)


def read_images(path: str | pathlib.Path, shape: tuple[int, ...]) -> np.ndarray:
    """The images at `path` as float32 [N, R, R, C] in [-1, 1] for a domain of `shape` (R, R, C).

    FILE.npy: float images in [-1, 1] or uint8 in [0, 255], [N, R, R, C] (or [R, R, C] for one);
    FOLDER: its image files (sorted by name; not recursive), each decoded as `jaxgan prepare`
    does (jaxgan.data.image_decode: centre square crop, resize to R, C channels)."""
    path = pathlib.Path(path).expanduser()
    resolution, _, channels = shape
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"--input folder {str(path)!r} holds no image files "
                             f"({', '.join(IMAGE_SUFFIXES)})")
        pixels = []
        for file in files:
            try:
                pixels.append(image_decode.decode_bytes(
                    file.read_bytes(), resolution=resolution, channels=channels, crop="center",
                    background=0))
            except image_decode.ImageSkipped as err:
                raise ValueError(f"cannot read image {str(file)!r}: {err}") from None
        return np.stack(pixels).astype(np.float32) / 127.5 - 1.0
    if path.suffix.lower() != ".npy":
        raise ValueError(f"--input {str(path)!r} must be a .npy file or a folder of images")
    if not path.is_file():
        raise ValueError(f"--input {str(path)!r} does not exist")
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ValueError(f"cannot read --input {str(path)!r} as a numpy array: {err}") from None
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or tuple(array.shape[1:]) != tuple(shape):
        raise ValueError(f"--input {str(path)!r} has shape {list(array.shape)}; this direction "
                         f"takes [N, {', '.join(map(str, shape))}]")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 127.5 - 1.0
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)) or array.min() < -1.0 - 1e-3 or array.max() > 1.0 + 1e-3:
        raise ValueError(f"--input {str(path)!r}: float images must be finite and in [-1, 1] "
                         f"(or pass uint8 pixels)")
    return np.clip(array, -1.0, 1.0)


# --- evaluation ----------------------------------------------------------------------------------

DIGITS_A = "digits"


def is_digits_pair(dataset_a: str, dataset_b: str) -> bool:
    """Whether (A, B) is an embedded pair with classifiers: digits and a photo_digits set."""
    from jaxgan.data import photo_digits

    return dataset_a == DIGITS_A and dataset_b in photo_digits.LOADERS


def digits_pair(resolution: int, channels: int, dataset_b: str = "digits_photo"
                ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """((digits, dataset_b) float32 [1797, R, R, C] in [-1, 1], labels [1797]) in
    scikit-learn's order, the order `held_out_split` indexes (the TFDS-prepared `digits` are
    stored in another order): image i of both domains shows digit i. The pixels are those the
    pipeline delivers (digits_raw / jaxgan.data.photo_digits, grey tiled to RGB or RGB to
    luminance)."""
    from jaxgan.data import convert, digits_raw, photo_digits

    a, labels = digits_raw.load_digits_uint8(resolution)
    b, _ = photo_digits.LOADERS[dataset_b](resolution)
    a = np.repeat(a, 3, axis=-1) if channels == 3 else a
    b = np.stack([convert.to_luminance(x) for x in b]) if channels == 1 else b
    return (convert.to_unit_range(a), convert.to_unit_range(b)), labels.astype(np.int32)


def _cycle(run: CycleGANRun, x: np.ndarray, there: str, back: str) -> dict[str, float]:
    rec = translate_images(run, translate_images(run, x, there), back)
    per_image = np.abs(rec - x).reshape(len(x), -1)
    return {"mean": float(per_image.mean()), "l1": float(per_image.sum(axis=1).mean())}


def evaluate_cyclegan(run: CycleGANRun) -> dict[str, Any]:
    """The metrics of the module docstring (one JSON-ready dict)."""
    from jaxgan.metrics import digits_classifier as dc

    config = run.config
    result: dict[str, Any] = {"step": run.step, "dataset_a": config.dataset_a,
                              "dataset_b": config.dataset_b}
    if not is_digits_pair(config.dataset_a, config.dataset_b):
        (name_a, options_a), (name_b, options_b) = (cyclegan_loop.domain_data(config, d)
                                                    for d in "ab")
        a = data.sample_real(name_a, 500, 0, **options_a)
        b = data.sample_real(name_b, 500, 0, **options_b)
        cyc_a, cyc_b = _cycle(run, a, "a2b", "b2a"), _cycle(run, b, "b2a", "a2b")
        result.update(num=500, cycle_error_a=cyc_a["mean"], cycle_error_b=cyc_b["mean"],
                      cycle_l1_a=cyc_a["l1"], cycle_l1_b=cyc_b["l1"])
        return result
    from jaxgan.metrics import digits_photo_classifier as dpc

    _, held = dc.held_out_split()
    (a_all, b_all), labels = digits_pair(config.resolution, config.channels, config.dataset_b)
    a, b, la, lb = a_all[held], b_all[held], labels[held], labels[held]
    fake_b, fake_a = translate_images(run, a, "a2b"), translate_images(run, b, "b2a")
    classifier_a = dc.load_classifier()
    classifier_b = dpc.load_photo_digit_classifier(dataset=config.dataset_b)
    domain = dpc.domain_classifier(config.resolution, dataset=config.dataset_b)
    read_a = lambda x: classifier_a.probabilities(x).argmax(axis=1)
    cyc_a, cyc_b = _cycle(run, a, "a2b", "b2a"), _cycle(run, b, "b2a", "a2b")
    result.update(
        num=int(len(held)),
        digit_kept_a2b=float((classifier_b.predict(fake_b) == la).mean()),
        digit_kept_b2a=float((read_a(fake_a) == lb).mean()),
        target_domain_a2b=float((domain.predict(fake_b) == 1).mean()),
        target_domain_b2a=float((domain.predict(fake_a) == 0).mean()),
        cycle_error_a=cyc_a["mean"], cycle_error_b=cyc_b["mean"],
        cycle_l1_a=cyc_a["l1"], cycle_l1_b=cyc_b["l1"],
        real_digit_accuracy_a=float((read_a(a) == la).mean()),
        real_digit_accuracy_b=float((classifier_b.predict(b) == lb).mean()),
        real_domain_accuracy=float(((domain.predict(a) == 0).sum()
                                    + (domain.predict(b) == 1).sum()) / (2 * len(held))),
        protocol="held-out digits (digits_classifier.held_out_split, 359 per domain) at the "
                 "run's resolution; domain classifier trained on the other 1,438 of each domain")
    return result
