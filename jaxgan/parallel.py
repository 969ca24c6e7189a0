"""Compiling the one step body for one device or data-parallel.

`compile_train_step(gan, mode)` returns a `CompiledStep`: it moves a logical state and a
process-local batch into the device layout its mode wants, runs the step, and gives back a logical
state for checkpoints and sampling. Modes: 'jit' (one device); 'pmap' and 'shard_map' are added
by the data-parallel work; 'auto' picks shard_map when there is more than one device.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import numpy as np

from jaxgan.gan import GAN
from jaxgan.registry import Registry
from jaxgan.state import GANState
from jaxgan.step import jit_train_step

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class CompiledStep:
    """A compiled step and the moves between the logical and the device layout.

    Attributes:
      mode: 'jit' | 'pmap' | 'shard_map'.
      num_devices: devices the global batch is split over.
      step: (device_state, device_batch, key) -> (device_state, metrics); donates the state.
      put_state: logical GANState -> device layout.
      put_batch: process-local numpy batch -> device layout.
      get_state: device layout -> logical GANState (what checkpoints and sampling use).
    """

    mode: str
    num_devices: int
    step: Callable[[Any, Any, Array], tuple[Any, dict[str, Array]]]
    put_state: Callable[[GANState], Any]
    put_batch: Callable[[dict[str, np.ndarray]], Any]
    get_state: Callable[[Any], GANState]

    def __call__(self, state, batch, key):
        return self.step(state, batch, key)


def _compile_jit(gan: GAN, devices: list) -> CompiledStep:
    device = devices[0]
    return CompiledStep(
        mode="jit", num_devices=1, step=jit_train_step(gan),
        put_state=lambda state: jax.device_put(state, device),
        put_batch=lambda batch: jax.device_put(batch, device),
        get_state=lambda state: state)


PARALLEL_MODES: Registry[Callable[[GAN, list], CompiledStep]] = Registry(
    "parallel mode", {"jit": _compile_jit})


def resolve_mode(mode: str, num_devices: int) -> str:
    """'auto' → 'shard_map' when several devices (and it is available), else 'jit'."""
    if mode == "auto":
        return "shard_map" if num_devices > 1 and "shard_map" in PARALLEL_MODES else "jit"
    PARALLEL_MODES[mode]  # raises, listing the valid modes
    return mode


def compile_train_step(gan: GAN, mode: str = "auto", devices: list | None = None) -> CompiledStep:
    """The step for `gan` compiled in `mode` over `devices` (default: all devices)."""
    devices = list(jax.devices()) if devices is None else list(devices)
    return PARALLEL_MODES[resolve_mode(mode, len(devices))](gan, devices)
