"""What a run leaves in its workdir, and the checks before it writes there.

A workdir holds: checkpoints/ (resumed automatically), config.json (the resolved config),
data_spec.json (shape and modes of the data, for sampling without the data), metrics.jsonl,
tensorboard/, samples/step_NNNNNNN.png (a fixed latent batch every sample_every steps) and, at the
end, training_curves.png (losses and D accuracy on real/fake); .jaxgan.lock (the writer lock and
its last holder, jaxgan.training.lock) and, after a resume with --allow_config_change,
config_changes.jsonl (jaxgan.training.identity). The single-run loop
(jaxgan.training.loop), each seed of a multi-seed run (jaxgan.training.seed_runs) and the tools
that load a run back (jaxgan.tools.trained) all use these names.
"""
from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from jaxgan import data, visualize
from jaxgan.training.logs import METRICS_FILE, read_metrics

CHECKPOINT_DIR = "checkpoints"
CONFIG_FILE = "config.json"
DATA_SPEC_FILE = "data_spec.json"
SAMPLES_DIR = "samples"
CURVES_FILE = "training_curves.png"
SPLIT_FILE = "split.json"  # the class split of a run with train_classes / exclude_classes


class WorkdirError(ValueError):
    """The workdir cannot be created or written; one line saying which and why."""


def check_workdir_writable(workdir: str | os.PathLike) -> None:
    """Raises WorkdirError unless `workdir` could be created and written, without creating it:
    its nearest existing ancestor must be a writable directory."""
    path = pathlib.Path(workdir).expanduser().absolute()
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not (existing.is_dir() and os.access(existing, os.W_OK | os.X_OK)):
        reason = "not a directory" if not existing.is_dir() else "permission denied"
        raise WorkdirError(f"cannot write to workdir {str(path)!r} ({existing}: {reason}); "
                           f"choose a writable --workdir")


def prepare_workdir(workdir: str | os.PathLike) -> pathlib.Path:
    """Creates `workdir` if needed and checks that files can be written in it."""
    path = pathlib.Path(workdir).expanduser().absolute()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise WorkdirError(f"cannot write to workdir {str(path)!r} ({err.strerror or err}); "
                           f"choose a writable --workdir") from None
    return path


def has_checkpoints(workdir: str | os.PathLike) -> bool:
    """Whether workdir/checkpoints holds a complete checkpoint step (a directory named by its
    step number; Orbax renames a step's temporary directory to that once it is complete)."""
    directory = pathlib.Path(workdir) / CHECKPOINT_DIR
    return directory.is_dir() and any(p.name.isdigit() and p.is_dir()
                                      for p in directory.iterdir())


def spec_to_json(spec) -> dict[str, Any]:
    return {"name": spec.name, "kind": spec.kind, "shape": list(spec.shape),
            "num_classes": spec.num_classes, "num_examples": spec.num_examples,
            "mode_centers": None if spec.mode_centers is None else
            np.asarray(spec.mode_centers).tolist(),
            "mode_std": spec.mode_std, "class_names": list(spec.class_names),
            "content_sha256": spec.content_sha256}


def spec_from_json(values: Mapping[str, Any]):
    centers = values.get("mode_centers")
    return data.DatasetSpec(
        name=values["name"], kind=values["kind"], shape=tuple(values["shape"]),
        num_classes=values["num_classes"], num_examples=values["num_examples"],
        mode_centers=None if centers is None else np.asarray(centers, np.float64),
        mode_std=values.get("mode_std"), class_names=tuple(values.get("class_names", ())),
        content_sha256=values.get("content_sha256", ""))


def write_run_files(workdir: pathlib.Path, config_json: Mapping[str, Any], spec) -> None:
    """config.json and data_spec.json, the samples/ folder and, when the config keeps or drops
    classes, split.json (the train/test indices of jaxgan.data.classes)."""
    (workdir / CONFIG_FILE).write_text(json.dumps(config_json, indent=2) + "\n")
    (workdir / DATA_SPEC_FILE).write_text(json.dumps(spec_to_json(spec), indent=2) + "\n")
    class_split = data.class_split_from_config(config_json)
    if class_split is not None:
        record = data.class_split_record(config_json["dataset"], class_split,
                                         data_dir=config_json.get("data_dir") or None)
        (workdir / SPLIT_FILE).write_text(json.dumps(record) + "\n")
    (workdir / SAMPLES_DIR).mkdir(exist_ok=True)


def samples_file(workdir: pathlib.Path, step: int) -> pathlib.Path:
    """samples/step_NNNNNNN.png: the sample grid of `step`."""
    return workdir / SAMPLES_DIR / f"step_{step:07d}.png"


def save_training_curves(workdir: pathlib.Path) -> None:
    """training_curves.png from metrics.jsonl (nothing when no step was logged)."""
    records = read_metrics(workdir / METRICS_FILE)
    if records:
        visualize.save_png(visualize.training_curves_picture(records), workdir / CURVES_FILE)
