"""Deterministic, resumable batch iterators with multi-process sharding of every global batch.

A global batch is a pure function of (seed, epoch, position): toy points come from a numpy
Generator seeded with (stream, batch index, seed); image batches are consecutive slices of a
permutation of the split seeded with (stream, epoch, seed). Image epochs drop the remainder
(⌊N / batch_size⌋ batches per epoch, a fresh permutation every epoch). Process p of P yields rows
[p·B/P, (p+1)·B/P) of each global batch, so the union over processes is independent of P. The state
{'seed', 'epoch', 'position', 'batch_size'} fully determines what comes next.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from jaxgan.data import convert, toy
from jaxgan.data.errors import DataError
from jaxgan.data.spec import DatasetSpec
from jaxgan.data.tfds_source import ImageSource

# First word of every seed sequence; keeps the random streams of different uses apart.
STREAM_TOY_BATCH = 1
STREAM_EPOCH_PERMUTATION = 2
STREAM_SAMPLE_REAL = 3
_MAX_COUNTER = 2**32  # counters fill one 32-bit word of the seed sequence


def stream_rng(stream: int, counter: int, seed: int) -> np.random.Generator:
    """numpy Generator seeded by SeedSequence([stream, counter, seed]) (seed last so its length,
    in 32-bit words, cannot alias the other fields)."""
    return np.random.default_rng([stream, counter, seed])


class GlobalBatches(Protocol):
    """A pure map (seed, epoch, position) -> the rows `rows` of that global batch."""

    batches_per_epoch: int | None  # None: an infinite stream (epoch stays 0)

    def __call__(self, seed: int, epoch: int, position: int, rows: slice) -> dict[str, np.ndarray]:
        ...


class ToyBatches:
    """Global batches of i.i.d. 2-D mixture points; the label is the mixture component index."""

    batches_per_epoch = None

    def __init__(self, mixture: toy.GaussianMixture2D, batch_size: int):
        self.mixture, self.batch_size = mixture, batch_size

    def __call__(self, seed, epoch, position, rows):
        del epoch
        points, component = toy.sample_mixture(
            self.mixture, self.batch_size, stream_rng(STREAM_TOY_BATCH, position, seed))
        return {"x": points[rows], "label": component[rows]}


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

    def __call__(self, seed, epoch, position, rows):
        start = position * self.batch_size
        indices = self.permutation(seed, epoch)[start:start + self.batch_size][rows]
        images, labels = self.source.read(indices)
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
        self._position += 1
        if self.batches_per_epoch is not None and self._position == self.batches_per_epoch:
            self._epoch, self._position = self._epoch + 1, 0
        return batch

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
