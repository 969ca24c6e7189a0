"""A trained run loaded back from its workdir, and samples drawn from it.

`load_run(workdir)` rebuilds the GAN from DIR/config.json and DIR/data_spec.json (so sampling needs
neither the experiment file nor the data set) and restores the latest checkpoint. It only reads:
it takes no lock (a run may be training in DIR) and skips a corrupt step without moving it; a
restored state is verified (checksums, no NaN/Inf: jaxgan.training.checkpoint), so a non-finite or
altered checkpoint is never sampled. A missing or damaged config.json falls back to the copy saved
with the checkpoint (with a warning), a missing data_spec.json to the data set's own description.
`generate_samples(run, num, seed)` draws z ~ N(0, I) from key(seed) and returns G(z) in data space.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import pathlib
from typing import Any

import jax
import ml_collections
import numpy as np

from jaxgan.config import build_gan
from jaxgan.core import class_samples
from jaxgan.core.gan import GAN
from jaxgan.core.state import GANState, generate
from jaxgan.models.stylegan2 import generator_with_truncation
from jaxgan.training.checkpoint import Checkpointer, CheckpointError
from jaxgan.training.run import abstract_state, run_keys
from jaxgan.training.run_config import config_from_dict
from jaxgan.training.workdir import (CHECKPOINT_DIR, CONFIG_FILE, DATA_SPEC_FILE, WorkdirError,
                                     has_checkpoints, spec_from_json)

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrainedRun:
    """A restored run: its config, data description, GAN, state and the checkpoint's step."""

    workdir: pathlib.Path
    config: ml_collections.ConfigDict
    spec: Any  # jaxgan.data.DatasetSpec
    gan: GAN
    state: GANState
    step: int


def _read_json(path: pathlib.Path, what: str) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise WorkdirError(f"{path} not found: {path.parent} is not a jaxgan workdir "
                           f"(run `jaxgan train --workdir {path.parent}` first)") from None
    except (OSError, json.JSONDecodeError) as err:
        raise WorkdirError(f"cannot read the {what} {path}: {err}") from None


def _seed_dirs(workdir: pathlib.Path) -> list[str]:
    return [d.name for d in seed_workdirs(workdir)]


def seed_workdirs(workdir: str | pathlib.Path) -> list[pathlib.Path]:
    """The seed_<k> workdirs of a multi-seed run in `workdir` (with checkpoints), by seed; [] for
    a single run."""
    workdir = pathlib.Path(workdir).expanduser().absolute()
    if has_checkpoints(workdir) or not workdir.is_dir():
        return []
    found = [d for d in workdir.glob("seed_*") if d.name[5:].isdigit() and has_checkpoints(d)]
    return sorted(found, key=lambda d: int(d.name[5:]))


def _run_config(workdir: pathlib.Path, checkpointer: Checkpointer) -> ml_collections.ConfigDict:
    """DIR/config.json, or the config saved with the latest readable checkpoint when that file is
    missing or damaged."""
    path = workdir / CONFIG_FILE
    try:
        return config_from_dict(_read_json(path, "run config"))
    except WorkdirError as err:
        if checkpointer.latest_step() is None:
            raise
        saved = checkpointer.saved_config()
        if not saved:
            raise
        why = "is damaged" if path.exists() else "is missing"
        logger.warning("%s %s; using the config saved with the latest checkpoint", path, why)
        return config_from_dict(saved)


def _data_spec(workdir: pathlib.Path, config: ml_collections.ConfigDict):
    path = workdir / DATA_SPEC_FILE
    if path.is_file():
        return spec_from_json(_read_json(path, "data description"))
    from jaxgan import data
    from jaxgan.training.run import data_options

    logger.warning("%s not found; describing the data from data set '%s' itself", path,
                   config.dataset)
    return data.get_spec(config.dataset, **data_options(config))


def load_run(workdir: str | pathlib.Path, step: int | None = None,
             truncation: float = 1.0) -> TrainedRun:
    """The run in `workdir` at checkpoint `step` (default: the latest one); `truncation` ψ ≠ 1
    makes a StyleGAN2 generator sample w_avg + ψ(w − w_avg) (jaxgan.models.stylegan2)."""
    workdir = pathlib.Path(workdir).expanduser().absolute()
    if not workdir.is_dir():
        raise WorkdirError(f"workdir {str(workdir)!r} does not exist; pass the --workdir "
                           f"of a finished or running `jaxgan train`")
    seeds = _seed_dirs(workdir)
    if seeds and not has_checkpoints(workdir):
        raise WorkdirError(f"{workdir} is a multi-seed run: pass the workdir of one seed, "
                           f"--workdir {workdir / seeds[0]} (seeds: {', '.join(seeds)})")
    if not (workdir / CHECKPOINT_DIR).is_dir():  # (a Checkpointer would create the folder)
        _read_json(workdir / CONFIG_FILE, "run config")  # "... is not a jaxgan workdir"
        raise CheckpointError(f"no checkpoint in {workdir / CHECKPOINT_DIR}; "
                              f"train first (jaxgan train --workdir {workdir})")
    checkpointer = Checkpointer(workdir / CHECKPOINT_DIR)
    try:
        config = _run_config(workdir, checkpointer)
        spec = _data_spec(workdir, config)
        gan = build_gan(config, spec.shape, spec.num_classes)
        gan = dataclasses.replace(gan, generator=generator_with_truncation(gan.generator,
                                                                           truncation))
        if checkpointer.latest_step() is None:
            raise CheckpointError(f"no checkpoint in {workdir / CHECKPOINT_DIR}; "
                                  f"train first (jaxgan train --workdir {workdir})")
        keys = run_keys(config.seed)
        restored = checkpointer.restore(abstract_state(gan, keys.init), step=step,
                                        move_corrupt=False)
    finally:
        checkpointer.close()
    return TrainedRun(workdir=workdir, config=config, spec=spec, gan=gan, state=restored.state,
                      step=int(restored.step))


def check_finite_samples(run: TrainedRun, samples: np.ndarray) -> None:
    """Raises ValueError when G's samples hold NaN/Inf (a finite state can still overflow), so no
    NaN array or picture is ever written."""
    bad = ~np.isfinite(samples)
    if bad.any():
        rows = int(bad.reshape(len(samples), -1).any(axis=1).sum())
        raise ValueError(f"the generator of checkpoint step {run.step} in {run.workdir} produces "
                         f"NaN/Inf in {rows} of {len(samples)} samples; nothing was written: use "
                         f"an earlier --step")


def generate_samples(run: TrainedRun, num: int, seed: int, batch_size: int = 1000,
                     use_ema: bool = True, labels: jax.Array | None = None) -> np.ndarray:
    """`num` samples G(z), z = the first `num` rows of N(0, I) drawn with key(seed), as float32 in
    data space (points [num, 2]; images [num, H, W, C] in [-1, 1]). Generated `batch_size` at a
    time in eval mode (BatchNorm running statistics), so each row depends only on its own z.
    Class-conditional runs take `labels` [num] (default: i mod K, every class equally often)."""
    if num < 1:
        raise ValueError(f"the number of samples must be >= 1, got {num}")
    z = run.gan.sample_latent(jax.random.key(seed), num)
    if labels is None:
        labels = class_samples.balanced_labels(run.gan, num)
    fn = jax.jit(functools.partial(generate, run.gan, use_ema=use_ema))
    chunks = [np.asarray(fn(run.state, z[i:i + batch_size],
                            None if labels is None else labels[i:i + batch_size]))
              for i in range(0, num, batch_size)]
    return np.concatenate(chunks).astype(np.float32)
