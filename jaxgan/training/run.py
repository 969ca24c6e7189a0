"""The pieces every training run is made of, shared by the single-run loop (jaxgan.training.loop)
and the multi-seed runs (jaxgan.training.seed_runs), and by the tools that load a run back.

Keys come from the seed only: init, train and grid keys = split(key(seed), 3) (`run_keys`), so a
resumed run draws exactly the noise the uninterrupted run would have drawn. One step's real data
are n(s) consecutive batches of the data iterator (`step_batch`). A restore fills in
`abstract_state`; a fresh run starts from `init_state`. SIGTERM/SIGINT set a `StopFlag` that the
loops check after every step; a monitor ends a run by raising `TrainingStopped`.
"""
from __future__ import annotations

import dataclasses
import functools
import pathlib
import signal
import threading
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import ml_collections
import numpy as np

from jaxgan import data, visualize
from jaxgan.core.gan import GAN
from jaxgan.core.state import GANState, create_train_state

NUM_REAL_POINTS_PLOTTED = 1000

Metrics = Mapping[str, float]
Monitor = Callable[[int, Metrics], None]


class TrainingStopped(RuntimeError):
    """Raised by a monitor to end a run early; its message is one line saying why."""


class DivergenceError(TrainingStopped):
    """A metric became NaN or Inf."""


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


@dataclasses.dataclass
class LoopEnd:
    """Where a training loop ended: the logical state, the step, the signal that stopped it (None
    when it ran to config.steps) and the last step's metrics."""

    state: Any
    step: int
    stopped_by: str | None
    metrics: dict[str, Any]


# --- data and state -------------------------------------------------------------------------------

def data_options(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The keyword arguments of jaxgan.data for this config (toy data take no image options)."""
    options = {"data_dir": config.data_dir or None}
    if data.dataset_kind(config.dataset) != "toy":
        options.update(resolution=config.resolution, channels=config.channels)
    class_split = data.class_split_from_config(config)  # train_classes / exclude_classes
    if class_split is not None:
        options["class_split"] = class_split
    return options


def pin_data_hash(config: ml_collections.ConfigDict, spec) -> ml_collections.ConfigDict:
    """`config` with data_sha256 set to the content hash of a data set made by `jaxgan prepare`
    (a copy; `config` itself when the data has no hash), so config.json names the data it was
    trained on. A non-empty data_sha256 that differs from the data's (the set was re-prepared
    from other images since the run started) is refused with a DataError."""
    digest = getattr(spec, "content_sha256", "")
    if not digest or "data_sha256" not in config:
        return config
    if config.data_sha256 and config.data_sha256 != digest:
        raise data.DataError(
            f"data set '{config.dataset}' has changed: config.data_sha256 is "
            f"{config.data_sha256[:16]}..., the prepared data's content hash is {digest[:16]}...; "
            f"train in a new --workdir, or pass --config.data_sha256= to accept the new data")
    pinned = config.copy_and_resolve_references()
    pinned.data_sha256 = digest
    return pinned


def plotted_real_points(config: ml_collections.ConfigDict, spec, seed: int) -> np.ndarray | None:
    """The real points drawn under the sample scatter plots of 2-D data (None for images)."""
    if spec.kind != "points":
        return None
    return data.sample_real(config.dataset, NUM_REAL_POINTS_PLOTTED, seed, **data_options(config))


def step_batch(iterator, n_critic: int) -> dict[str, np.ndarray]:
    """n_critic consecutive batches stacked row-wise: one step's real data (jaxgan.core.step)."""
    batches = [next(iterator) for _ in range(n_critic)]
    if n_critic == 1:
        return batches[0]
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def draw_step_batch(draw: Callable, critic_steps: int) -> Callable:
    """`(data, plans [n, ...]) -> one step's batch`: the n = critic_steps batches the plans name,
    drawn on the device and stacked row-wise as `step_batch` stacks n host batches."""
    def step_draw(data, plans):
        parts = [draw(data, plans[i]) for i in range(critic_steps)]
        return parts[0] if critic_steps == 1 else {
            k: jax.numpy.concatenate([p[k] for p in parts]) for k in parts[0]}
    return step_draw


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


# --- the loop's clock and its signals -------------------------------------------------------------

def due(step: int, every: int) -> bool:
    """Whether something done every `every` steps (0: never) is due at `step`."""
    return every > 0 and step % every == 0


def needs_final_samples(step: int, start_step: int, config: ml_collections.ConfigDict) -> bool:
    """Whether the end of a run still has to write the sample grid of its last step."""
    return not due(step, config.sample_every) or step == start_step


def host_metrics(metrics: Mapping[str, jax.Array]) -> dict[str, float]:
    return {k: (bool(v) if np.asarray(v).dtype == bool else float(v))
            for k, v in jax.device_get(dict(metrics)).items()}


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
