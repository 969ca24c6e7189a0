"""The public entry points: data set registry, specs, batch iterators, real samples for metrics."""
from __future__ import annotations

import numpy as np

from jaxgan.data import convert, toy
from jaxgan.data.classes import ClassSplit
from jaxgan.data.errors import DataError
from jaxgan.data.iterators import (STREAM_SAMPLE_REAL, BatchIterator, ImageBatches, ToyBatches,
                                   stream_rng)
from jaxgan.data.spec import DatasetSpec
from jaxgan.data.tfds_source import IN_MEMORY_SETS, open_image_source

# Names with built-in meaning -> kind. 'toy': infinite 2-D mixtures (toy.py); 'embedded': the
# scikit-learn digits, prepared offline by the project's own TFDS builder. Any other name is looked
# up in the TFDS catalog (kind 'catalog').
DATASETS: dict[str, str] = {"ring8": "toy", "grid25": "toy", "digits": "embedded",
                            **{name: "embedded" for name in IN_MEMORY_SETS}}  # photos, shifts


def dataset_kind(name: str) -> str:
    """'toy', 'embedded' or 'catalog'."""
    return DATASETS.get(name, "catalog")


def _toy_spec(name: str, resolution, channels, class_split=None) -> DatasetSpec:
    if resolution is not None or channels is not None:
        raise DataError(f"'{name}' is 2-D point data: drop resolution/channels")
    if class_split is not None:
        raise DataError(f"'{name}' is a stream of 2-D points: drop train_classes / "
                        f"exclude_classes")
    mixture = toy.TOY_MIXTURES[name]()
    return DatasetSpec(name=name, kind="points", shape=(2,), num_classes=len(mixture.centers),
                       num_examples=None, mode_centers=mixture.centers, mode_std=mixture.std)


def get_spec(name: str, *, data_dir: str | None = None, resolution: int | None = None,
             channels: int | None = None, split: str = "train",
             resize_method: str = "auto", class_split: ClassSplit | None = None,
             part: str = "train") -> DatasetSpec:
    """Describes data set `name` as `make_iterator` would deliver it (prepares digits if needed)."""
    if dataset_kind(name) == "toy":
        return _toy_spec(name, resolution, channels, class_split)
    return open_image_source(name, data_dir=data_dir, resolution=resolution, channels=channels,
                             split=split, resize_method=resize_method, in_memory=False,
                             class_split=class_split, part=part).spec


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
                  in_memory: bool | None = None, class_split: ClassSplit | None = None,
                  part: str = "train") -> BatchIterator:
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
      class_split, part: only this part ('train' | 'test') of a class split of the labelled
        images (jaxgan.data.classes: kept / excluded classes, the EGBAD 80/20 split).
    """
    process_index, process_count = _default_processes(process_index, process_count)
    if dataset_kind(name) == "toy":
        spec = _toy_spec(name, resolution, channels, class_split)
        mixture = toy.GaussianMixture2D(spec.mode_centers, spec.mode_std)
        batches = ToyBatches(mixture, batch_size)
    else:
        source = open_image_source(name, data_dir=data_dir, resolution=resolution,
                                   channels=channels, split=split, resize_method=resize_method,
                                   in_memory=in_memory, class_split=class_split, part=part)
        spec, batches = source.spec, ImageBatches(source, batch_size)
    return BatchIterator(spec, batches, batch_size=batch_size, seed=seed,
                         process_index=process_index, process_count=process_count)


def sample_real(name: str, num: int, seed: int, *, data_dir: str | None = None,
                resolution: int | None = None, channels: int | None = None, split: str = "train",
                resize_method: str = "auto", class_split: ClassSplit | None = None,
                part: str = "train") -> np.ndarray:
    """`num` real examples in data space (for metrics): fresh toy draws, or `num` distinct images
    of the split chosen uniformly without replacement. Independent of the training stream."""
    if num < 1:
        raise DataError(f"num must be a positive int, got {num}")
    rng = stream_rng(STREAM_SAMPLE_REAL, 0, seed)
    if dataset_kind(name) == "toy":
        spec = _toy_spec(name, resolution, channels, class_split)
        mixture = toy.GaussianMixture2D(spec.mode_centers, spec.mode_std)
        return toy.sample_mixture(mixture, num, rng)[0]
    source = open_image_source(name, data_dir=data_dir, resolution=resolution, channels=channels,
                               split=split, resize_method=resize_method, in_memory=False,
                               class_split=class_split, part=part)
    if num > source.spec.num_examples:
        raise DataError(f"asked for {num} real examples but split {split!r} of '{name}' has only "
                        f"{source.spec.num_examples}; use num <= {source.spec.num_examples}")
    indices = rng.permutation(source.spec.num_examples)[:num]
    return convert.to_unit_range(source.read(indices)[0])


def load_images(name: str, *, data_dir: str | None = None, resolution: int | None = None,
                channels: int | None = None, split: str = "train", resize_method: str = "auto",
                class_split: ClassSplit | None = None, part: str = "train"
                ) -> tuple[np.ndarray, np.ndarray]:
    """Every image of the split (or of `part` of `class_split`) in order: (float32 [N, R, R, C]
    in [-1, 1], int32 labels [N]). For scoring whole test sets; big sets need the memory."""
    if dataset_kind(name) == "toy":
        raise DataError(f"'{name}' is a stream of 2-D points, not a set of images")
    source = open_image_source(name, data_dir=data_dir, resolution=resolution, channels=channels,
                               split=split, resize_method=resize_method, in_memory=False,
                               class_split=class_split, part=part)
    images, labels = source.read(np.arange(source.spec.num_examples))
    return convert.to_unit_range(images), labels


def class_split_record(name: str, class_split: ClassSplit, *, data_dir: str | None = None,
                       split: str = "train") -> dict:
    """The JSON record of `class_split` on data set `name` (jaxgan.data.classes.split_record)."""
    from jaxgan.data.classes import split_record
    from jaxgan.data.tfds_source import all_labels

    if dataset_kind(name) == "toy":
        _toy_spec(name, None, None, class_split)
    source = open_image_source(name, data_dir=data_dir, resolution=None if name != "digits"
                               else 8, channels=None, split=split, in_memory=False)
    return {"dataset": name, "split": split,
            **split_record(all_labels(source), class_split, source.spec.num_classes)}
