"""Compiling the one step body for one device or data-parallel.

`compile_train_step(gan, mode, devices)` returns a `CompiledStep`: it moves a logical state and a
process-local batch into the device layout its mode wants, runs the step, and gives back a logical
state for checkpoints and sampling. The step body is `jaxgan.core.step.train_step`, written once;
`compile_step(StepBody(...), mode, devices)` compiles any other pure step the same way (the
CycleGAN step, jaxgan.core.cyclegan). The modes only differ in how it is compiled:

- 'jit': one device.
- 'pmap': `jax.pmap` over the local devices; the state carries a leading device axis.
- 'shard_map': `jax.jit(jax.shard_map(...))` over a 1-D `Mesh` with axis 'data'; the state is one
  replicated global array per leaf (`NamedSharding(mesh, P())`). The path that spans hosts.
- 'auto': shard_map when there is more than one device, else jit.

Data parallelism (synchronous SGD, as in Goyal et al. 2017, arXiv:1706.02677): the global batch of
B rows per critic chunk is split into B/N rows on each of N devices; each device folds its index
into the step key (different noise per device); gradients g = (1/N)·Σ_i g_i and metrics are
averaged with `lax.pmean`, so for a loss that is a mean over the batch (and no BatchNorm, or
BatchNorm with statistics synchronised across devices) the update equals the single-device update
on the whole batch. BatchNorm statistics are either synchronised (the model's `bn_axis_name` is
the data axis: config `sync_batch_norm`) or computed per device and averaged after the step.

Batch layout: a process-local batch `{'x': [n_critic·B_local, ...], 'label'?: [n_critic·B_local]}`
holds n_critic chunks of B_local rows (jaxgan.core.step). Device j of this process gets rows
[j·b, (j+1)·b) of *every* chunk, b = B_local / local devices, so that its own n_critic chunks are
b rows each (`device_major`). Across processes, `process_shard` picks a process's rows out of a
global batch the same way, so N processes with local batches equal one process with the global
batch.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jaxgan.core.gan import GAN
from jaxgan.core.registry import Registry
from jaxgan.core.state import GANState, create_train_state
from jaxgan.core.step import make_train_step

Array = jax.Array
Batch = dict[str, np.ndarray]

DATA_AXIS = "data"
"""The name of the device axis the data is split over (pmap axis name / mesh axis)."""


@dataclasses.dataclass(frozen=True)
class CompiledStep:
    """A compiled step and the moves between the logical and the device layout.

    Attributes:
      mode: 'jit' | 'pmap' | 'shard_map'.
      num_devices: devices the global batch is split over.
      step: (device_state, device_batch, key) -> (device_state, metrics); donates the state;
        metrics are unreplicated scalars.
      put_state: logical GANState -> device layout.
      put_batch: process-local numpy batch -> device layout.
      get_state: device layout -> logical GANState (what checkpoints and sampling use).
      state_sharding: the sharding of every leaf of the logical state (`abstract_state` uses it to
        restore a checkpoint straight into this layout).
    """

    mode: str
    num_devices: int
    step: Callable[[Any, Any, Array], tuple[Any, dict[str, Array]]]
    put_state: Callable[[GANState], Any]
    put_batch: Callable[[Batch], Any]
    get_state: Callable[[Any], GANState]
    state_sharding: jax.sharding.Sharding | None = None

    def __call__(self, state, batch, key):
        return self.step(state, batch, key)


@dataclasses.dataclass(frozen=True)
class StepBody:
    """What the modes compile: `make(axis_name)` -> a pure `(state, batch, key) -> (state,
    metrics)` whose gradients and metrics are averaged over `axis_name` when it is not None (the
    GAN step of jaxgan.core.step, the CycleGAN step of jaxgan.core.cyclegan); `chunks`: the
    batch's row chunks each device must get its share of (the GAN step's n_critic; 1 otherwise)."""

    make: Callable[[str | None], Callable]
    chunks: int = 1


def device_major(x: np.ndarray, n_critic: int, num_devices: int) -> np.ndarray:
    """[n_critic·B, ...] → [num_devices, n_critic·B/num_devices, ...].

    Device j gets rows [j·b, (j+1)·b) of each of the n_critic chunks (b = B / num_devices), in
    chunk order, so that the step's own split into n_critic chunks gives it b rows per chunk.
    """
    x = np.asarray(x)
    if x.shape[0] % n_critic:
        raise ValueError(f"batch of {x.shape[0]} rows is not n_critic={n_critic} chunks")
    rows = x.shape[0] // n_critic
    if rows % num_devices:
        raise ValueError(f"batch size {rows} per critic step does not split over {num_devices} "
                         f"devices; use a batch size divisible by {num_devices} (or "
                         f"parallel='jit' for one device)")
    b = rows // num_devices
    x = x.reshape((n_critic, num_devices, b) + x.shape[1:]).swapaxes(0, 1)
    return x.reshape((num_devices, n_critic * b) + x.shape[3:])


def process_shard(batch: Batch, n_critic: int, process_index: int,
                  process_count: int) -> Batch:
    """The rows of a global batch that process `process_index` of `process_count` feeds.

    Rows [p·B_local, (p+1)·B_local) of every critic chunk, B_local = B / process_count — what
    `jaxgan.data.make_iterator(..., process_index=p)` yields from each global batch. With
    `device_major` inside each process this gives every device the same rows as one process holding
    the whole global batch (devices ordered by process, as in `jax.devices()`).
    """
    return {name: device_major(value, n_critic, process_count)[process_index]
            for name, value in batch.items()}


def _compile_jit(body: StepBody, devices: list) -> CompiledStep:
    device = devices[0]
    return CompiledStep(
        mode="jit", num_devices=1, step=jax.jit(body.make(None), donate_argnums=0),
        put_state=lambda state: jax.device_put(state, device),
        put_batch=lambda batch: jax.device_put(batch, device),
        get_state=lambda state: state,
        state_sharding=jax.sharding.SingleDeviceSharding(device))


def _compile_pmap(body: StepBody, devices: list) -> CompiledStep:
    """`jax.pmap` over local devices: state [ndev, ...] (replicas), batch [ndev, rows/ndev, ...]."""
    if jax.process_count() > 1:
        raise ValueError("parallel mode 'pmap' runs on one host; use parallel=shard_map "
                         "(or auto) with several processes")
    ndev = len(devices)
    mesh = Mesh(np.array(devices), (DATA_AXIS,))
    stacked = NamedSharding(mesh, P(DATA_AXIS))
    pmapped = jax.pmap(body.make(DATA_AXIS), axis_name=DATA_AXIS,
                       in_axes=(0, 0, None), out_axes=(0, None), devices=devices,
                       donate_argnums=0)

    def put_state(state: GANState):
        return jax.device_put(
            jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (ndev,) + np.shape(x)), state),
            stacked)

    def put_batch(batch: Batch):
        return jax.device_put({k: device_major(v, body.chunks, ndev) for k, v in batch.items()},
                              stacked)

    return CompiledStep(
        mode="pmap", num_devices=ndev, step=pmapped, put_state=put_state, put_batch=put_batch,
        get_state=lambda state: jax.tree.map(lambda x: x[0], state),
        state_sharding=jax.sharding.SingleDeviceSharding(devices[0]))


def _replicate(x, sharding: NamedSharding) -> Array:
    """`x` as a global array replicated over `sharding`'s mesh (works with several processes)."""
    if isinstance(x, jax.Array) and x.sharding.is_equivalent_to(sharding, x.ndim):
        return x
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        return jax.random.wrap_key_data(_replicate(jax.random.key_data(x), sharding),
                                        impl=jax.random.key_impl(x))
    value = np.asarray(x)
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])


def _compile_shard_map(body: StepBody, devices: list) -> CompiledStep:
    """`jax.jit(jax.shard_map(step))` over Mesh(devices, ('data',)): replicated state, batch split
    along rows; with several processes `devices` spans them all and each feeds its own rows."""
    mesh = Mesh(np.array(devices), (DATA_AXIS,))
    replicated = NamedSharding(mesh, P())
    split = NamedSharding(mesh, P(DATA_AXIS))
    local_devices = [d for d in devices if d.process_index == jax.process_index()]
    # check_vma=False: with it on, grad w.r.t. the replicated (device-invariant) params would come
    # out already summed over devices (the transpose of the implicit broadcast is a psum) and
    # step.py's pmean would leave an N-times-too-large sum. Off, grads are per device, as in pmap,
    # and the step body's pmean makes them (and the returned state) equal on all devices.
    mapped = jax.shard_map(body.make(DATA_AXIS), mesh=mesh,
                           in_specs=(P(), P(DATA_AXIS), P()), out_specs=(P(), P()),
                           check_vma=False)
    jitted = jax.jit(mapped, donate_argnums=0, out_shardings=(replicated, replicated))

    def step(state, batch, key):
        return jitted(state, batch, _replicate(key, replicated))

    def put_batch(batch: Batch):
        def put(value):
            local = device_major(value, body.chunks, len(local_devices))
            local = local.reshape((-1,) + local.shape[2:])
            return jax.make_array_from_process_local_data(split, local)
        return {k: put(v) for k, v in batch.items()}

    return CompiledStep(
        mode="shard_map", num_devices=len(devices), step=step,
        put_state=lambda state: jax.tree.map(lambda x: _replicate(x, replicated), state),
        put_batch=put_batch, get_state=lambda state: state, state_sharding=replicated)


PARALLEL_MODES: Registry[Callable[[StepBody, list], CompiledStep]] = Registry(
    "parallel mode", {"jit": _compile_jit, "pmap": _compile_pmap,
                      "shard_map": _compile_shard_map})


def resolve_mode(mode: str, num_devices: int) -> str:
    """'auto' → 'shard_map' when several devices (and it is available), else 'jit'."""
    if mode == "auto":
        return "shard_map" if num_devices > 1 and "shard_map" in PARALLEL_MODES else "jit"
    PARALLEL_MODES[mode]  # raises, listing the valid modes
    return mode


def step_axis_name(mode: str) -> str | None:
    """The collective axis name the step body runs under in `mode` (None for 'jit').

    Build the GAN with it (`jaxgan.config.build_gan(..., axis_name=...)`) to synchronise
    BatchNorm statistics across devices.
    """
    return None if resolve_mode(mode, 1) == "jit" else DATA_AXIS


def compile_step(body: StepBody, mode: str = "auto", devices: list | None = None) -> CompiledStep:
    """Any step body (`StepBody`) compiled in `mode` over `devices` (default: all devices)."""
    devices = list(jax.devices()) if devices is None else list(devices)
    return PARALLEL_MODES[resolve_mode(mode, len(devices))](body, devices)


def compile_train_step(gan: GAN, mode: str = "auto", devices: list | None = None) -> CompiledStep:
    """The GAN step (jaxgan.core.step.train_step) for `gan` compiled in `mode` over `devices`
    (default: all devices)."""
    body = StepBody(make=lambda axis_name: make_train_step(gan, axis_name=axis_name),
                    chunks=gan.n_critic)
    return compile_step(body, mode, devices)


def abstract_state(compiled: CompiledStep, gan: GAN, key: Array | None = None) -> GANState:
    """The logical state's shapes and dtypes, each leaf carrying `compiled`'s state sharding.

    The restore target for a checkpoint (Orbax restores every leaf straight into that sharding,
    whatever device count wrote it). Traced with `jax.eval_shape`: nothing is initialised.
    """
    key = jax.random.PRNGKey(0) if key is None else key
    return abstract_state_of(compiled, lambda k: create_train_state(gan, k), key)


def abstract_state_of(compiled: CompiledStep, init: Callable[[Array], Any], key: Array) -> Any:
    """The shapes and dtypes of `init(key)` (any state pytree), each leaf carrying `compiled`'s
    state sharding (traced with `jax.eval_shape`)."""
    shapes = jax.eval_shape(init, key)
    return jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=compiled.state_sharding),
        shapes)


def host_local_state(state: GANState) -> GANState:
    """Each leaf's copy on this process's first device: for work one process does alone
    (sampling images, logging) on a replicated multi-process state, without collectives."""
    return jax.tree.map(
        lambda x: x.addressable_data(0) if isinstance(x, jax.Array) else x, state)


# --- several processes -------------------------------------------------------------------------

DISTRIBUTED_ENV = {"coordinator_address": "JAX_COORDINATOR_ADDRESS",
                   "num_processes": "JAX_NUM_PROCESSES", "process_id": "JAX_PROCESS_ID"}
"""Environment variables read when the matching `initialize_distributed` argument is not given."""


def initialize_distributed(coordinator_address: str | None = None,
                           num_processes: int | None = None,
                           process_id: int | None = None) -> bool:
    """`jax.distributed.initialize` from arguments or $JAX_COORDINATOR_ADDRESS, $JAX_NUM_PROCESSES,
    $JAX_PROCESS_ID. Does nothing (returns False) when no coordinator address is given anywhere.

    CPU processes communicate through gloo (jax's default `jax_cpu_collectives_implementation`).
    Must run before anything touches a JAX device.
    """
    coordinator_address = coordinator_address or os.environ.get(
        DISTRIBUTED_ENV["coordinator_address"]) or None
    if coordinator_address is None:
        if num_processes is not None or process_id is not None:
            raise ValueError("num_processes/process_id need the coordinator's address too: pass "
                             "coordinator_address (host:port of process 0) or set "
                             f"{DISTRIBUTED_ENV['coordinator_address']}")
        return False
    values = {"num_processes": num_processes, "process_id": process_id}
    for name, value in values.items():
        if value is None:
            text = os.environ.get(DISTRIBUTED_ENV[name], "")
            if not text.strip().isdigit():
                raise ValueError(f"multi-process training needs {name}: pass it or set "
                                 f"{DISTRIBUTED_ENV[name]} (got {text!r})")
            values[name] = int(text)
    if not 0 <= values["process_id"] < values["num_processes"]:
        raise ValueError(f"process_id must be in [0, num_processes={values['num_processes']}), "
                         f"got {values['process_id']}")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=values["num_processes"],
                               process_id=values["process_id"])
    _connect_collectives()
    return True


def _connect_collectives() -> None:
    """Opens the cross-process collective contexts now, while the processes are in step.

    Gloo gives the other processes 30 s to join a context's first collective (later ones wait as
    long as needed), and processes that compile the step under load can drift further apart than
    that. Two device sets are used: all devices (the step's all-reduces) and one device per
    process (`multihost_utils.process_allgather`, behind Orbax's barriers).
    """
    from jax.experimental import multihost_utils

    mesh = Mesh(np.array(jax.devices()), ("all",))
    ones = jax.make_array_from_process_local_data(
        NamedSharding(mesh, P("all")), np.ones((jax.local_device_count(),), np.float32))
    total = jax.jit(jax.shard_map(lambda x: jax.lax.psum(x, "all"), mesh=mesh, in_specs=P("all"),
                                  out_specs=P(), check_vma=False))(ones)
    if float(np.asarray(total.addressable_data(0))[0]) != jax.device_count():
        raise RuntimeError("cross-process all-reduce check failed: the processes disagree on "
                           "the devices; check --num_processes and the coordinator address")
    multihost_utils.process_allgather(np.zeros((1,), np.int32))


def is_main_process() -> bool:
    """True on the one process that writes logs and images (process 0)."""
    return jax.process_index() == 0
