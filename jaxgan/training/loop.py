"""The training loop: `train_and_evaluate(config, workdir)` (the flax examples' entry point).

One run = one workdir (its files: jaxgan.training.workdir). `train_and_evaluate` is four named
steps, each a function of this module:

  1. `setup_run`: checks the config and the workdir, builds the data iterator, the GAN, one
     compiled step per number of critic updates, the keys and the checkpointer (a `Run`);
  2. `restore_or_init`: the state of the latest checkpoint (and the data iterator's position), or
     a fresh one; `open_outputs` then writes config.json and data_spec.json and opens the logs, the
     sample grid and the failure monitor (`Outputs`);
  3. `run_loop`: for every step s draws n(s)·batch_size real rows, runs the step with key
     fold_in(train_key, s), hands the step's metrics to the failure monitor, the logs and the
     monitors, and writes sample grids and checkpoints when due; saves the last checkpoint;
  4. `finish_run`: the last sample grid and training_curves.png (or, when a signal stopped the
     run, the line saying where its checkpoint is).

Keys come from the seed only (jaxgan.training.run.run_keys), so a resumed run draws exactly the
noise the uninterrupted run would have drawn, and the data iterator's state is saved with every
checkpoint. Step s makes n(s) critic updates (jaxgan.core.critic_schedule: n_critic, or the WGAN
boost) on n(s) batches, one compiled step per distinct n(s); n(s) depends only on s, so resuming
stays exact.

Fused steps (config.steps_per_call = L > 1, one device): the loop runs steps [s, e) in one compiled
`lax.scan` call (jaxgan.core.step.jit_train_loop) on the same host batches and keys, so the result
is bit-identical to one step per call; e is the next multiple of L, cut at the next checkpoint,
sample grid, sample-monitor step, at config.steps and where n(s) changes (`chunk_end`: absolute
steps, so stopping and resuming make the same calls). Every step's metrics are still logged and
monitored; signals and monitors act at the end of the call. Each distinct call length compiles
once: choose L dividing checkpoint_every, sample_every and monitor_every. Where the data fit in
device memory (the toy streams; image sets held in memory up to
jaxgan.data.iterators.DEVICE_DATA_MAX_BYTES as float32) they live on the device and each step's
batches are drawn inside the scan (`BatchIterator.device_batches`): only the plans (the toy
stream's key and batch index, or an image batch's indices from the host permutation) leave the
host, and the batches equal the host iterator's bit for bit, so results depend neither on L nor
on where the data are drawn. Small models (the 2-D MLPs) run several times faster this way
(per-call dispatch and host batches dominate their step; benchmarks/toy_loop_speed.py).

One writer per workdir: `setup_run` takes the workdir's OS file lock (jaxgan.training.lock) and
`train_and_evaluate` holds it to the end. A resume continues the run the checkpoint belongs to:
`restore_or_init` refuses a config that changes more than how long the run is and what it writes
(jaxgan.training.identity), unless allowed explicitly.

With config.num_seeds > 1 the run is jaxgan.training.seed_runs.train_seeds, built
from the same pieces (jaxgan.training.run, jaxgan.training.workdir).

Stopping: SIGTERM/SIGINT set a flag; after the current step the loop saves a checkpoint at that
step, waits for it and returns with `stopped_by` set. A NaN/Inf in the step's losses, gradient
norms or parameters raises `DivergenceError` at once, naming the step and the first offending
quantity (jaxgan.training.monitors.non_finite_message); the last good checkpoint stays the
latest. The failure signs of jaxgan.training.monitors (convergence failure, mode collapse on a
fixed latent batch every monitor_every steps, D's accuracy) are logged as metrics, print a warning
line when they start firing, and stop the run if listed in config.monitor_stop_on. A monitor
(called with (step, metrics) after every step) stops a run by raising `TrainingStopped`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

import jax
import ml_collections
import numpy as np

from jaxgan import data, visualize
from jaxgan.config import build_gan
from jaxgan.core import class_samples
from jaxgan.core.critic_schedule import CriticSchedule, critic_schedule, gans_by_critic_steps
from jaxgan.core.gan import GAN
from jaxgan.core.state import GANState, generate
from jaxgan.core.step import jit_train_loop, step_key
from jaxgan.training import identity, parallel, seed_runs
from jaxgan.training.checkpoint import Checkpointer, NonFiniteStateError
from jaxgan.training.lock import WorkdirLock
from jaxgan.training.logs import RunLog
from jaxgan.training.monitors import Report, TrainingMonitor, monitor_for_run, non_finite_message
from jaxgan.training.run import (DivergenceError, LoopEnd, Metrics, Monitor, RunKeys, StopFlag,
                                 TrainingStopped, TrainSummary, data_options, due, host_metrics,
                                 init_state, needs_final_samples, pin_data_hash, plotted_real_points,
                                 draw_step_batch, run_keys, sample_picture, step_batch)
from jaxgan.training.run_config import config_to_json, validate_config
from jaxgan.training.workdir import (CHECKPOINT_DIR, check_workdir_writable, prepare_workdir,
                                     samples_file, save_training_curves, write_run_files)

__all__ = ["DivergenceError", "FiniteMetrics", "Outputs", "Run", "TrainSummary", "TrainingStopped",
           "default_monitors", "finish_run", "open_outputs", "restore_or_init", "run_loop",
           "setup_run", "train_and_evaluate"]


class FiniteMetrics:
    """Monitor: stops the run at the first step whose metrics hold NaN or Inf (or whose `finite`
    flag is False), naming the first offending quantity. The loop does this check itself (also
    naming the parameter); this monitor is for driving steps by hand."""

    def __call__(self, step: int, metrics: Metrics) -> None:
        message = non_finite_message(step, metrics)
        if message is not None:
            raise DivergenceError(message)


def default_monitors() -> list[Monitor]:
    """The extra monitors every run has unless the caller passes its own list (the non-finite
    stop and the failure signs of jaxgan.training.monitors are built into the loop)."""
    return []


# --- 1. set-up ------------------------------------------------------------------------------------

@dataclasses.dataclass
class Run:
    """The pieces of one run that `setup_run` builds and the later steps use."""

    config: ml_collections.ConfigDict
    config_json: dict[str, Any]          # the resolved config, as saved
    workdir: pathlib.Path
    spec: data.DatasetSpec
    iterator: data.BatchIterator
    mode: str                             # jaxgan.training.parallel mode
    gan: GAN
    schedule: CriticSchedule
    compiled_steps: dict[int, parallel.CompiledStep]  # one per number of critic updates
    keys: RunKeys
    checkpointer: Checkpointer
    monitors: list[Monitor]
    is_writer: bool                       # process 0: writes files, logs and images
    messages: list[str]                   # lines for the log once it is open
    lock: WorkdirLock | None = None       # the writer lock (process 0), held to the end
    allow_config_change: bool = False     # resume even when identity keys changed (recorded)

    @property
    def compiled(self) -> parallel.CompiledStep:
        """The step of config.n_critic critic updates (it places states and reads them back)."""
        return self.compiled_steps[self.config.n_critic]


def setup_run(config: ml_collections.ConfigDict, workdir: str | os.PathLike,
              monitors: Sequence[Monitor] | None = None, allow_config_change: bool = False) -> Run:
    """Checks `config` and `workdir`, then builds the data iterator, the GAN, its compiled steps,
    the keys and the checkpointer, and takes the workdir's writer lock (process 0; another live
    writer: `WorkdirLockedError`). Nothing is trained or restored yet; the caller releases
    `run.lock` (train_and_evaluate does)."""
    validate_config(config)
    check_workdir_writable(workdir)  # before the data: a first use may prepare a data set
    iterator = data.make_iterator(config.dataset, batch_size=config.batch_size, seed=config.seed,
                                  **data_options(config))
    spec = iterator.spec
    config = pin_data_hash(config, spec)  # config.json names the prepared data it trains on
    mode = parallel.resolve_mode(config.parallel, jax.device_count())
    gan = build_gan(config, spec.shape, spec.num_classes, axis_name=parallel.step_axis_name(mode))
    workdir = prepare_workdir(workdir)
    is_writer = jax.process_index() == 0
    lock = (WorkdirLock(workdir, jax.process_index(), jax.process_count()).acquire()
            if is_writer else None)
    try:
        return _build_run(config, workdir, iterator, spec, mode, gan, is_writer, monitors, lock,
                          allow_config_change)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def _build_run(config, workdir, iterator, spec, mode, gan, is_writer, monitors, lock,
               allow_config_change) -> Run:
    monitors = default_monitors() if monitors is None else list(monitors)
    schedule = critic_schedule(config)
    compiled_steps = {n: parallel.compile_train_step(g, mode)
                      for n, g in gans_by_critic_steps(gan, schedule).items()}
    compiled = compiled_steps[config.n_critic]
    keys = run_keys(config.seed)
    config_json = config_to_json(config)

    checkpointer = Checkpointer(workdir / CHECKPOINT_DIR, max_to_keep=config.keep_checkpoints)
    messages = []
    if compiled.num_devices > 1:
        batch_norm = "synchronised" if config.sync_batch_norm else "per device"
        messages.append(f"data parallel: {mode} over {compiled.num_devices} devices in "
                        f"{jax.process_count()} process(es), BatchNorm statistics {batch_norm}")
    return Run(config=config, config_json=config_json, workdir=workdir, spec=spec,
               iterator=iterator, mode=mode, gan=gan, schedule=schedule,
               compiled_steps=compiled_steps, keys=keys, checkpointer=checkpointer,
               monitors=monitors, is_writer=is_writer, messages=messages, lock=lock,
               allow_config_change=allow_config_change)


# --- 2. restore, and the outputs ------------------------------------------------------------------

def restore_or_init(run: Run) -> tuple[GANState, int]:
    """(state, step) of the latest checkpoint, its data iterator position set on `run.iterator`;
    or a fresh state at step 0 when the workdir has no checkpoint. A checkpoint saved with another
    config is refused unless only keys that extend or observe a run changed, or
    `run.allow_config_change` (jaxgan.training.identity)."""
    if run.checkpointer.latest_step() is None:
        return init_state(run.gan, run.keys.init), 0
    # straight onto the step's layout (e.g. replicated over every process's devices)
    restored = run.checkpointer.restore(parallel.abstract_state(run.compiled, run.gan,
                                                                run.keys.init),
                                        config=run.config_json)
    start_step = int(restored.step)
    changes = identity.check_resume(run.workdir, restored.config, run.config_json, start_step,
                                    run.allow_config_change, write_record=run.is_writer)
    run.iterator.set_state(restored.data_state)
    run.messages.append(f"resuming from step {start_step}")
    run.messages.extend(changes)
    return restored.state, start_step


@dataclasses.dataclass
class Outputs:
    """What the loop writes to and looks with: the log, the fixed latent batch of the sample grids
    and its sampler, the failure monitor and its own fixed latent batch."""

    log: RunLog
    grid_z: jax.Array
    grid_labels: jax.Array | None
    grid_columns: int | None
    sampler: Callable
    real_points: np.ndarray | None        # under the scatter plots of 2-D data
    failure: TrainingMonitor
    monitor_z: jax.Array
    monitor_labels: jax.Array | None
    monitor_sampler: Callable


def open_outputs(run: Run, start_step: int, stream: IO[str] | None = None) -> Outputs:
    """Writes config.json, data_spec.json and samples/ (process 0), opens the log (and prints the
    set-up's messages), and draws the fixed latent batches of the sample grids and of the failure
    monitor."""
    config, gan = run.config, run.gan
    if run.is_writer:
        write_run_files(run.workdir, run.config_json, run.spec)
    log = RunLog(run.workdir, total_steps=config.steps, start_step=start_step,
                 log_every=config.log_every, enabled=run.is_writer, stream=stream)
    for text in run.messages:
        log.message(text)

    grid_labels, grid_columns = class_samples.class_grid(gan, config.num_samples_grid)
    grid_z = gan.sample_latent(run.keys.grid, config.num_samples_grid if grid_labels is None
                               else len(grid_labels))  # conditional: one row per class
    sampler = jax.jit(functools.partial(generate, gan))
    real_points = plotted_real_points(config, run.spec, config.seed)
    num_real = min(config.monitor_num_samples,
                   run.spec.num_examples or config.monitor_num_samples)
    failure = monitor_for_run(config, gan.loss, data.sample_real(
        config.dataset, num_real, config.seed, **data_options(config))
        if config.monitor_every > 0 else None)
    monitor_z = gan.sample_latent(jax.random.fold_in(run.keys.grid, 1), config.monitor_num_samples)
    monitor_labels = class_samples.balanced_labels(gan, config.monitor_num_samples)
    # the trained G, not its EMA: the EMA starts at the untrained G and lags it by ~1/(1 − decay)
    # steps, which would look like a collapse long after G has spread out
    monitor_sampler = jax.jit(functools.partial(generate, gan, use_ema=False))
    return Outputs(log=log, grid_z=grid_z, grid_labels=grid_labels, grid_columns=grid_columns,
                   sampler=sampler, real_points=real_points, failure=failure,
                   monitor_z=monitor_z, monitor_labels=monitor_labels,
                   monitor_sampler=monitor_sampler)


def write_samples(run: Run, out: Outputs, step: int, logical: GANState) -> None:
    """samples/step_NNNNNNN.png and its TensorBoard image: G on the fixed latent batch."""
    if not run.is_writer:
        return
    # this process's copy: process 0 samples alone, without the other processes' devices
    picture = sample_picture(
        out.sampler(parallel.host_local_state(logical), out.grid_z, out.grid_labels),
        run.spec, out.real_points, title=f"step {step}", columns=out.grid_columns)
    visualize.save_png(picture, samples_file(run.workdir, step))
    out.log.image("samples", step, picture)


def save_checkpoint(run: Run, step: int, logical: GANState, wait: bool = False) -> None:
    """The state, the data iterator's position and the config at `step`; a state holding NaN/Inf
    raises DivergenceError instead of being written."""
    try:
        run.checkpointer.save(step, logical, run.iterator.get_state(), run.config_json, wait=wait)
    except NonFiniteStateError as err:
        raise DivergenceError(f"training diverged at step {step}: {err}") from None


# --- 3. the loop ----------------------------------------------------------------------------------

@dataclasses.dataclass
class _Progress:
    """The loop's moving parts: the state on the devices and the step whose metrics are pending
    (computed on the device, not yet looked at on the host)."""

    device_state: Any
    # (first step, device metrics, stacked) not yet looked at; stacked: [L] per metric (fused)
    pending: tuple[int, Any, bool] | None = None
    metrics: dict[str, Any] = dataclasses.field(default_factory=dict)  # the last ones looked at


def _monitor_samples(run: Run, out: Outputs, step: int, logical: GANState) -> Report:
    """The failure monitor's verdict on G's samples of the fixed latent batch (computed on every
    process, so that all of them stop together)."""
    samples = out.monitor_sampler(parallel.host_local_state(logical), out.monitor_z,
                                  out.monitor_labels)
    return out.failure.observe_samples(step, np.asarray(samples))


def fused_steps(config: ml_collections.ConfigDict, mode: str) -> int:
    """config.steps_per_call, or 1 where the fused loop does not apply (several devices)."""
    fused = config.get("steps_per_call", 1)
    return fused if mode == "jit" else 1


def chunk_end(step: int, config: ml_collections.ConfigDict, schedule: CriticSchedule,
              fused: int) -> int:
    """The end of the call that starts at `step`: the next multiple of `fused`, cut at the next
    step due for a checkpoint, sample grid or sample monitor, at config.steps and where the
    critic schedule changes. Every end is a function of the absolute step, so a run stopped or
    resumed at any end makes exactly the calls the uninterrupted run makes."""
    end = min(config.steps, (step // fused + 1) * fused)
    for every in (config.checkpoint_every, config.sample_every, config.monitor_every):
        if every > 0:
            end = min(end, (step // every + 1) * every)
    critic_steps = schedule.at(step)
    for s in range(step + 1, end):
        if schedule.at(s) != critic_steps:
            return s
    return end


def _observe(run: Run, out: Outputs, progress: _Progress,
             samples_report: Report | None = None) -> None:
    """Hands the pending steps' metrics to the failure monitor, the logs and the monitors, step
    by step (one call behind, so the host reads them while the device runs the next call).
    `samples_report`: the failure monitor's verdict on the last pending step's samples, if
    taken."""
    if progress.pending is None:
        return
    first, device_metrics, stacked = progress.pending
    progress.pending = None
    host = jax.device_get(dict(device_metrics))
    if stacked:  # one conversion per metric (tolist: Python floats and bools, as host_metrics)
        columns = {k: np.asarray(v).tolist() for k, v in host.items()}
        rows = [dict(zip(columns, values)) for values in zip(*columns.values())]
    else:
        rows = [host_metrics(host)]
    for i, row in enumerate(rows):
        _observe_step(run, out, progress, first + i, row,
                      samples_report if i == len(rows) - 1 else None)


def _observe_step(run: Run, out: Outputs, progress: _Progress, done: int,
                  metrics: dict[str, Any], samples_report: Report | None) -> None:
    """One step's metrics to the failure monitor, the logs and the monitors."""
    progress.metrics = metrics
    report = out.failure.observe(done, metrics)
    warnings = report.warnings + (samples_report.warnings if samples_report else ())
    # logged first, so that the bad step is on record when a monitor stops the run
    out.log.step(done, {**metrics, **report.metrics}, force=bool(warnings))
    for text in warnings:
        out.log.warning(done, text)
    if non_finite_message(done, metrics) is not None:
        raise DivergenceError(non_finite_message(
            done, metrics,
            parallel.host_local_state(run.compiled.get_state(progress.device_state))))
    for monitor in run.monitors:
        monitor(done, metrics)
    stop_reason = report.stop or (samples_report.stop if samples_report else None)
    if stop_reason is not None:
        raise TrainingStopped(stop_reason)


def run_loop(run: Run, out: Outputs, device_state: Any, start_step: int,
             handle_signals: bool = True) -> LoopEnd:
    """Trains from `start_step` to config.steps (or until SIGTERM/SIGINT when `handle_signals`),
    writing metrics every step and sample grids, failure-monitor checks and checkpoints when due;
    saves a checkpoint of the last step and waits for every save to finish."""
    config, compiled = run.config, run.compiled
    progress = _Progress(device_state)
    step, last_saved = start_step, start_step
    fused = fused_steps(config, run.mode)
    if fused < config.get("steps_per_call", 1):
        out.log.message(f"steps_per_call={config.steps_per_call} needs one device (parallel "
                        f"mode 'jit', not {run.mode!r}); running one step per call")
    # the data on the device where they fit: only each batch's plan leaves the host (data_plans)
    device_data = run.iterator.device_batches() if fused > 1 else None
    train_loops = ({n: jit_train_loop(g, None if device_data is None
                                      else draw_step_batch(device_data.draw, n))
                    for n, g in gans_by_critic_steps(run.gan, run.schedule).items()}
                   if fused > 1 else {})
    stop = StopFlag()
    with stop if handle_signals else contextlib.nullcontext():
        while step < config.steps and stop.signal_name is None:
            critic_steps = run.schedule.at(step)
            end = chunk_end(step, config, run.schedule, fused)
            if end - step == 1:
                batch = run.compiled_steps[critic_steps].put_batch(step_batch(run.iterator,
                                                                              critic_steps))
                progress.device_state, device_metrics = run.compiled_steps[critic_steps](
                    progress.device_state, batch, step_key(run.keys.train, step))
            elif device_data is not None:  # steps [step, end) in one call, data drawn there
                plans = run.iterator.take_plans((end - step) * critic_steps)
                plans = plans.reshape((end - step, critic_steps) + plans.shape[1:])
                progress.device_state, device_metrics = train_loops[critic_steps](
                    progress.device_state, plans, run.keys.train, step, device_data.arrays)
            else:  # steps [step, end) in one call (one device: run.mode == 'jit')
                batches = [step_batch(run.iterator, critic_steps) for _ in range(step, end)]
                batches = jax.device_put({k: np.stack([b[k] for b in batches])
                                          for k in batches[0]})
                progress.device_state, device_metrics = train_loops[critic_steps](
                    progress.device_state, batches, run.keys.train, step)
            _observe(run, out, progress)
            progress.pending = (step + 1, device_metrics, end - step > 1)
            step = end
            if (due(step, config.checkpoint_every) or due(step, config.sample_every)
                    or due(step, config.monitor_every)):
                logical = compiled.get_state(progress.device_state)
                _observe(run, out, progress, _monitor_samples(run, out, step, logical)
                         if due(step, config.monitor_every) else None)
                if due(step, config.sample_every):
                    write_samples(run, out, step, logical)
                if due(step, config.checkpoint_every):
                    save_checkpoint(run, step, logical)
                    last_saved = step
        _observe(run, out, progress)
        logical = compiled.get_state(progress.device_state)
        if step != last_saved or run.checkpointer.latest_step() is None:
            save_checkpoint(run, step, logical, wait=True)
        run.checkpointer.wait_until_finished()
    return LoopEnd(state=logical, step=step, stopped_by=stop.signal_name,
                   metrics=progress.metrics)


# --- 4. the end of a run --------------------------------------------------------------------------

def finish_run(run: Run, out: Outputs, end: LoopEnd, start_step: int) -> None:
    """The last sample grid and training_curves.png; or, for a run a signal stopped, the line
    saying where its checkpoint is."""
    if end.stopped_by is not None:
        out.log.message(f"stopped by {end.stopped_by} at step {end.step}; checkpoint saved in "
                        f"{run.workdir / CHECKPOINT_DIR}")
        return
    if needs_final_samples(end.step, start_step, run.config):
        write_samples(run, out, end.step, end.state)
    if run.is_writer:
        save_training_curves(run.workdir)


def _note_kept_checkpoint(run: Run, err: TrainingStopped) -> None:
    """Adds to a stopped run's message which checkpoint is kept."""
    run.checkpointer.wait_until_finished()
    kept = run.checkpointer.latest_step()
    # "good": every step is checked finite before it is saved and checksummed and checked again
    # when restored (jaxgan.training.checkpoint)
    where = (f"the last good checkpoint (step {kept}) is kept in {run.workdir / CHECKPOINT_DIR}"
             if kept is not None else "no checkpoint was saved")
    err.args = (f"{err}; {where}",)


def _close_after_failure(close: Callable[[], None]) -> None:
    """Runs `close` while another error propagates: its own OSError (the same full disk, say)
    must not replace the first one, which says what failed first."""
    try:
        close()
    except OSError:
        pass


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
                       monitors: Sequence[Monitor] | None = None, handle_signals: bool = True,
                       stream: IO[str] | None = None,
                       allow_config_change: bool = False) -> TrainSummary:
    """Trains the GAN `config` describes in `workdir`, resuming from its latest checkpoint.

    Args:
      config: a resolved config (jaxgan.config.base_config() plus experiment and overrides).
      workdir: the run directory (created if needed).
      monitors: called as monitor(step, metrics) after every step (default: `default_monitors()`);
        a monitor raising `TrainingStopped` ends the run (the exception propagates).
      handle_signals: install SIGTERM/SIGINT handlers that checkpoint and stop after the step.
      stream: where progress and messages go (default stdout).
      allow_config_change: resume even when the config differs from the checkpoint's in keys that
        change what the run is (jaxgan.training.identity); the change is recorded in
        workdir/config_changes.jsonl.

    One writer per workdir: the workdir's lock (jaxgan.training.lock) is held from set-up to the
    end; a second writer raises `WorkdirLockedError` naming the holder.

    With config.num_seeds > 1 it trains seeds seed … seed + num_seeds − 1 at once, each into
    workdir/seed_<k> (jaxgan.training.seed_runs.train_seeds).

    Raises:
      ValueError (ConfigError, DataError, CheckpointError, WorkdirError, UnknownNameError): bad
        input, one line each; DivergenceError: NaN/Inf metrics (the last good checkpoint is kept).
    """
    task = config.get("task", "gan")
    if task != "gan":  # another trainer (jaxgan.training.trainers: e.g. 'cyclegan')
        from jaxgan.training.trainers import TRAINERS
        return TRAINERS[task](config, workdir, monitors=monitors, handle_signals=handle_signals,
                              stream=stream, allow_config_change=allow_config_change)
    seed_runs.check_workdir_kind(workdir, config)
    if config.get("num_seeds", 1) > 1:  # several seeds at once (jaxgan.training.seed_runs)
        return seed_runs.train_seeds(config, workdir, handle_signals=handle_signals, stream=stream,
                                     allow_config_change=allow_config_change)
    started = time.monotonic()
    run = setup_run(config, workdir, monitors, allow_config_change)
    try:
        state, start_step = restore_or_init(run)
        out = open_outputs(run, start_step, stream)
        device_state = run.compiled.put_state(state)
        try:
            end = run_loop(run, out, device_state, start_step, handle_signals)
            finish_run(run, out, end, start_step)
        except BaseException as err:
            try:
                if isinstance(err, TrainingStopped):
                    _note_kept_checkpoint(run, err)
            finally:
                _close_after_failure(out.log.close)
            raise
        out.log.close()
        run.checkpointer.close()
    except BaseException:
        _close_after_failure(run.checkpointer.close)
        raise
    finally:
        if run.lock is not None:
            run.lock.release()
    return TrainSummary(state=end.state, step=end.step, start_step=start_step,
                        stopped_by=end.stopped_by, metrics=end.metrics,
                        seconds=time.monotonic() - started, workdir=run.workdir)
