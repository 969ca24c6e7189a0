"""The training loop: `train_and_evaluate(config, workdir)` (the flax examples' entry point).

One run = one workdir. The loop builds the data iterator, the GAN and its state, compiles the step
for the configured parallel mode, and then for every step s draws n_critic·batch_size real rows,
runs the step with key fold_in(train_key, s) and hands the step's metrics to the monitors and the
logs. Keys come from the seed only: init, train and grid keys = split(key(seed), 3), so a resumed
run draws exactly the noise the uninterrupted run would have drawn, and the data iterator's state
is saved with every checkpoint.

A workdir holds: checkpoints/ (resumed automatically), config.json (the resolved config),
data_spec.json (shape and modes of the data, for sampling without the data), metrics.jsonl,
tensorboard/, samples/step_NNNNNNN.png (a fixed latent batch every sample_every steps) and, at the
end, training_curves.png (losses and D accuracy on real/fake).

Step s makes n(s) critic updates (jaxgan.critic_schedule: n_critic, or the WGAN boost) on n(s)
batches, one compiled step per distinct n(s); n(s) depends only on s, so resuming stays exact.

Fused steps (config.steps_per_call = L > 1, one device): the loop runs steps [s, e) in one compiled
`lax.scan` call (jaxgan.step.jit_train_loop) on the same host batches and keys, so the result is
bit-identical to one step per call; e is the next multiple of L, cut at the next checkpoint, sample
grid, sample-monitor step, at config.steps and where n(s) changes (`chunk_end`: absolute steps, so
stopping and resuming make the same calls). Every step's metrics are still logged and monitored;
signals and monitors act at the end of the call. Each distinct call length compiles once: choose
L dividing checkpoint_every, sample_every and monitor_every. Small models (the 2-D MLPs) run
~4.5× faster this way (per-call dispatch dominates their step).

Stopping: SIGTERM/SIGINT set a flag; after the current step the loop saves a checkpoint at that
step, waits for it and returns with `stopped_by` set. A NaN/Inf in the step's losses, gradient
norms or parameters raises `DivergenceError` at once, naming the step and the first offending
quantity (jaxgan.monitors.non_finite_message); the last good checkpoint stays the latest. The
failure signs of jaxgan.monitors (convergence failure, mode collapse on a fixed latent batch every
monitor_every steps, D's accuracy) are logged as metrics, print a warning line when they start
firing, and stop the run if listed in config.monitor_stop_on. A monitor (called with
(step, metrics) after every step) stops a run by raising `TrainingStopped`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import pathlib
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, NamedTuple

import jax
import ml_collections
import numpy as np

from jaxgan import class_samples, data, parallel, visualize
from jaxgan.checkpoint import Checkpointer, NonFiniteStateError
from jaxgan.config import build_gan
from jaxgan.critic_schedule import critic_schedule, gans_by_critic_steps
from jaxgan.gan import GAN
from jaxgan.logs import METRICS_FILE, RunLog, read_metrics
from jaxgan.monitors import Report, monitor_for_run, non_finite_message
from jaxgan.run_config import config_to_json, validate_config
from jaxgan.state import GANState, create_train_state, generate
from jaxgan.step import jit_train_loop, step_key

CHECKPOINT_DIR = "checkpoints"
CONFIG_FILE = "config.json"
DATA_SPEC_FILE = "data_spec.json"
SAMPLES_DIR = "samples"
CURVES_FILE = "training_curves.png"
NUM_REAL_POINTS_PLOTTED = 1000

Metrics = Mapping[str, float]
Monitor = Callable[[int, Metrics], None]


class WorkdirError(ValueError):
    """The workdir cannot be created or written; one line saying which and why."""


class TrainingStopped(RuntimeError):
    """Raised by a monitor to end a run early; its message is one line saying why."""


class DivergenceError(TrainingStopped):
    """A metric became NaN or Inf."""


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
    stop and the failure signs of jaxgan.monitors are built into the loop)."""
    return []


class RunKeys(NamedTuple):
    init: jax.Array   # create_train_state
    train: jax.Array  # step s uses step_key(train, s)
    grid: jax.Array   # the fixed latent batch of the sample grids


def run_keys(seed: int) -> RunKeys:
    """init, train, grid = split(key(seed), 3)."""
    return RunKeys(*jax.random.split(jax.random.key(seed), 3))


@dataclasses.dataclass
class TrainSummary:
    """What `train_and_evaluate` returns.

    Attributes:
      state: the final logical GANState.
      step: steps completed (== config.steps unless stopped early).
      start_step: the step this session started (resumed) from.
      stopped_by: None, or the signal name ('SIGTERM', 'SIGINT') that stopped the run.
      metrics: the last step's metrics (host floats).
      seconds: wall time of this session.
      workdir: where everything was written.
    """

    state: GANState
    step: int
    start_step: int
    stopped_by: str | None
    metrics: dict[str, float]
    seconds: float
    workdir: pathlib.Path


# --- workdir and data -----------------------------------------------------------------------------

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


def data_options(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The keyword arguments of jaxgan.data for this config (toy data take no image options)."""
    options = {"data_dir": config.data_dir or None}
    if data.dataset_kind(config.dataset) != "toy":
        options.update(resolution=config.resolution, channels=config.channels)
    return options


def spec_to_json(spec) -> dict[str, Any]:
    return {"name": spec.name, "kind": spec.kind, "shape": list(spec.shape),
            "num_classes": spec.num_classes, "num_examples": spec.num_examples,
            "mode_centers": None if spec.mode_centers is None else
            np.asarray(spec.mode_centers).tolist(),
            "mode_std": spec.mode_std}


def spec_from_json(values: Mapping[str, Any]):
    centers = values.get("mode_centers")
    return data.DatasetSpec(
        name=values["name"], kind=values["kind"], shape=tuple(values["shape"]),
        num_classes=values["num_classes"], num_examples=values["num_examples"],
        mode_centers=None if centers is None else np.asarray(centers, np.float64),
        mode_std=values.get("mode_std"))


def step_batch(iterator, n_critic: int) -> dict[str, np.ndarray]:
    """n_critic consecutive batches stacked row-wise: one step's real data (jaxgan.step)."""
    batches = [next(iterator) for _ in range(n_critic)]
    if n_critic == 1:
        return batches[0]
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def abstract_state(gan: GAN, key: jax.Array) -> GANState:
    """The state's shapes and dtypes, without computing it (what a restore fills in)."""
    return jax.eval_shape(functools.partial(create_train_state, gan), key)


def init_state(gan: GAN, key: jax.Array) -> GANState:
    """create_train_state(gan, key) as one computation compiled without XLA's backend
    optimisations: it runs once, and the optimised compile of dozens of random initialisers takes
    seconds of CPU (values agree with the eager ones to float32 rounding)."""
    fn = jax.jit(functools.partial(create_train_state, gan))
    return fn.lower(key).compile({"xla_backend_optimization_level": 0})(key)


def sample_picture(samples: np.ndarray, spec, real: np.ndarray | None,
                   title: str = "", columns: int | None = None) -> np.ndarray:
    """A uint8 picture of samples: an image grid, or a scatter over the real points (2-D data)."""
    samples = np.asarray(samples)
    if spec.kind == "points":
        return visualize.scatter_picture(samples, real, spec.mode_centers, title)
    return visualize.image_grid(samples, columns=columns,
                                scale=visualize.display_scale(samples.shape[1]))


# --- signals --------------------------------------------------------------------------------------

class StopFlag:
    """Set by SIGTERM/SIGINT while installed; a second SIGINT interrupts at once."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum, frame):
        if signum == signal.SIGINT and self.signal_name == "SIGINT":
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name

    def __enter__(self) -> StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


# --- the loop -------------------------------------------------------------------------------------

def _due(step: int, every: int) -> bool:
    return every > 0 and step % every == 0


def fused_steps(config: ml_collections.ConfigDict, mode: str, log) -> int:
    """config.steps_per_call, or 1 where the fused loop does not apply (several devices)."""
    fused = config.get("steps_per_call", 1)
    if fused > 1 and mode != "jit":
        log.message(f"steps_per_call={fused} needs one device (parallel mode 'jit', not "
                    f"{mode!r}); running one step per call")
        return 1
    return fused


def chunk_end(step: int, config: ml_collections.ConfigDict, schedule, fused: int) -> int:
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


def _host_metrics(metrics: Mapping[str, jax.Array]) -> dict[str, float]:
    return {k: (bool(v) if np.asarray(v).dtype == bool else float(v))
            for k, v in jax.device_get(dict(metrics)).items()}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str | os.PathLike, *,
                       monitors: Sequence[Monitor] | None = None, handle_signals: bool = True,
                       stream: IO[str] | None = None) -> TrainSummary:
    """Trains the GAN `config` describes in `workdir`, resuming from its latest checkpoint.

    Args:
      config: a resolved config (jaxgan.config.base_config() plus experiment and overrides).
      workdir: the run directory (created if needed).
      monitors: called as monitor(step, metrics) after every step (default: `default_monitors()`);
        a monitor raising `TrainingStopped` ends the run (the exception propagates).
      handle_signals: install SIGTERM/SIGINT handlers that checkpoint and stop after the step.
      stream: where progress and messages go (default stdout).

    With config.num_seeds > 1 it trains seeds seed … seed + num_seeds − 1 at once, each into
    workdir/seed_<k> (jaxgan.seed_runs.train_seeds).

    Raises:
      ValueError (ConfigError, DataError, CheckpointError, WorkdirError, UnknownNameError): bad
        input, one line each; DivergenceError: NaN/Inf metrics (the last good checkpoint is kept).
    """
    if config.get("num_seeds", 1) > 1:  # several seeds at once (jaxgan.seed_runs)
        from jaxgan.seed_runs import train_seeds
        return train_seeds(config, workdir, handle_signals=handle_signals, stream=stream)
    started = time.monotonic()
    validate_config(config)
    check_workdir_writable(workdir)  # before the data: a first use may prepare a data set
    iterator = data.make_iterator(config.dataset, batch_size=config.batch_size, seed=config.seed,
                                  **data_options(config))
    spec = iterator.spec
    mode = parallel.resolve_mode(config.parallel, jax.device_count())
    gan = build_gan(config, spec.shape, spec.num_classes, axis_name=parallel.step_axis_name(mode))
    workdir = prepare_workdir(workdir)
    is_writer = jax.process_index() == 0
    monitors = default_monitors() if monitors is None else list(monitors)
    schedule = critic_schedule(config)
    compiled_steps = {n: parallel.compile_train_step(g, mode)
                      for n, g in gans_by_critic_steps(gan, schedule).items()}
    compiled = compiled_steps[config.n_critic]
    keys = run_keys(config.seed)
    config_json = config_to_json(config)

    checkpointer = Checkpointer(workdir / CHECKPOINT_DIR, max_to_keep=config.keep_checkpoints)
    start_step = 0
    messages = []
    if compiled.num_devices > 1:
        batch_norm = "synchronised" if config.sync_batch_norm else "per device"
        messages.append(f"data parallel: {mode} over {compiled.num_devices} devices in "
                        f"{jax.process_count()} process(es), BatchNorm statistics {batch_norm}")
    if checkpointer.latest_step() is not None:
        # straight onto the step's layout (e.g. replicated over every process's devices)
        restored = checkpointer.restore(parallel.abstract_state(compiled, gan, keys.init),
                                        config=config_json)
        state, start_step = restored.state, int(restored.step)
        iterator.set_state(restored.data_state)
        messages.append(f"resuming from step {start_step}")
    else:
        state = init_state(gan, keys.init)

    if is_writer:
        (workdir / CONFIG_FILE).write_text(json.dumps(config_json, indent=2) + "\n")
        (workdir / DATA_SPEC_FILE).write_text(json.dumps(spec_to_json(spec), indent=2) + "\n")
        (workdir / SAMPLES_DIR).mkdir(exist_ok=True)
    log = RunLog(workdir, total_steps=config.steps, start_step=start_step,
                 log_every=config.log_every, enabled=is_writer, stream=stream)
    for text in messages:
        log.message(text)

    grid_labels, grid_columns = class_samples.class_grid(gan, config.num_samples_grid)
    grid_z = gan.sample_latent(keys.grid, config.num_samples_grid if grid_labels is None
                               else len(grid_labels))  # conditional: one row per class
    sampler = jax.jit(functools.partial(generate, gan))
    real_points = (data.sample_real(config.dataset, NUM_REAL_POINTS_PLOTTED, config.seed,
                                    **data_options(config)) if spec.kind == "points" else None)
    num_real = min(config.monitor_num_samples, spec.num_examples or config.monitor_num_samples)
    failure = monitor_for_run(config, gan.loss, data.sample_real(
        config.dataset, num_real, config.seed, **data_options(config))
        if config.monitor_every > 0 else None)
    monitor_z = gan.sample_latent(jax.random.fold_in(keys.grid, 1), config.monitor_num_samples)
    monitor_labels = class_samples.balanced_labels(gan, config.monitor_num_samples)
    # the trained G, not its EMA: the EMA starts at the untrained G and lags it by ~1/(1 − decay)
    # steps, which would look like a collapse long after G has spread out
    monitor_sampler = jax.jit(functools.partial(generate, gan, use_ema=False))

    def monitor_samples(step: int, logical: GANState) -> Report:
        """The failure monitor's verdict on G's samples of the fixed latent batch (computed on
        every process, so that all of them stop together)."""
        samples = monitor_sampler(parallel.host_local_state(logical), monitor_z, monitor_labels)
        return failure.observe_samples(step, np.asarray(samples))

    def write_samples(step: int, logical: GANState) -> None:
        if not is_writer:
            return
        # this process's copy: process 0 samples alone, without the other processes' devices
        picture = sample_picture(sampler(parallel.host_local_state(logical), grid_z, grid_labels),
                                 spec, real_points, title=f"step {step}", columns=grid_columns)
        visualize.save_png(picture, workdir / SAMPLES_DIR / f"step_{step:07d}.png")
        log.image("samples", step, picture)

    def save_checkpoint(step: int, logical: GANState, wait: bool = False) -> None:
        try:
            checkpointer.save(step, logical, iterator.get_state(), config_json, wait=wait)
        except NonFiniteStateError as err:
            raise DivergenceError(f"training diverged at step {step}: {err}") from None

    device_state = compiled.put_state(state)
    step, last_saved, metrics = start_step, start_step, {}
    # (first step, device metrics, stacked) not yet looked at; stacked: [L] per metric (fused)
    pending: tuple[int, Any, bool] | None = None
    fused = fused_steps(config, compiled.mode, log)
    train_loops = ({n: jit_train_loop(g) for n, g in gans_by_critic_steps(gan, schedule).items()}
                   if fused > 1 else {})

    def observe_one(done: int, step_metrics: dict[str, float],
                    samples_report: Report | None) -> None:
        nonlocal metrics
        metrics = step_metrics
        report = failure.observe(done, metrics)
        warnings = report.warnings + (samples_report.warnings if samples_report else ())
        # logged first, so that the bad step is on record when a monitor stops the run
        log.step(done, {**metrics, **report.metrics}, force=bool(warnings))
        for text in warnings:
            log.warning(done, text)
        if non_finite_message(done, metrics) is not None:
            raise DivergenceError(non_finite_message(
                done, metrics, parallel.host_local_state(compiled.get_state(device_state))))
        for monitor in monitors:
            monitor(done, metrics)
        stop_reason = report.stop or (samples_report.stop if samples_report else None)
        if stop_reason is not None:
            raise TrainingStopped(stop_reason)

    def observe(samples_report: Report | None = None) -> None:
        """Hands the pending steps' metrics to the failure monitor, the logs and the monitors,
        step by step (one call behind, so the host reads them while the device runs the next
        call). `samples_report`: the failure monitor's verdict on the last pending step's
        samples, if taken."""
        nonlocal pending
        if pending is None:
            return
        first, device_metrics, stacked = pending
        pending = None
        host = jax.device_get(dict(device_metrics))
        rows = ([{k: v[i] for k, v in host.items()} for i in range(len(host["d_loss"]))]
                if stacked else [host])
        for i, row in enumerate(rows):
            observe_one(first + i, _host_metrics(row),
                        samples_report if i == len(rows) - 1 else None)

    stop = StopFlag()
    try:
        with stop if handle_signals else contextlib.nullcontext():
            while step < config.steps and stop.signal_name is None:
                critic_steps = schedule.at(step)
                end = chunk_end(step, config, schedule, fused)
                if end - step == 1:
                    batch = compiled_steps[critic_steps].put_batch(
                        step_batch(iterator, critic_steps))
                    device_state, device_metrics = compiled_steps[critic_steps](
                        device_state, batch, step_key(keys.train, step))
                else:  # steps [step, end) in one call (one device: compiled.mode == 'jit')
                    batches = [step_batch(iterator, critic_steps) for _ in range(step, end)]
                    batches = jax.device_put({k: np.stack([b[k] for b in batches])
                                              for k in batches[0]})
                    device_state, device_metrics = train_loops[critic_steps](
                        device_state, batches, keys.train, step)
                observe()
                pending = (step + 1, device_metrics, end - step > 1)
                step = end
                if (_due(step, config.checkpoint_every) or _due(step, config.sample_every)
                        or _due(step, config.monitor_every)):
                    logical = compiled.get_state(device_state)
                    observe(monitor_samples(step, logical)
                            if _due(step, config.monitor_every) else None)
                    if _due(step, config.sample_every):
                        write_samples(step, logical)
                    if _due(step, config.checkpoint_every):
                        save_checkpoint(step, logical)
                        last_saved = step
            observe()
            logical = compiled.get_state(device_state)
            if step != last_saved or checkpointer.latest_step() is None:
                save_checkpoint(step, logical, wait=True)
            checkpointer.wait_until_finished()
        if stop.signal_name is not None:
            log.message(f"stopped by {stop.signal_name} at step {step}; checkpoint saved in "
                        f"{workdir / CHECKPOINT_DIR}")
        else:
            if not _due(step, config.sample_every) or step == start_step:
                write_samples(step, logical)
            if is_writer:
                records = read_metrics(workdir / METRICS_FILE)
                if records:
                    visualize.save_png(visualize.training_curves_picture(records),
                                       workdir / CURVES_FILE)
    except TrainingStopped as err:
        checkpointer.wait_until_finished()
        kept = checkpointer.latest_step()
        where = (f"the last good checkpoint (step {kept}) is kept in {workdir / CHECKPOINT_DIR}"
                 if kept is not None else "no checkpoint was saved")
        err.args = (f"{err}; {where}",)
        raise
    finally:
        log.close()
        checkpointer.close()
    return TrainSummary(state=logical, step=step, start_step=start_step,
                        stopped_by=stop.signal_name, metrics=metrics,
                        seconds=time.monotonic() - started, workdir=workdir)

