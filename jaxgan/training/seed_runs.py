"""Training `config.num_seeds` seeds of one config at once: the multi-seed `jaxgan train`.

`train_seeds(config, workdir)` trains seeds s, s+1, …, s+S−1 (s = config.seed) with the step mapped
over seeds inside one jit (jaxgan.training.seeds). Seed i is the single run with `seed = s + i`:
its initial state, step noise and grid latents come from `jaxgan.training.run.run_keys(s + i)`, and
its data from its own iterator seeded with s + i, so `DIR/seed_<s+i>` holds what
`jaxgan train --config.seed=<s+i> --workdir DIR/seed_<s+i>` would have written, to float rounding:

    DIR/seed_<k>/ config.json (seed k, num_seeds 1), data_spec.json, checkpoints/ (state and data
                  iterator state), metrics.jsonl, tensorboard/, samples/step_NNNNNNN.png

so `jaxgan sample|eval --workdir DIR/seed_<k>` work on one seed, and re-running the multi-seed
command resumes every seed from their latest common checkpoint. DIR/config.json holds the
multi-seed config itself, so `jaxgan train --workdir DIR` alone resumes them all; a config with
other seeds (another num_seeds or seed), or a single run in DIR, is refused with the command that
resumes them (`check_workdir_kind`); DIR and every seed_<k> are locked while they train.
Progress is printed for the first seed only. A seed whose metrics turn NaN/Inf is reported once and no longer saved or sampled (its
last good checkpoint stays); the other seeds go on.

Differences from a single run: one device only (config.parallel 'auto' or 'jit'); the
sample-based failure monitor (config.monitor_*) is not run.

`train_seeds` takes the single run's steps (jaxgan.training.loop), each for S seeds: `setup_seeds`,
`restore_common_step` and `open_seed_outputs`, `run_seed_loop`, `finish_seeds`, built from the same
pieces (jaxgan.training.run: keys, start states, batches, the stop flag; jaxgan.training.workdir:
the files of a run).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import time
from typing import IO, Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import data, visualize
from jaxgan.config import build_gan
from jaxgan.core import class_samples
from jaxgan.core.critic_schedule import CriticSchedule, critic_schedule, gans_by_critic_steps
from jaxgan.core.gan import GAN
from jaxgan.core.state import generate
from jaxgan.training import identity
from jaxgan.training.checkpoint import Checkpointer, NonFiniteStateError
from jaxgan.training.lock import WorkdirLock
from jaxgan.training.logs import RunLog
from jaxgan.training.run import (LoopEnd, RunKeys, StopFlag, TrainSummary, abstract_state,
                                 data_options, due, init_state, needs_final_samples,
                                 pin_data_hash, plotted_real_points, run_keys, sample_picture,
                                 step_batch)
from jaxgan.training.run_config import ConfigError, config_to_json, validate_config
from jaxgan.training.seeds import (make_multi_seed_step, multi_seed_step_keys, stack_trees,
                                   unstack_state)
from jaxgan.training.workdir import (CHECKPOINT_DIR, CONFIG_FILE, WorkdirError, has_checkpoints,
                                     prepare_workdir, samples_file, save_training_curves,
                                     write_run_files)

SEED_DIR_FORMAT = "seed_{}"


def seed_workdir(workdir: str | pathlib.Path, seed: int) -> pathlib.Path:
    """Where seed `seed` of a multi-seed run in `workdir` writes: workdir/seed_<seed>."""
    return pathlib.Path(workdir) / SEED_DIR_FORMAT.format(seed)


def seed_config(config: ml_collections.ConfigDict, index: int) -> ml_collections.ConfigDict:
    """Seed `index`'s config: `config` with seed = config.seed + index and num_seeds = 1."""
    single = ml_collections.ConfigDict(config.to_dict())
    single.seed = config.seed + index
    single.num_seeds = 1
    return single


def existing_seeds(workdir: str | pathlib.Path) -> list[int]:
    """The seeds k whose workdir/seed_<k> holds a complete checkpoint, ascending."""
    workdir = pathlib.Path(workdir).expanduser()
    prefix = SEED_DIR_FORMAT.format("")
    if not workdir.is_dir():
        return []
    return sorted(int(d.name[len(prefix):]) for d in workdir.glob(prefix + "*")
                  if d.name[len(prefix):].isdigit() and has_checkpoints(d))


def check_workdir_kind(workdir: str | pathlib.Path, config: ml_collections.ConfigDict) -> None:
    """Refuses (RunIdentityError, exit 2) a config whose seeds are not the workdir's: a single run
    on a multi-seed workdir or the other way round, or other seeds than the ones it trains
    (the seeds of one workdir train together at one step, so their number cannot change). Nothing
    is suggested that deletes anything."""
    workdir = pathlib.Path(workdir).expanduser()
    num, first = config.get("num_seeds", 1), config.seed
    seeds = existing_seeds(workdir)
    single = has_checkpoints(workdir)
    if num == 1 and seeds and not single:
        raise identity.RunIdentityError(
            f"workdir {workdir} holds a multi-seed run (seeds {seeds}): resume it with "
            f"--config.num_seeds={len(seeds)} --config.seed={seeds[0]} (or without --config), "
            f"continue one seed alone with --workdir {seed_workdir(workdir, seeds[0])}, or use a "
            f"new --workdir")
    if num > 1 and single:
        raise identity.RunIdentityError(
            f"workdir {workdir} holds a single run (num_seeds=1); train {num} seeds in a new "
            f"--workdir")
    wanted = list(range(first, first + num))
    if num > 1 and seeds and seeds != wanted:
        raise identity.RunIdentityError(
            f"workdir {workdir} holds seeds {seeds}; this config trains seeds {wanted} "
            f"(seed={first}, num_seeds={num}). The seeds of one workdir train together, so they "
            f"cannot change on resume: resume with --config.seed={seeds[0]} "
            f"--config.num_seeds={len(seeds)} (or without --config), or train other seeds in a "
            f"new --workdir")


def saved_multi_seed_config(workdir: str | pathlib.Path) -> dict | None:
    """The config of the multi-seed run in `workdir`: workdir/config.json, or (workdirs written
    before it was saved there) the lowest seed's config.json with num_seeds = the seeds found.
    None when `workdir` holds no multi-seed run."""
    workdir = pathlib.Path(workdir).expanduser()
    seeds = existing_seeds(workdir)
    if not seeds:
        return None
    saved = workdir / CONFIG_FILE
    path = saved if saved.is_file() else seed_workdir(workdir, seeds[0]) / CONFIG_FILE
    try:
        values = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise WorkdirError(f"cannot read the run config {path} ({err}); pass --config and the "
                           f"overrides the run was trained with") from None
    values["seed"], values["num_seeds"] = seeds[0], len(seeds)
    return values


def _check_supported(config: ml_collections.ConfigDict) -> None:
    if config.get("parallel", "auto") not in ("auto", "jit"):
        raise ConfigError(f"num_seeds > 1 trains on one device; set parallel=auto or jit "
                          f"(got parallel={config.parallel!r})")


# --- 1. set-up ------------------------------------------------------------------------------------

@dataclasses.dataclass
class SeedRuns:
    """The pieces of a multi-seed run that `setup_seeds` builds: one GAN and compiled step for all
    seeds; per seed its config, data iterator, keys, workdir and checkpointer."""

    config: ml_collections.ConfigDict
    workdir: pathlib.Path | str           # the parent of the seed_<k> directories
    spec: data.DatasetSpec
    gan: GAN
    schedule: CriticSchedule
    steps_by_critic: dict[int, Callable]  # the multi-seed step per number of critic updates
    iterators: list[data.BatchIterator]
    keys: list[RunKeys]
    train_keys: jax.Array                 # the seeds' train keys, stacked
    workdirs: list[pathlib.Path]
    configs_json: list[dict[str, Any]]
    checkpointers: list[Checkpointer]

    @property
    def num(self) -> int:
        return len(self.iterators)


def setup_seeds(config: ml_collections.ConfigDict, workdir: str | pathlib.Path) -> SeedRuns:
    """Checks `config`, then builds every seed's data iterator, keys, workdir and checkpointer,
    and the GAN and multi-seed steps they share."""
    validate_config(config)
    _check_supported(config)
    num = config.num_seeds
    configs = [seed_config(config, i) for i in range(num)]
    iterators = [data.make_iterator(c.dataset, batch_size=c.batch_size, seed=c.seed,
                                    **data_options(c)) for c in configs]
    spec = iterators[0].spec
    configs = [pin_data_hash(c, spec) for c in configs]
    gan = build_gan(config, spec.shape, spec.num_classes)
    schedule = critic_schedule(config)
    steps_by_critic = {n: make_multi_seed_step(g, seed_map=config.seed_map)
                       for n, g in gans_by_critic_steps(gan, schedule).items()}
    keys = [run_keys(c.seed) for c in configs]
    train_keys = jnp.stack([k.train for k in keys])
    workdirs = [prepare_workdir(seed_workdir(workdir, c.seed)) for c in configs]
    configs_json = [config_to_json(c) for c in configs]
    checkpointers = [Checkpointer(w / CHECKPOINT_DIR, max_to_keep=config.keep_checkpoints)
                     for w in workdirs]
    return SeedRuns(config=config, workdir=workdir, spec=spec, gan=gan, schedule=schedule,
                    steps_by_critic=steps_by_critic, iterators=iterators, keys=keys,
                    train_keys=train_keys, workdirs=workdirs, configs_json=configs_json,
                    checkpointers=checkpointers)


# --- 2. restore, and the outputs ------------------------------------------------------------------

def restore_common_step(seeds: SeedRuns, allow_config_change: bool = False,
                        messages: list[str] | None = None) -> tuple[list, int]:
    """Every seed's state at the newest step all seeds have a checkpoint of (fresh if none). A
    seed whose checkpoint was saved with another config is refused as a single run's is
    (jaxgan.training.identity); the lines to print are appended to `messages`."""
    saved = [set(c.all_steps()) for c in seeds.checkpointers]
    if not any(saved):
        return [init_state(seeds.gan, k.init) for k in seeds.keys], 0
    common = set.intersection(*saved)
    if not common:
        listing = "; ".join(f"{w.name}: {sorted(s) or 'none'}"
                            for w, s in zip(seeds.workdirs, saved))
        raise WorkdirError(
            f"the seeds' checkpoints in {seeds.workdir} have no step in common ({listing}), so "
            f"they cannot resume together: continue a seed alone with --workdir "
            f"{seeds.workdirs[0]} (num_seeds=1), or use a new --workdir")
    step = max(common)
    states = []
    for i, (k, checkpointer, iterator, config_json) in enumerate(zip(
            seeds.keys, seeds.checkpointers, seeds.iterators, seeds.configs_json)):
        restored = checkpointer.restore(abstract_state(seeds.gan, k.init), step=step,
                                        config=config_json)
        lines = identity.check_resume(seeds.workdirs[i], restored.config, config_json, step,
                                      allow_config_change)
        if messages is not None and i == 0:
            messages.extend(lines)
        iterator.set_state(restored.data_state)
        states.append(restored.state)
    return states, step


@dataclasses.dataclass
class SeedOutputs:
    """What the multi-seed loop writes to: one log per seed (progress printed for the first),
    the seeds' fixed latent batches and their sampler, and the seeds that diverged."""

    logs: list[RunLog]
    quiet: IO[str]                        # where the progress lines of the other seeds go
    grid_z: list[jax.Array]
    grid_labels: jax.Array | None
    grid_columns: int | None
    sampler: Callable
    real_points: list[np.ndarray | None]
    diverged: set[int] = dataclasses.field(default_factory=set)


def open_seed_outputs(seeds: SeedRuns, start_step: int,
                      stream: IO[str] | None = None) -> SeedOutputs:
    """Writes every seed's config.json, data_spec.json and samples/, opens their logs and draws
    their fixed latent batches."""
    config, gan = seeds.config, seeds.gan
    for w, config_json in zip(seeds.workdirs, seeds.configs_json):
        write_run_files(w, config_json, seeds.spec)
    # the multi-seed config itself, so that `jaxgan train --workdir DIR` resumes every seed
    pathlib.Path(seeds.workdir, CONFIG_FILE).write_text(
        json.dumps(config_to_json(config), indent=2) + "\n")
    quiet = open(os.devnull, "w")  # progress lines of the seeds after the first
    logs = [RunLog(w, total_steps=config.steps, start_step=start_step,
                   log_every=config.log_every, stream=stream if i == 0 else quiet)
            for i, w in enumerate(seeds.workdirs)]
    logs[0].message(f"{seeds.num} seeds ({', '.join(w.name for w in seeds.workdirs)}) trained at "
                    f"once in {seeds.workdir}"
                    + (f", resuming from step {start_step}" if start_step else ""))

    grid_labels, grid_columns = class_samples.class_grid(gan, config.num_samples_grid)
    grid_z = [gan.sample_latent(k.grid, config.num_samples_grid if grid_labels is None
                                else len(grid_labels)) for k in seeds.keys]
    sampler = jax.jit(lambda state, z: generate(gan, state, z, grid_labels))
    real_points = [plotted_real_points(config, seeds.spec, json_c["seed"])
                   for json_c in seeds.configs_json]
    return SeedOutputs(logs=logs, quiet=quiet, grid_z=grid_z, grid_labels=grid_labels,
                       grid_columns=grid_columns, sampler=sampler, real_points=real_points)


def write_seed_samples(seeds: SeedRuns, out: SeedOutputs, states, step: int) -> None:
    """Every live seed's samples/step_NNNNNNN.png and TensorBoard image."""
    for i in range(seeds.num):
        if i in out.diverged:
            continue
        samples = out.sampler(unstack_state(states, i), out.grid_z[i])
        picture = sample_picture(samples, seeds.spec, out.real_points[i], title=f"step {step}",
                                 columns=out.grid_columns)
        visualize.save_png(picture, samples_file(seeds.workdirs[i], step))
        out.logs[i].image("samples", step, picture)


def save_seed_checkpoints(seeds: SeedRuns, out: SeedOutputs, states, step: int,
                          wait: bool = False) -> None:
    """Every live seed's checkpoint at `step`; a seed whose state holds NaN/Inf is reported and
    marked diverged instead."""
    for i in range(seeds.num):
        if i in out.diverged:
            continue
        try:
            seeds.checkpointers[i].save(step, unstack_state(states, i),
                                        seeds.iterators[i].get_state(), seeds.configs_json[i],
                                        wait=wait)
        except NonFiniteStateError as err:  # NaN parameters with finite metrics
            out.diverged.add(i)
            out.logs[0].message(f"{seeds.workdirs[i].name} diverged: {err}")


# --- 3. the loop ----------------------------------------------------------------------------------

def _observe(seeds: SeedRuns, out: SeedOutputs, step: int,
             device_metrics: dict[str, jax.Array]) -> dict[str, Any]:
    """Logs every live seed's metrics of `step`, marks seeds with NaN/Inf metrics diverged;
    returns the first seed's metrics."""
    host = jax.device_get(device_metrics)
    per_seed = []
    for i in range(seeds.num):
        metrics = {k: (bool(v[i]) if np.asarray(v).dtype == bool else float(v[i]))
                   for k, v in host.items()}
        per_seed.append(metrics)
        if i in out.diverged:
            continue
        out.logs[i].step(step, metrics)
        if not metrics.get("finite", True):
            out.diverged.add(i)
            out.logs[0].message(f"step {step}: {seeds.workdirs[i].name} diverged (NaN/Inf "
                                f"metrics); it is no longer saved or sampled, the other seeds "
                                f"go on")
    return per_seed[0]


def run_seed_loop(seeds: SeedRuns, out: SeedOutputs, states, start_step: int,
                  handle_signals: bool = True) -> LoopEnd:
    """Trains the stacked `states` from `start_step` to config.steps (or until SIGTERM/SIGINT),
    writing every seed's metrics, sample grids and checkpoints when due; saves the last step."""
    config = seeds.config
    stop = StopFlag()
    step, last_saved, metrics = start_step, start_step, {}
    with stop if handle_signals else contextlib.nullcontext():
        while step < config.steps and stop.signal_name is None:
            critic_steps = seeds.schedule.at(step)
            batches = [step_batch(it, critic_steps) for it in seeds.iterators]
            batch = {k: np.stack([b[k] for b in batches]) for k in batches[0]}
            states, device_metrics = seeds.steps_by_critic[critic_steps](
                states, batch, multi_seed_step_keys(seeds.train_keys, step))
            step += 1
            metrics = _observe(seeds, out, step, device_metrics)
            if due(step, config.sample_every):
                write_seed_samples(seeds, out, states, step)
            if due(step, config.checkpoint_every):
                save_seed_checkpoints(seeds, out, states, step)
                last_saved = step
        if step != last_saved or any(c.latest_step() is None for c in seeds.checkpointers):
            save_seed_checkpoints(seeds, out, states, step, wait=True)
        for checkpointer in seeds.checkpointers:
            checkpointer.wait_until_finished()
    return LoopEnd(state=states, step=step, stopped_by=stop.signal_name, metrics=metrics)


# --- 4. the end of a run --------------------------------------------------------------------------

def finish_seeds(seeds: SeedRuns, out: SeedOutputs, end: LoopEnd, start_step: int) -> None:
    """The last sample grids and every seed's training_curves.png (or the line saying where the
    checkpoints of a stopped run are); the list of diverged seeds."""
    if end.stopped_by is not None:
        out.logs[0].message(f"stopped by {end.stopped_by} at step {end.step}; checkpoints saved "
                            f"in {seeds.workdir}/seed_*")
    else:
        if needs_final_samples(end.step, start_step, seeds.config):
            write_seed_samples(seeds, out, end.state, end.step)
        for w in seeds.workdirs:
            save_training_curves(w)
    if out.diverged:
        out.logs[0].message("diverged seeds: " + ", ".join(seeds.workdirs[i].name
                                                           for i in sorted(out.diverged)))


def train_seeds(config: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
                handle_signals: bool = True, stream: IO[str] | None = None,
                allow_config_change: bool = False) -> TrainSummary:
    """Trains seeds config.seed … config.seed + config.num_seeds − 1 at once (module docstring).

    Holds the writer lock (jaxgan.training.lock) of `workdir` and of every seed_<k> directory
    while it trains; `allow_config_change` as for a single run (jaxgan.training.identity).

    Returns a `jaxgan.training.run.TrainSummary` whose `state` is the stacked state of all seeds,
    `metrics` the first seed's last metrics and `workdir` the parent directory.
    """
    started = time.monotonic()
    check_workdir_kind(workdir, config)
    seeds = setup_seeds(config, workdir)
    locks = []
    try:
        for w in [prepare_workdir(workdir), *seeds.workdirs]:
            locks.append(WorkdirLock(w).acquire())
        messages = []
        states, start_step = restore_common_step(seeds, allow_config_change, messages)
        states = stack_trees(states)
        out = open_seed_outputs(seeds, start_step, stream)
        for text in messages:
            out.logs[0].message(text)
        try:
            end = run_seed_loop(seeds, out, states, start_step, handle_signals)
            finish_seeds(seeds, out, end, start_step)
        finally:
            for log in out.logs:
                log.close()
            out.quiet.close()
    finally:
        for checkpointer in seeds.checkpointers:
            checkpointer.close()
        for lock in locks:
            lock.release()
    return TrainSummary(state=end.state, step=end.step, start_step=start_step,
                        stopped_by=end.stopped_by, metrics=end.metrics,
                        seconds=time.monotonic() - started, workdir=pathlib.Path(workdir))
