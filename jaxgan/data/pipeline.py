"""The public entry points: data set registry, specs, batch iterators, real samples for metrics."""
from __future__ import annotations

import numpy as np

from jaxgan.data import convert, toy
from jaxgan.data.errors import DataError
from jaxgan.data.iterators import (STREAM_SAMPLE_REAL, BatchIterator, ImageBatches, ToyBatches,
                                   stream_rng)
from jaxgan.data.spec import DatasetSpec
from jaxgan.data.tfds_source import open_image_source

# Names with built-in meaning -> kind. 'toy': infinite 2-D mixtures (toy.py); 'embedded': the
# scikit-learn digits, prepared offline by the project's own TFDS builder. Any other name is looked
# up in the TFDS catalog (kind 'catalog').
DATASETS: dict[str, str] = {"ring8": "toy", "grid25": "toy", "digits": "embedded"}


def dataset_kind(name: str) -> str:
    """'toy', 'embedded' or 'catalog'."""
    return DATASETS.get(name, "catalog")


def _toy_spec(name: str, resolution, channels) -> DatasetSpec:
    if resolution is not None or channels is not None:
        raise DataError(f"'{name}' is 2-D point data: drop resolution/channels")
    mixture = toy.TOY_MIXTURES[name]()
    return DatasetSpec(name=name, kind="points", shape=(2,), num_classes=len(mixture.centers),
                       num_examples=None, mode_centers=mixture.centers, mode_std=mixture.std)


def get_spec(name: str, *, data_dir: str | None = None, resolution: int | None = None,
             channels: int | None = None, split: str = "train",
             resize_method: str = "auto") -> DatasetSpec:
    """Describes data set `name` as `make_iterator` would deliver it (prepares digits if needed)."""
    if dataset_kind(name) == "toy":
        return _toy_spec(name, resolution, channels)
    return open_image_source(name, data_dir=data_dir, resolution=resolution, channels=channels,
                             split=split, resize_method=resize_method, in_memory=False).spec


def _default_processes(process_index, process_count) -> tuple[int, int]:
    if process_index is None or process_count is None:
        import jax

        process_index = jax.process_index() if process_index is None else process_index
        process_count = jax.process_count() if process_count is None else process_count
    return process_index, process_count


def make_iterator(name: str, *, batch_size: int, seed: int, data_dir: str | None = None,
                  resolution: int | None = None, channels: int | None = None,
                  split: str = "train", process_index: int | None = None,
                  process_count: int | None = None, resize_method: str = "auto",
                  in_memory: bool | None = None) -> BatchIterator:
    """Deterministic, resumable iterator over batches of data set `name`.

    Args:
      name: 'ring8' | 'grid25' | 'digits' | a TFDS catalog image data set ('mnist', 'cifar10', ...).
      batch_size: the GLOBAL batch size; this process gets batch_size // process_count rows of it.
      seed: determines every batch (toy draws, per-epoch permutations).
      data_dir: TFDS data directory (default $TFDS_DATA_DIR or ~/tensorflow_datasets).
      resolution: output side R of square images (digits: 8, 16, 32 (default), 64; catalog: any).
      channels: 1 (grey, luminance of RGB) or 3 (RGB, grey tiled); default: native.
      split: TFDS split, e.g. 'train' or 'train[:90%]'.
      process_index, process_count: default jax.process_index() / jax.process_count().
      resize_method: 'pad' (zero border, e.g. 28 -> 32), 'resize' (centre crop + bilinear) or
        'auto' (pad when the source is square and R lies strictly between its side and twice it).
      in_memory: decode the whole split into memory (default: when it is at most 256 MiB).
    """
    process_index, process_count = _default_processes(process_index, process_count)
    if dataset_kind(name) == "toy":
        spec = _toy_spec(name, resolution, channels)
        mixture = toy.GaussianMixture2D(spec.mode_centers, spec.mode_std)
        batches = ToyBatches(mixture, batch_size)
    else:
        source = open_image_source(name, data_dir=data_dir, resolution=resolution,
                                   channels=channels, split=split, resize_method=resize_method,
                                   in_memory=in_memory)
        spec, batches = source.spec, ImageBatches(source, batch_size)
    return BatchIterator(spec, batches, batch_size=batch_size, seed=seed,
                         process_index=process_index, process_count=process_count)


def sample_real(name: str, num: int, seed: int, *, data_dir: str | None = None,
                resolution: int | None = None, channels: int | None = None, split: str = "train",
                resize_method: str = "auto") -> np.ndarray:
    """`num` real examples in data space (for metrics): fresh toy draws, or `num` distinct images
    of the split chosen uniformly without replacement. Independent of the training stream."""
    if num < 1:
        raise DataError(f"num must be a positive int, got {num}")
    rng = stream_rng(STREAM_SAMPLE_REAL, 0, seed)
    if dataset_kind(name) == "toy":
        spec = _toy_spec(name, resolution, channels)
        mixture = toy.GaussianMixture2D(spec.mode_centers, spec.mode_std)
        return toy.sample_mixture(mixture, num, rng)[0]
    source = open_image_source(name, data_dir=data_dir, resolution=resolution, channels=channels,
                               split=split, resize_method=resize_method, in_memory=False)
    if num > source.spec.num_examples:
        raise DataError(f"asked for {num} real examples but split {split!r} of '{name}' has only "
                        f"{source.spec.num_examples}; use num <= {source.spec.num_examples}")
    indices = rng.permutation(source.spec.num_examples)[:num]
    return convert.to_unit_range(source.read(indices)[0])
