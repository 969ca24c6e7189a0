"""The CycleGAN trainer: `train_and_evaluate(config, workdir)` for configs with task 'cyclegan'.

The same run as a GAN run (jaxgan.training.loop), built from the same pieces: the workdir files and
its writer lock (jaxgan.training.workdir, .lock), the keys from the seed (jaxgan.training.run),
the step compiled for jit / pmap / shard_map (jaxgan.training.parallel.compile_step), Orbax
checkpoints with the data iterators' positions (jaxgan.training.checkpoint), the resume identity
check (jaxgan.training.identity), metrics.jsonl + TensorBoard + progress (jaxgan.training.logs),
SIGTERM/SIGINT checkpoint-and-stop, and a NaN/Inf stop naming the first bad quantity. What differs:
the state (jaxgan.core.cyclegan.CycleGANState), two unpaired data iterators, and the sample grid.

Data: `config.dataset_a` and `config.dataset_b`, each its own deterministic iterator
(jaxgan.data.make_iterator) at config.resolution and config.channels, seeded with config.seed and
config.seed + 1 (different shuffles, so the pairs a batch holds are unpaired); both positions are
saved with every checkpoint, so a resumed run sees the batches the uninterrupted run would have.

Step s runs with key fold_in(train_key, s) (the image pool's draws), so resume is exact.

Sample grids (samples/step_NNNNNNN.png, TensorBoard 'samples'): six rows of the fixed inputs
(the first `num_translations_grid` of `jaxgan.data.sample_real` of each domain):
a; G(a); F(G(a)); b; F(b); G(F(b)).
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import pathlib
import time
from typing import IO, Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import data, visualize
from jaxgan.config.cyclegan import build_cyclegan
from jaxgan.core import cyclegan as core
from jaxgan.core.step import step_key
from jaxgan.training import identity, parallel
from jaxgan.training.checkpoint import Checkpointer, NonFiniteStateError
from jaxgan.training.lock import WorkdirLock
from jaxgan.training.logs import RunLog
from jaxgan.training.monitors import non_finite_message
from jaxgan.training.run import (DivergenceError, StopFlag, TrainSummary, due, host_metrics,
                                 run_keys)
from jaxgan.training.run_config import config_to_json, validate_config
from jaxgan.training.workdir import (CHECKPOINT_DIR, check_workdir_writable, prepare_workdir,
                                     samples_file, save_training_curves, write_run_files)

DOMAIN_B_SEED_OFFSET = 1
"""Domain B's iterator is seeded with config.seed + this (A's with config.seed)."""


def domain_data(config: ml_collections.ConfigDict, domain: str) -> tuple[str, dict[str, Any]]:
    """(data set name, keyword arguments of jaxgan.data) of domain 'a' or 'b'.

    config.dataset_a / dataset_b name a data set, optionally with a TFDS split after a colon:
    'digits', 'cycle_gan/horse2zebra:trainA' (default split 'train')."""
    text = config[f"dataset_{domain}"]
    name, _, split = text.rpartition(":") if ":" in text else (text, "", "train")
    return name, {"data_dir": config.data_dir or None, "resolution": config.resolution,
                  "channels": config.channels, "split": split or "train"}


def data_options(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """Keyword arguments of jaxgan.data shared by both domains (domain A's split)."""
    return domain_data(config, "a")[1]


def make_iterators(config: ml_collections.ConfigDict) -> tuple[data.BatchIterator,
                                                                 data.BatchIterator]:
    """The two unpaired, resumable iterators of domains A and B."""
    (name_a, options_a), (name_b, options_b) = domain_data(config, "a"), domain_data(config, "b")
    return (data.make_iterator(name_a, batch_size=config.batch_size, seed=config.seed,
                               **options_a),
            data.make_iterator(name_b, batch_size=config.batch_size,
                               seed=config.seed + DOMAIN_B_SEED_OFFSET, **options_b))


def fixed_inputs(config: ml_collections.ConfigDict) -> tuple[np.ndarray, np.ndarray]:
    """The fixed real images of the sample grids: (a [n, ...], b [n, ...])."""
    n = config.get("num_translations_grid", 8)
    return tuple(data.sample_real(name, n, config.seed, **options)
                 for name, options in (domain_data(config, "a"), domain_data(config, "b")))


def translation_rows(cg: core.CycleGAN, state: core.CycleGANState, a: np.ndarray,
                     b: np.ndarray) -> np.ndarray:
    """[a; G(a); F(G(a)); b; F(b); G(F(b))] stacked row-wise (six rows of n images)."""
    fake_b = core.translate(cg, state, a, "a2b")
    fake_a = core.translate(cg, state, b, "b2a")
    rows = [a, fake_b, core.translate(cg, state, fake_b, "b2a"),
            b, fake_a, core.translate(cg, state, fake_a, "a2b")]
    channels = max(r.shape[-1] for r in rows)
    return jnp.concatenate([jnp.repeat(r, channels // r.shape[-1], axis=-1)
                           for r in rows])


def translation_picture(rows: np.ndarray, columns: int) -> np.ndarray:
    return visualize.image_grid(rows, columns=columns,
                                scale=visualize.display_scale(rows.shape[1]))


@dataclasses.dataclass
class CycleRun:
    config: ml_collections.ConfigDict
    config_json: dict
    workdir: pathlib.Path
    iterators: tuple[data.BatchIterator, data.BatchIterator]
    cg: core.CycleGAN
    compiled: parallel.CompiledStep
    checkpointer: Checkpointer
    is_writer: bool
    lock: WorkdirLock | None


def setup_run(config: ml_collections.ConfigDict, workdir: str | os.PathLike,
              devices: list | None = None) -> CycleRun:
    """Checks config and workdir, builds both iterators, the CycleGAN, its compiled step and the
    checkpointer, and takes the writer lock."""
    validate_config(config)
    check_workdir_writable(workdir)
    iterators = make_iterators(config)
    cg = build_cyclegan(config, iterators[0].spec.shape, iterators[1].spec.shape)
    devices = list(jax.devices()) if devices is None else devices
    mode = parallel.resolve_mode(config.parallel, len(devices))
    compiled = parallel.compile_step(
        parallel.StepBody(make=lambda axis_name: core.make_train_step(cg, axis_name)), mode,
        devices)
    workdir = prepare_workdir(workdir)
    is_writer = jax.process_index() == 0
    lock = (WorkdirLock(workdir, jax.process_index(), jax.process_count()).acquire()
            if is_writer else None)
    checkpointer = Checkpointer(workdir / CHECKPOINT_DIR, max_to_keep=config.keep_checkpoints)
    return CycleRun(config, config_to_json(config), workdir, iterators, cg, compiled,
                    checkpointer, is_writer, lock)


def restore_or_init(run: CycleRun, allow_config_change: bool = False
                    ) -> tuple[core.CycleGANState, int, list[str]]:
    """(state, step, messages): the latest checkpoint (iterator positions restored) or a fresh
    state from the seed's init key."""
    init_key = run_keys(run.config.seed).init
    if run.checkpointer.latest_step() is None:
        # compiled without XLA's backend optimisations: it runs once (as run.init_state)
        init = jax.jit(functools.partial(core.create_state, run.cg)).lower(init_key).compile(
            {"xla_backend_optimization_level": 0})
        return init(init_key), 0, []
    target = parallel.abstract_state_of(run.compiled,
                                        functools.partial(core.create_state, run.cg), init_key)
    restored = run.checkpointer.restore(target, config=run.config_json)
    step = int(restored.step)
    messages = identity.check_resume(run.workdir, restored.config, run.config_json, step,
                                     allow_config_change, write_record=run.is_writer)
    run.iterators[0].set_state(restored.data_state["a"])
    run.iterators[1].set_state(restored.data_state["b"])
    return restored.state, step, [f"resuming from step {step}", *messages]


def _save(run: CycleRun, step: int, state, wait: bool = False) -> None:
    data_state = {"a": run.iterators[0].get_state(), "b": run.iterators[1].get_state()}
    try:
        run.checkpointer.save(step, state, data_state, run.config_json, wait=wait)
    except NonFiniteStateError as err:
        raise DivergenceError(f"training diverged at step {step}: {err}") from None


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
                       monitors=None, handle_signals: bool = True, stream: IO[str] | None = None,
                       allow_config_change: bool = False) -> TrainSummary:
    """Trains the CycleGAN `config` describes in `workdir`, resuming from its latest checkpoint
    (the signature of jaxgan.training.loop.train_and_evaluate; `monitors(step, metrics)` are
    called after every step)."""
    started = time.monotonic()
    run = setup_run(config, workdir)
    try:
        state, start_step, messages = restore_or_init(run, allow_config_change)
        if run.is_writer:
            write_run_files(run.workdir, run.config_json, run.iterators[0].spec)
        log = RunLog(run.workdir, total_steps=config.steps, start_step=start_step,
                     log_every=config.log_every, enabled=run.is_writer, stream=stream)
        try:
            end = _loop(run, log, state, start_step, handle_signals, list(monitors or []))
        finally:
            log.close()
        run.checkpointer.close()
    except BaseException:
        try:
            run.checkpointer.close()
        except OSError:
            pass
        raise
    finally:
        if run.lock is not None:
            run.lock.release()
    state, step, stopped_by, metrics = end
    return TrainSummary(state=state, step=step, start_step=start_step, stopped_by=stopped_by,
                        metrics=metrics, seconds=time.monotonic() - started, workdir=run.workdir)


def _loop(run: CycleRun, log: RunLog, state, start_step: int, handle_signals: bool, monitors):
    config, compiled = run.config, run.compiled
    keys = run_keys(config.seed)
    fixed_a, fixed_b = fixed_inputs(config)
    rows_fn = jax.jit(functools.partial(translation_rows, run.cg))

    def write_samples(step, logical):
        if run.is_writer:
            picture = translation_picture(
                np.asarray(rows_fn(parallel.host_local_state(logical), fixed_a, fixed_b)),
                len(fixed_a))
            visualize.save_png(picture, samples_file(run.workdir, step))
            log.image("samples", step, picture)

    if compiled.num_devices > 1:
        log.message(f"data parallel: {compiled.mode} over {compiled.num_devices} devices")
    device_state = compiled.put_state(state)
    step, metrics, last_saved = start_step, {}, start_step
    stop = StopFlag()
    with stop if handle_signals else contextlib.nullcontext():
        while step < config.steps and stop.signal_name is None:
            batch = {"a": next(run.iterators[0])["x"], "b": next(run.iterators[1])["x"]}
            device_state, device_metrics = compiled(device_state, compiled.put_batch(batch),
                                                    step_key(keys.train, step))
            step += 1
            metrics = host_metrics(device_metrics)
            log.step(step, metrics)
            message = non_finite_message(step, metrics)
            if message is not None:
                raise DivergenceError(message)
            for monitor in monitors:
                monitor(step, metrics)
            if due(step, config.sample_every) or due(step, config.checkpoint_every):
                logical = compiled.get_state(device_state)
                if due(step, config.sample_every):
                    write_samples(step, logical)
                if due(step, config.checkpoint_every):
                    _save(run, step, logical)
                    last_saved = step
        logical = compiled.get_state(device_state)
        if step != last_saved or run.checkpointer.latest_step() is None:
            _save(run, step, logical, wait=True)
        run.checkpointer.wait_until_finished()
    if stop.signal_name is not None:
        log.message(f"stopped by {stop.signal_name} at step {step}; checkpoint saved in "
                    f"{run.workdir / CHECKPOINT_DIR}")
    else:
        if not due(step, config.sample_every) or step == start_step:
            write_samples(step, logical)
        if run.is_writer:
            save_training_curves(run.workdir)
    return logical, step, stop.signal_name, metrics
