"""Deterministic, resumable batch iterators with multi-process sharding of every global batch.

A global batch is a pure function of (seed, epoch, position): toy points are drawn by
`jaxgan.data.toy_sampler` with the key fold_in(toy_stream_key(seed), batch index), a JAX draw that
the host and a compiled training loop make alike; image batches are consecutive slices of a
permutation of the split seeded with (stream, epoch, seed). Image epochs drop the remainder
(⌊N / batch_size⌋ batches per epoch, a fresh permutation every epoch). Process p of P yields rows
[p·B/P, (p+1)·B/P) of each global batch, so the union over processes is independent of P. The state
{'seed', 'epoch', 'position', 'batch_size'} fully determines what comes next.

Device-resident data (`BatchIterator.device_batches`, for the fused training loop): where the
whole set fits in device memory (the toy streams; image sets held in memory, up to
DEVICE_DATA_MAX_BYTES as float32), the loop takes only a small *plan* per batch from the host
(`take_plans`: the toy stream's key and batch index; an image batch's example indices, from the
same permutation) and draws the batch on the device with `DeviceBatches.draw`; the batches equal
`next()`'s bit for bit and the iterator's state advances alike.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.data import convert, toy, toy_sampler
from jaxgan.data.errors import DataError
from jaxgan.data.spec import DatasetSpec
from jaxgan.data.tfds_source import ImageSource

# First word of every seed sequence; keeps the random streams of different uses apart.
STREAM_TOY_BATCH = 1
STREAM_EPOCH_PERMUTATION = 2
STREAM_SAMPLE_REAL = 3
_MAX_COUNTER = 2**32  # counters fill one 32-bit word of the seed sequence
DEVICE_DATA_MAX_BYTES = 256 * 2**20
"""Largest in-memory image set (as float32) that `BatchIterator.device_batches` puts on the
device; larger sets are staged from the host batch by batch."""


def stream_rng(stream: int, counter: int, seed: int) -> np.random.Generator:
    """numpy Generator seeded by SeedSequence([stream, counter, seed]) (seed last so its length,
    in 32-bit words, cannot alias the other fields)."""
    return np.random.default_rng([stream, counter, seed])


class GlobalBatches(Protocol):
    """A pure map (seed, epoch, position) -> the rows `rows` of that global batch."""

    batches_per_epoch: int | None  # None: an infinite stream (epoch stays 0)

    def __call__(self, seed: int, epoch: int, position: int, rows: slice) -> dict[str, np.ndarray]:
        ...

    def plan(self, seed: int, epoch: int, position: int, rows: slice) -> np.ndarray:
        """What names that batch, for a draw on the device (`device_batches`)."""
        ...

    def device_batches(self, rows: slice, max_bytes: int) -> DeviceBatches | None:
        """The draw of a plan's rows on the device, or None where the data do not fit."""
        ...


@functools.lru_cache(maxsize=64)
def toy_stream_key(seed: int) -> np.ndarray:
    """The toy training stream's key (raw threefry key, uint32 [2]) of `seed`: the first two words
    of SeedSequence([STREAM_TOY_BATCH, seed]) (any seed in [0, 2⁶³), no 32-bit truncation)."""
    key = np.random.SeedSequence([STREAM_TOY_BATCH, seed]).generate_state(2, np.uint32)
    key.flags.writeable = False  # cached: shared by every caller
    return key


@dataclasses.dataclass(frozen=True)
class DeviceBatches:
    """Batches drawn on the device: `draw(arrays, plan)` (traceable) is the batch `plan` (one row
    of `BatchIterator.take_plans`) names, this process's rows; `arrays` are the device-resident
    data (`{}` for a toy stream) to pass into the compiled loop as an argument."""

    arrays: dict[str, Any]
    draw: Callable[[dict[str, Any], jax.Array], dict[str, jax.Array]]


class ToyBatches:
    """Global batches of i.i.d. 2-D mixture points; the label is the mixture component index.

    Batch `position` of the stream of `seed` is toy_sampler.mixture_batch_sampler's draw with the
    key fold_in(toy_stream_key(seed), position):
        k ~ Uniform{0..K−1} (jax.random.randint),  x = centres[k] + σ·ε,  ε ~ N(0, I₂).
    The host computes it with the same compiled JAX function the training loop traces, so the two
    agree bit for bit (tests/test_device_data.py)."""

    batches_per_epoch = None

    def __init__(self, mixture: toy.GaussianMixture2D, batch_size: int):
        self.mixture, self.batch_size = mixture, batch_size
        self._sample = toy_sampler.mixture_batch_sampler(mixture.centers, mixture.std, batch_size)
        self._host_draw = jax.jit(self.draw_global)

    def draw_global(self, plan: jax.Array) -> dict[str, jax.Array]:
        """The global batch of plan = uint32 [key word 0, key word 1, position] (traceable)."""
        key = jax.random.fold_in(plan[:2], plan[2])
        return self._sample(key)

    def plan(self, seed: int, epoch: int, position: int, rows: slice) -> np.ndarray:
        del epoch, rows
        return np.append(toy_stream_key(seed), np.uint32(position))

    def device_batches(self, rows: slice, max_bytes: int) -> DeviceBatches:
        del max_bytes
        return DeviceBatches({}, lambda arrays, plan: {
            k: v[rows] for k, v in self.draw_global(plan).items()})

    def __call__(self, seed, epoch, position, rows):
        batch = jax.device_get(self._host_draw(self.plan(seed, epoch, position, rows)))
        return {k: np.asarray(v)[rows] for k, v in batch.items()}


class ImageBatches:
    """Global batches = consecutive slices of a per-epoch permutation (the remainder is dropped)."""

    def __init__(self, source: ImageSource, batch_size: int):
        num_examples = source.spec.num_examples
        if batch_size > num_examples:
            raise DataError(f"batch_size {batch_size} exceeds the {num_examples} examples of "
                            f"'{source.spec.name}'; use a smaller batch_size")
        self.source, self.batch_size = source, batch_size
        self.batches_per_epoch = num_examples // batch_size
        self._permutation_key: tuple[int, int] | None = None
        self._permutation: np.ndarray | None = None

    def permutation(self, seed: int, epoch: int) -> np.ndarray:
        """The order of the examples in `epoch`, a uniform random permutation from (seed, epoch)."""
        if self._permutation_key != (seed, epoch):  # memo of the current epoch only
            rng = stream_rng(STREAM_EPOCH_PERMUTATION, epoch, seed)
            self._permutation = rng.permutation(self.source.spec.num_examples)
            self._permutation_key = (seed, epoch)
        return self._permutation

    def plan(self, seed: int, epoch: int, position: int, rows: slice) -> np.ndarray:
        """The example indices (int32 [rows]) of this process's rows of the batch."""
        start = position * self.batch_size
        return self.permutation(seed, epoch)[start:start + self.batch_size][rows].astype(np.int32)

    def device_batches(self, rows: slice, max_bytes: int) -> DeviceBatches | None:
        """The whole set on the device in [-1, 1] (float32), gathered by a plan's indices; None
        when the set is not held in memory or its float32 copy exceeds `max_bytes`."""
        del rows
        images, labels = self.source.images, self.source.labels
        if images is None or images.size * 4 > max_bytes:
            return None
        arrays = jax.device_put({"x": convert.to_unit_range(images),
                                 "label": np.asarray(labels, np.int32)})
        return DeviceBatches(arrays, lambda arrays, plan: {
            k: jnp.take(v, plan, axis=0) for k, v in arrays.items()})

    def __call__(self, seed, epoch, position, rows):
        images, labels = self.source.read(self.plan(seed, epoch, position, rows))
        return {"x": convert.to_unit_range(images), "label": labels}


class BatchIterator:
    """Iterator over this process's share of deterministic global batches, with a saveable state.

    `next(it)` returns {'x': float32 [B_local, ...], 'label': int32 [B_local]}, with
    B_local = batch_size // process_count. `get_state()` / `set_state()` save and restore the
    position exactly: a restored iterator yields the batches the original would have yielded next.
    """

    def __init__(self, spec: DatasetSpec, batches: GlobalBatches, *, batch_size: int, seed: int,
                 process_index: int, process_count: int):
        if process_count < 1 or not 0 <= process_index < process_count:
            raise DataError(f"process_index {process_index} must lie in [0, {process_count})")
        if batch_size < 1 or batch_size % process_count:
            raise DataError(f"batch_size {batch_size} must be a positive multiple of the "
                            f"process count {process_count}")
        local = batch_size // process_count
        self.spec = spec
        self.batch_size = batch_size
        self._batches = batches
        self._rows = slice(process_index * local, (process_index + 1) * local)
        self._seed, self._epoch, self._position = _check_counter("seed", seed, 2**63), 0, 0

    @property
    def batches_per_epoch(self) -> int | None:
        """Global batches per epoch (None for an infinite toy stream)."""
        return self._batches.batches_per_epoch

    def __iter__(self) -> BatchIterator:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        batch = self._batches(self._seed, self._epoch, self._position, self._rows)
        self._advance()
        return batch

    def _advance(self) -> None:
        self._position += 1
        if self.batches_per_epoch is not None and self._position == self.batches_per_epoch:
            self._epoch, self._position = self._epoch + 1, 0

    def take_plans(self, num: int) -> np.ndarray:
        """The plans of the next `num` batches, stacked ([num, ...]; toy: uint32 [num, 3], images:
        int32 [num, B_local]), advancing the state as `num` calls of next() would; the batches
        themselves are drawn on the device (`device_batches`)."""
        plans = []
        for _ in range(num):
            plans.append(self._batches.plan(self._seed, self._epoch, self._position, self._rows))
            self._advance()
        return np.stack(plans)

    def device_batches(self, max_bytes: int = DEVICE_DATA_MAX_BYTES) -> DeviceBatches | None:
        """The data on the device, to draw the batches of `take_plans` there (equal to next()'s
        bit for bit), or None where the set does not fit (`max_bytes` of float32 images) or is not
        held in memory."""
        return self._batches.device_batches(self._rows, max_bytes)

    def get_state(self) -> dict[str, int]:
        """JSON-serialisable state: {'seed', 'epoch', 'position', 'batch_size'} (global batch)."""
        return {"seed": self._seed, "epoch": self._epoch, "position": self._position,
                "batch_size": self.batch_size}

    def set_state(self, state: dict[str, int]) -> None:
        """Restores a state from `get_state` (the seed comes from the state)."""
        missing = {"seed", "epoch", "position", "batch_size"} - set(state)
        if missing:
            raise DataError(f"data iterator state lacks {sorted(missing)}; pass a dict saved by "
                            f"get_state()")
        if int(state["batch_size"]) != self.batch_size:
            raise DataError(f"data iterator state was saved with batch_size {state['batch_size']}, "
                            f"this iterator has {self.batch_size}; resume with the same batch_size")
        seed = _check_counter("seed", state["seed"], 2**63)
        epoch = _check_counter("epoch", state["epoch"], _MAX_COUNTER)
        limit = self.batches_per_epoch or _MAX_COUNTER
        position = _check_counter("position", state["position"], limit)
        self._seed, self._epoch, self._position = seed, epoch, position


def _check_counter(what: str, value, limit: int) -> int:
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not is_int or not 0 <= value < limit:
        raise DataError(f"data iterator {what} must be an int in [0, {limit}), got {value!r}")
    return int(value)
