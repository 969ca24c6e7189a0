"""TEMPORARY stand-in for `jaxgan.checkpoint.Checkpointer` (branch `ckpt`), same interface.

Delete this file (and the import fallback in jaxgan/train.py) when jaxgan.checkpoint lands on main.
Synchronous msgpack files (flax.serialization), one directory per step, written atomically
(write to a temporary directory, then rename).
"""
from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import warnings
from typing import Any

import jax
import numpy as np
from flax import serialization

# Keys that may change between a checkpoint and its resumption (they do not shape the state).
RESUMABLE_KEYS = {"steps", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
                  "num_samples_grid", "parallel", "data_dir"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; one line saying why."""


class NonFiniteStateError(CheckpointError):
    """The state to save holds NaN or Inf."""


@dataclasses.dataclass(frozen=True)
class Restored:
    state: Any
    data_state: dict
    config: dict
    step: int


class Checkpointer:
    def __init__(self, directory, max_to_keep: int = 3, async_save: bool = True):
        self.directory = pathlib.Path(directory)
        self.max_to_keep = max_to_keep

    def _steps(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        return sorted(int(p.name) for p in self.directory.iterdir()
                      if p.name.isdigit() and (p / "state.msgpack").exists())

    def latest_step(self) -> int | None:
        steps = self._steps()
        return steps[-1] if steps else None

    def save(self, step: int, state, data_state: dict, config: dict, wait: bool = False) -> None:
        host = jax.device_get(state)
        for leaf in jax.tree.leaves(host):
            if np.issubdtype(np.asarray(leaf).dtype, np.inexact) and not np.isfinite(leaf).all():
                raise NonFiniteStateError(f"state at step {step} holds NaN/Inf; not saved")
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = self.directory / f".tmp-{step}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        (tmp / "state.msgpack").write_bytes(serialization.to_bytes(host))
        (tmp / "meta.json").write_text(json.dumps({"data_state": data_state, "config": config,
                                                   "step": step}))
        final = self.directory / str(step)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        for old in self._steps()[:-self.max_to_keep]:
            shutil.rmtree(self.directory / str(old), ignore_errors=True)

    def saved_config(self, step: int | None = None) -> dict | None:
        step = self.latest_step() if step is None else step
        if step is None:
            return None
        return json.loads((self.directory / str(step) / "meta.json").read_text())["config"]

    def restore(self, abstract_state, config: dict | None = None, step: int | None = None):
        steps = [step] if step is not None else self._steps()[::-1]
        for s in steps:
            path = self.directory / str(s)
            try:
                meta = json.loads((path / "meta.json").read_text())
                state = serialization.from_bytes(abstract_state,
                                                 (path / "state.msgpack").read_bytes())
            except Exception as err:  # corrupt: fall back to an older one
                warnings.warn(f"checkpoint {path} is unreadable ({err}); trying an older one")
                continue
            if config is not None:
                changed = sorted(k for k in set(config) | set(meta["config"])
                                 if k not in RESUMABLE_KEYS
                                 and config.get(k) != meta["config"].get(k))
                if changed:
                    raise CheckpointError(
                        f"checkpoint {path} was written with a different config ("
                        + ", ".join(f"{k}: {meta['config'].get(k)!r} -> {config.get(k)!r}"
                                    for k in changed)
                        + "); use the same config or a new --workdir")
            state = jax.tree.map(lambda a, t: np.asarray(a, t.dtype), state, abstract_state)
            return Restored(state, meta["data_state"], meta["config"], s)
        raise CheckpointError(f"no readable checkpoint in {self.directory}")

    def wait_until_finished(self) -> None:
        pass

    def close(self) -> None:
        pass
