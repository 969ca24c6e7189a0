"""Training `config.num_seeds` seeds of one config at once: the multi-seed `jaxgan train`.

`train_seeds(config, workdir)` trains seeds s, s+1, …, s+S−1 (s = config.seed) with the step mapped
over seeds inside one jit (jaxgan.training.seeds). Seed i is the single run with `seed = s + i`: its
initial state, step noise and grid latents come from `jaxgan.training.loop.run_keys(s + i)`, and its data
from its own iterator seeded with s + i, so `DIR/seed_<s+i>` holds what
`jaxgan train --config.seed=<s+i> --workdir DIR/seed_<s+i>` would have written, to float rounding:

    DIR/seed_<k>/ config.json (seed k, num_seeds 1), data_spec.json, checkpoints/ (state and data
                  iterator state), metrics.jsonl, tensorboard/, samples/step_NNNNNNN.png

so `jaxgan sample|eval --workdir DIR/seed_<k>` work on one seed, and re-running the multi-seed
command resumes every seed from their latest common checkpoint. Progress is printed for the first
seed only. A seed whose metrics turn NaN/Inf is reported once and no longer saved or sampled (its
last good checkpoint stays); the other seeds go on.

Differences from a single run: one device only (config.parallel 'auto' or 'jit'); the
sample-based failure monitor (config.monitor_*) is not run.
"""
from __future__ import annotations

import contextlib
import json
import os
import pathlib
import time
from typing import IO, Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import data, visualize
from jaxgan.config import build_gan
from jaxgan.core import class_samples
from jaxgan.core.critic_schedule import critic_schedule, gans_by_critic_steps
from jaxgan.core.state import generate
from jaxgan.training.checkpoint import Checkpointer, NonFiniteStateError
from jaxgan.training.logs import METRICS_FILE, RunLog, read_metrics
from jaxgan.training.run_config import ConfigError, config_to_json, validate_config
from jaxgan.training.seeds import make_multi_seed_step, multi_seed_step_keys, stack_trees, unstack_state

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


def _check_supported(config: ml_collections.ConfigDict) -> None:
    if config.get("parallel", "auto") not in ("auto", "jit"):
        raise ConfigError(f"num_seeds > 1 trains on one device; set parallel=auto or jit "
                          f"(got parallel={config.parallel!r})")


def train_seeds(config: ml_collections.ConfigDict, workdir: str | pathlib.Path, *,
                handle_signals: bool = True, stream: IO[str] | None = None):
    """Trains seeds config.seed … config.seed + config.num_seeds − 1 at once (module docstring).

    Returns a `jaxgan.training.loop.TrainSummary` whose `state` is the stacked state of all seeds, `metrics`
    the first seed's last metrics and `workdir` the parent directory.
    """
    from jaxgan.training import loop  # the single-run loop; imported here, it imports this module

    started = time.monotonic()
    validate_config(config)
    _check_supported(config)
    num = config.num_seeds
    configs = [seed_config(config, i) for i in range(num)]
    iterators = [data.make_iterator(c.dataset, batch_size=c.batch_size, seed=c.seed,
                                    **loop.data_options(c)) for c in configs]
    spec = iterators[0].spec
    gan = build_gan(config, spec.shape, spec.num_classes)
    schedule = critic_schedule(config)
    steps_by_critic = {n: make_multi_seed_step(g, seed_map=config.seed_map)
                       for n, g in gans_by_critic_steps(gan, schedule).items()}
    keys = [loop.run_keys(c.seed) for c in configs]
    train_keys = jnp.stack([k.train for k in keys])
    workdirs = [loop.prepare_workdir(seed_workdir(workdir, c.seed)) for c in configs]
    configs_json = [config_to_json(c) for c in configs]
    checkpointers = [Checkpointer(w / loop.CHECKPOINT_DIR, max_to_keep=config.keep_checkpoints)
                     for w in workdirs]
    try:
        return _train(config, workdir, gan, spec, iterators, keys, train_keys, steps_by_critic,
                      schedule, workdirs, configs_json, checkpointers, handle_signals, stream,
                      started)
    finally:
        for checkpointer in checkpointers:
            checkpointer.close()


def _restore_common_step(gan, keys, checkpointers, iterators, configs_json) -> tuple[list, int]:
    """Every seed's state at the newest step all seeds have a checkpoint of (fresh if none)."""
    from jaxgan.training import loop

    saved = [set(c.all_steps()) for c in checkpointers]
    if not any(saved):
        return [loop.init_state(gan, k.init) for k in keys], 0
    common = set.intersection(*saved)
    if not common:
        raise loop.WorkdirError(
            "the seeds' checkpoints have no step in common, so they cannot resume together; "
            "delete the seed_* directories to start again")
    step = max(common)
    states = []
    for k, checkpointer, iterator, config_json in zip(keys, checkpointers, iterators,
                                                      configs_json):
        restored = checkpointer.restore(loop.abstract_state(gan, k.init), step=step,
                                        config=config_json)
        iterator.set_state(restored.data_state)
        states.append(restored.state)
    return states, step


def _train(config, workdir, gan, spec, iterators, keys, train_keys, steps_by_critic, schedule,
           workdirs, configs_json, checkpointers, handle_signals, stream, started):
    from jaxgan.training import loop

    num = len(iterators)
    states, start_step = _restore_common_step(gan, keys, checkpointers, iterators, configs_json)
    states = stack_trees(states)
    for w, config_json in zip(workdirs, configs_json):
        (w / loop.CONFIG_FILE).write_text(json.dumps(config_json, indent=2) + "\n")
        (w / loop.DATA_SPEC_FILE).write_text(json.dumps(loop.spec_to_json(spec), indent=2)
                                              + "\n")
        (w / loop.SAMPLES_DIR).mkdir(exist_ok=True)
    quiet = open(os.devnull, "w")  # progress lines of the seeds after the first
    logs = [RunLog(w, total_steps=config.steps, start_step=start_step,
                   log_every=config.log_every, stream=stream if i == 0 else quiet)
            for i, w in enumerate(workdirs)]
    logs[0].message(f"{num} seeds ({', '.join(w.name for w in workdirs)}) trained at once in "
                    f"{workdir}" + (f", resuming from step {start_step}" if start_step else ""))

    grid_labels, grid_columns = class_samples.class_grid(gan, config.num_samples_grid)
    grid_z = [gan.sample_latent(k.grid, config.num_samples_grid if grid_labels is None
                                else len(grid_labels)) for k in keys]
    sampler = jax.jit(lambda state, z: generate(gan, state, z, grid_labels))
    real_points = ([data.sample_real(config.dataset, loop.NUM_REAL_POINTS_PLOTTED, seed,
                                     **loop.data_options(config))
                    for seed in (json_c["seed"] for json_c in configs_json)]
                   if spec.kind == "points" else [None] * num)
    diverged: set[int] = set()

    def write_samples(step: int) -> None:
        for i in range(num):
            if i in diverged:
                continue
            samples = sampler(unstack_state(states, i), grid_z[i])
            picture = loop.sample_picture(samples, spec, real_points[i], title=f"step {step}",
                                           columns=grid_columns)
            visualize.save_png(picture, workdirs[i] / loop.SAMPLES_DIR / f"step_{step:07d}.png")
            logs[i].image("samples", step, picture)

    def save(step: int, wait: bool = False) -> None:
        for i in range(num):
            if i in diverged:
                continue
            try:
                checkpointers[i].save(step, unstack_state(states, i), iterators[i].get_state(),
                                      configs_json[i], wait=wait)
            except NonFiniteStateError as err:  # NaN parameters with finite metrics
                diverged.add(i)
                logs[0].message(f"{workdirs[i].name} diverged: {err}")

    def observe(step: int, device_metrics: dict[str, jax.Array]) -> dict[str, Any]:
        host = jax.device_get(device_metrics)
        per_seed = []
        for i in range(num):
            metrics = {k: (bool(v[i]) if np.asarray(v).dtype == bool else float(v[i]))
                       for k, v in host.items()}
            per_seed.append(metrics)
            if i in diverged:
                continue
            logs[i].step(step, metrics)
            if not metrics.get("finite", True):
                diverged.add(i)
                logs[0].message(f"step {step}: {workdirs[i].name} diverged (NaN/Inf metrics); "
                                f"it is no longer saved or sampled, the other seeds go on")
        return per_seed[0]

    stop = loop.StopFlag()
    step, last_saved, metrics = start_step, start_step, {}
    try:
        with stop if handle_signals else contextlib.nullcontext():
            while step < config.steps and stop.signal_name is None:
                critic_steps = schedule.at(step)
                batches = [loop.step_batch(it, critic_steps) for it in iterators]
                batch = {k: np.stack([b[k] for b in batches]) for k in batches[0]}
                states, device_metrics = steps_by_critic[critic_steps](
                    states, batch, multi_seed_step_keys(train_keys, step))
                step += 1
                metrics = observe(step, device_metrics)
                if loop._due(step, config.sample_every):
                    write_samples(step)
                if loop._due(step, config.checkpoint_every):
                    save(step)
                    last_saved = step
            if step != last_saved or any(c.latest_step() is None for c in checkpointers):
                save(step, wait=True)
            for checkpointer in checkpointers:
                checkpointer.wait_until_finished()
        if stop.signal_name is not None:
            logs[0].message(f"stopped by {stop.signal_name} at step {step}; checkpoints saved in "
                            f"{workdir}/seed_*")
        else:
            if not loop._due(step, config.sample_every) or step == start_step:
                write_samples(step)
            for w in workdirs:
                records = read_metrics(w / METRICS_FILE)
                if records:
                    visualize.save_png(visualize.training_curves_picture(records),
                                       w / loop.CURVES_FILE)
        if diverged:
            logs[0].message("diverged seeds: " + ", ".join(workdirs[i].name
                                                           for i in sorted(diverged)))
    finally:
        for log in logs:
            log.close()
        quiet.close()
    return loop.TrainSummary(state=states, step=step, start_step=start_step,
                              stopped_by=stop.signal_name, metrics=metrics,
                              seconds=time.monotonic() - started, workdir=pathlib.Path(workdir))
