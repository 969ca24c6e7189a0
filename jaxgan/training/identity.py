"""Run identity on resume: a workdir's checkpoints continue the run that wrote them, not another.

When `jaxgan train` resumes, the config saved with the latest checkpoint is compared with the
resolved one, key by key (`config_changes`). Keys that only extend or observe a run may change:

  * how long it runs: steps;
  * what it writes and how often: log_every, sample_every, checkpoint_every, keep_checkpoints,
    num_samples_grid;
  * how it is computed, with the same result (README 'Exactness'): steps_per_call, conv_impl,
    parallel (a restore places the state on any layout), seed_map;
  * where the data are read from: data_dir;
  * the failure monitors (every monitor_* key): they watch, they never change the state.

Each such change is printed once ("resuming with steps: 2000 -> 4000"). Any other difference means
another experiment on this run's state (the issue's `--config grid25` on a ring8 workdir continued
the ring8 G on grid25 data): `check_resume` refuses it with one line listing the keys, unless the
user passes `allow_change` (`jaxgan train --allow_config_change`); then the change is appended to
DIR/config_changes.jsonl (time, step, every key's old and new value), so the workdir records that
its later checkpoints come from a changed config.
"""
from __future__ import annotations

import datetime
import json
import pathlib
from collections.abc import Mapping
from typing import Any

from jaxgan.training.run_config import ConfigError, config_from_dict, config_to_json

CHANGES_FILE = "config_changes.jsonl"
# Keys that may change between sessions of one run (module docstring).
RESUMABLE_KEYS = frozenset({
    "steps", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints",
    "num_samples_grid", "steps_per_call", "xla_cpu_threads", "conv_impl", "parallel", "seed_map",
    "data_dir",
})
RESUMABLE_PREFIXES = ("monitor_",)
MAX_LISTED = 8


class RunIdentityError(ConfigError):
    """Resuming a workdir with a config that changes what the run is (exit status 2)."""


def _flat(d: Mapping, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if isinstance(v, Mapping) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values (tuples and lists alike; 1 == 1.0 as JSON numbers are)."""
    return json.loads(json.dumps(a)) == json.loads(json.dumps(b))


def config_changes(saved: Mapping, current: Mapping) -> dict[str, tuple[Any, Any]]:
    """{dotted key: (saved value, current value)} for every key whose value differs. The saved
    config is read as `config_from_dict` reads config.json (base_config() updated with it), so a
    key added to jaxgan after the checkpoint was written compares as its default."""
    old, new = _flat(config_to_json(config_from_dict(saved))), _flat(current)
    return {k: (old.get(k), new.get(k)) for k in sorted(set(old) | set(new))
            if not _same(old.get(k), new.get(k))}


def is_resumable_key(key: str) -> bool:
    return key in RESUMABLE_KEYS or key.startswith(RESUMABLE_PREFIXES)


def _describe(changes: Mapping[str, tuple[Any, Any]]) -> str:
    items = [f"{k}: {a!r} -> {b!r}" for k, (a, b) in changes.items()]
    if len(items) > MAX_LISTED:
        items = items[:MAX_LISTED] + [f"... ({len(changes) - MAX_LISTED} more)"]
    return ", ".join(items)


def check_resume(workdir: str | pathlib.Path, saved: Mapping | None, current: Mapping, step: int,
                 allow_change: bool = False, write_record: bool = True) -> list[str]:
    """The lines to print about resuming `workdir` at `step` with config `current` (a JSON dict)
    whose checkpoint was saved with `saved` (None: unknown, nothing to compare).

    Raises RunIdentityError listing the keys when a key outside RESUMABLE_KEYS changed and
    `allow_change` is False; with `allow_change` the change is appended to DIR/config_changes.jsonl
    (when `write_record`, i.e. on the writing process).
    """
    if saved is None:
        return []
    changes = config_changes(saved, current)
    if not changes:
        return []
    identity = {k: v for k, v in changes.items() if not is_resumable_key(k)}
    observe = {k: v for k, v in changes.items() if is_resumable_key(k)}
    lines = [f"resuming with {_describe(observe)}"] if observe else []
    if not identity:
        return lines
    workdir = pathlib.Path(workdir)
    if not allow_change:
        raise RunIdentityError(
            f"workdir {workdir} holds a run trained with another config (checkpoint step {step}): "
            f"{_describe(identity)}; use a new --workdir for another experiment, or pass "
            f"--allow_config_change to continue this run's state with the new values (recorded "
            f"in {workdir / CHANGES_FILE})")
    if write_record:
        record = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(
                      timespec="seconds"),
                  "step": step, "changes": {k: list(v) for k, v in identity.items()}}
        with open(workdir / CHANGES_FILE, "a") as f:
            f.write(json.dumps(record) + "\n")
    lines.append(f"config changed by --allow_config_change at step {step}: {_describe(identity)} "
                 f"(recorded in {workdir / CHANGES_FILE})")
    return lines
