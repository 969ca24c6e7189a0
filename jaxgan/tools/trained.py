"""A trained run loaded back from its workdir, and samples drawn from it.

`load_run(workdir)` rebuilds the GAN from DIR/config.json and DIR/data_spec.json (so sampling needs
neither the experiment file nor the data set) and restores the latest checkpoint.
`generate_samples(run, num, seed)` draws z ~ N(0, I) from key(seed) and returns G(z) in data space.
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

from jaxgan.config import build_gan
from jaxgan.core import class_samples
from jaxgan.core.gan import GAN
from jaxgan.core.state import GANState, generate
from jaxgan.training.checkpoint import Checkpointer, CheckpointError
from jaxgan.training.run import abstract_state, run_keys
from jaxgan.training.run_config import config_from_dict
from jaxgan.training.workdir import (CHECKPOINT_DIR, CONFIG_FILE, DATA_SPEC_FILE, WorkdirError,
                                     spec_from_json)


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


def load_run(workdir: str | pathlib.Path, step: int | None = None) -> TrainedRun:
    """The run in `workdir` at checkpoint `step` (default: the latest one)."""
    workdir = pathlib.Path(workdir).expanduser().absolute()
    if not workdir.is_dir():
        raise WorkdirError(f"workdir {str(workdir)!r} does not exist; pass the --workdir "
                           f"of a finished or running `jaxgan train`")
    config = config_from_dict(_read_json(workdir / CONFIG_FILE, "run config"))
    spec = spec_from_json(_read_json(workdir / DATA_SPEC_FILE, "data description"))
    gan = build_gan(config, spec.shape, spec.num_classes)
    checkpointer = Checkpointer(workdir / CHECKPOINT_DIR, max_to_keep=config.keep_checkpoints)
    try:
        if checkpointer.latest_step() is None:
            raise CheckpointError(f"no checkpoint in {workdir / CHECKPOINT_DIR}; "
                                  f"train first (jaxgan train --workdir {workdir})")
        keys = run_keys(config.seed)
        restored = checkpointer.restore(abstract_state(gan, keys.init), step=step)
    finally:
        checkpointer.close()
    return TrainedRun(workdir=workdir, config=config, spec=spec, gan=gan, state=restored.state,
                      step=int(restored.step))


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
