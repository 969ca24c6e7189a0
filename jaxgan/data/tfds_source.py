"""Image data sets read through TFDS random-access data sources (array_record), with no network.

A prepared data set is opened with `builder.as_data_source(split)`. Small sets (at most
`MAX_IN_MEMORY_BYTES` of native uint8 pixels: digits, MNIST, CIFAR-10) are decoded and converted
once into memory; big ones (CelebA) are indexed and converted per batch. Nothing here downloads: an
unprepared catalog set raises a one-line `DataError` with the command that prepares it.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from jaxgan.data import convert, digits_builder, digits_raw, digits_shifted, photo_digits
from jaxgan.data.classes import PARTS, ClassSplit, split_indices
from jaxgan.data.errors import DataError
from jaxgan.data.spec import DatasetSpec

MAX_IN_MEMORY_BYTES = 2**28  # 256 MiB of native uint8 pixels
DIGITS_DEFAULT_RESOLUTION = 32
_READ_CHUNK = 1024


def resolve_data_dir(data_dir: str | os.PathLike | None) -> str:
    """`data_dir`, else $TFDS_DATA_DIR, else ~/tensorflow_datasets (TFDS's own convention)."""
    chosen = data_dir if data_dir is not None else os.environ.get("TFDS_DATA_DIR")
    return os.path.abspath(os.path.expanduser(os.fspath(chosen or "~/tensorflow_datasets")))


def prepare_hint(name: str, data_dir: str, builder: tfds.core.DatasetBuilder) -> str:
    """The one line that says how to prepare catalog data set `name` into `data_dir`."""
    command = f"python -m jaxgan.data.prepare {name} --data_dir={data_dir}"
    needs = "pip install tensorflow-cpu (to encode images), network"
    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS:
        manual = os.path.join(data_dir, "downloads", "manual")
        return (f"data set '{name}' is not prepared in {data_dir}: download its files by hand into "
                f"{manual} (see tfds.builder('{name}').MANUAL_DOWNLOAD_INSTRUCTIONS), then run "
                f"`{command} --manual_dir={manual}` (needs {needs})")
    return f"data set '{name}' is not prepared in {data_dir}: run `{command}` once (needs {needs})"


def catalog_builder(name: str, data_dir: str) -> tfds.core.DatasetBuilder:
    """The prepared, array_record TFDS builder of catalog data set `name`; never downloads."""
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(f"unknown data set '{name}' (not in the TFDS catalog, nor prepared in "
                        f"{data_dir}): use 'ring8', 'grid25', 'digits', a TFDS catalog image data "
                        f"set (tfds.list_builders()), or make it from your images with "
                        f"`jaxgan prepare SOURCE --name {name} --data_dir {data_dir}`") from None
    except (ValueError, AssertionError) as err:  # e.g. a version or config that does not exist
        raise DataError(f"cannot open data set '{name}': {str(err).splitlines()[0]}") from None
    image_and_label_keys(builder, name)  # a non-image set fails here, before any preparing advice
    if not builder.is_prepared():
        raise DataError(prepare_hint(name, data_dir, builder))
    file_format = builder.info.file_format
    if file_format != tfds.core.file_adapters.FileFormat.ARRAY_RECORD:
        stored = getattr(file_format, "value", file_format)
        raise DataError(
            f"data set '{name}' in {data_dir} is stored as {stored}, "
            f"not array_record (needed for random access): move it away and run "
            f"`python -m jaxgan.data.prepare {name} --data_dir={data_dir}`")
    return builder


def content_hash(builder: tfds.core.DatasetBuilder) -> str:
    """The `content_sha256` a set made by `jaxgan prepare` keeps in its metadata.json ('' for
    every other set)."""
    if not os.path.isfile(os.path.join(os.fspath(builder.data_path), "metadata.json")):
        return ""
    return str((builder.info.metadata or {}).get("content_sha256", ""))


def image_and_label_keys(builder: tfds.core.DatasetBuilder, name: str) -> tuple[str, str | None]:
    """Feature keys of the image and of its class label (None when the set has no class label)."""
    features = builder.info.features
    supervised = builder.info.supervised_keys or ()
    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    if len(supervised) == 2 and supervised[0] in images:
        image_key = supervised[0]
    elif len(images) == 1:
        image_key = images[0]
    else:
        raise DataError(f"data set '{name}' has no single image feature (features: "
                        f"{sorted(features)}); use an image data set")
    candidates = [supervised[1]] if len(supervised) == 2 else ["label"]
    labels = [k for k in candidates
              if k in features and isinstance(features[k], tfds.features.ClassLabel)]
    return image_key, (labels[0] if labels else None)


@dataclasses.dataclass(frozen=True)
class ImageSource:
    """Random access to converted uint8 images: `read(indices)` -> (uint8 [n, R, R, C], int32 [n]).

    Holds either the whole converted split in memory (`images`, `labels`) or the TFDS data source.
    """

    spec: DatasetSpec
    images: np.ndarray | None
    labels: np.ndarray | None
    data_source: Sequence | None
    image_key: str
    label_key: str | None
    resolution: int
    channels: int
    method: str
    path: str = ""  # the prepared files' folder (for error messages)
    subset: np.ndarray | None = None  # the split's rows this source exposes (None: all)

    def read(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.images is not None:
            return self.images[indices], self.labels[indices]
        if self.subset is not None:
            indices = self.subset[np.asarray(indices)]
        return _decode(self.data_source, [int(i) for i in indices], self.image_key,
                       self.label_key, self.resolution, self.channels, self.method,
                       self.spec.name, self.path)


def _unreadable(name: str, path, err: BaseException) -> DataError:
    """A DataError for prepared files that cannot be read (truncated, garbled, missing)."""
    message = " ".join(str(err).split())[:160]
    return DataError(f"the prepared files of data set '{name}' in {path} cannot be read "
                     f"({type(err).__name__}: {message}): move that folder away and prepare it "
                     f"again (python -m jaxgan.data.prepare {name})")


def _decode(data_source, indices, image_key, label_key, resolution, channels, method,
            name: str = "", path=None):
    try:
        records = data_source.__getitems__(indices)
    except (RuntimeError, OSError) as err:  # array_record: "Invalid Riegeli/records file: ..."
        raise _unreadable(name, path, err) from None
    images = convert.convert_images([r[image_key] for r in records], resolution, channels, method)
    if label_key is None:
        labels = np.zeros(len(records), np.int32)
    else:
        labels = np.asarray([r[label_key] for r in records], np.int32)
    return images, labels


def open_image_source(name: str, *, data_dir: str | None, resolution: int | None,
                      channels: int | None, split: str = "train", resize_method: str = "auto",
                      in_memory: bool | None = None, class_split: ClassSplit | None = None,
                      part: str = "train") -> ImageSource:
    """Opens image data set `name` ('digits' or a TFDS catalog name) for random access.

    With `class_split`, only its `part` ('train' or 'test', jaxgan.data.classes) of the split is
    exposed, in ascending order of the split's rows; labels keep their original class indices.
    """
    if name in IN_MEMORY_SETS:  # built in memory from the scikit-learn digits
        return _in_memory_source(name, resolution, channels, class_split, part)
    data_dir = resolve_data_dir(data_dir)
    if name == "digits":
        resolution = DIGITS_DEFAULT_RESOLUTION if resolution is None else resolution
        if resolution not in digits_raw.ALLOWED_RESOLUTIONS:
            raise DataError(f"digits resolution must be one of {digits_raw.ALLOWED_RESOLUTIONS}, "
                            f"got {resolution}")
        builder = digits_builder.prepared_digits_builder(data_dir, resolution)
    else:
        builder = catalog_builder(name, data_dir)
    image_key, label_key = image_and_label_keys(builder, name)
    splits = list(builder.info.splits)
    try:
        data_source = builder.as_data_source(split=split)
    except (ValueError, KeyError) as err:
        raise DataError(f"bad split {split!r} for data set '{name}': use one of {splits}, "
                        f"optionally sliced like 'train[:90%]' ({str(err).splitlines()[0]})"
                        ) from None
    except (RuntimeError, OSError) as err:  # a missing or garbled array_record file
        raise _unreadable(name, builder.data_path, err) from None

    height, width, native_channels = builder.info.features[image_key].shape
    if resolution is None:
        if height is None or width is None:
            raise DataError(f"data set '{name}' has images of varying size: pass a resolution")
        resolution = min(height, width)
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution <= 0:
        raise DataError(f"resolution must be a positive int, got {resolution!r}")
    channels = (1 if native_channels == 1 else 3) if channels is None else channels
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
    method = convert.choose_resize_method(resize_method, (height, width), resolution)

    label_feature = builder.info.features[label_key] if label_key else None
    spec = DatasetSpec(name=name, kind="image", shape=(resolution, resolution, channels),
                       num_classes=label_feature.num_classes if label_feature else 0,
                       num_examples=len(data_source),
                       class_names=tuple(label_feature.names) if label_feature else (),
                       content_sha256=content_hash(builder))
    if spec.num_examples == 0:
        raise DataError(f"split {split!r} of data set '{name}' is empty")
    native_bytes = spec.num_examples * (height or resolution) * (width or resolution) * (
        native_channels or 3)
    if in_memory is None:
        in_memory = native_bytes <= MAX_IN_MEMORY_BYTES
    source = ImageSource(spec, None, None, data_source, image_key, label_key, resolution,
                         channels, method, os.fspath(builder.data_path))
    source = _load_into_memory(source) if in_memory else source
    if class_split is not None:
        source = _restrict_to_part(source, class_split, part)
    return source


# sets built in memory from the scikit-learn digits: name -> loader(resolution) -> (uint8
# [1797, R, R, C], labels), C its native channels (3 over photos, 1 for the shifted digits)
IN_MEMORY_SETS = {**photo_digits.LOADERS,
                  digits_shifted.NAME: digits_shifted.load_digits_shifted_uint8}


def _in_memory_source(name: str, resolution: int | None, channels: int | None,
                      class_split: ClassSplit | None, part: str) -> ImageSource:
    """An in-memory digits set (`digits_photo`, `digits_photo_bright`: RGB; `digits_shifted`:
    grey); channels=1 takes an RGB set's luminance, channels=3 tiles a grey set."""
    resolution = DIGITS_DEFAULT_RESOLUTION if resolution is None else resolution
    images, labels = IN_MEMORY_SETS[name](resolution)
    channels = images.shape[-1] if channels is None else channels
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels}")
    if channels == 1 and images.shape[-1] == 3:
        images = np.stack([convert.to_luminance(img) for img in images])
    elif channels == 3 and images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    spec = DatasetSpec(name=name, kind="image",
                       shape=(resolution, resolution, channels), num_classes=10,
                       num_examples=len(images), class_names=tuple(str(d) for d in range(10)))
    source = ImageSource(spec, images, labels.astype(np.int32), None, "image", "label",
                         resolution, channels, "resize")
    if class_split is not None:
        source = _restrict_to_part(source, class_split, part)
    return source


def all_labels(source: ImageSource) -> np.ndarray:
    """int32 [N]: the class label of every example of the source, in its order."""
    if source.labels is not None:
        return source.labels
    num = source.spec.num_examples
    return np.concatenate([source.read(np.arange(i, min(i + _READ_CHUNK, num)))[1]
                           for i in range(0, num, _READ_CHUNK)])


def _restrict_to_part(source: ImageSource, class_split: ClassSplit, part: str) -> ImageSource:
    """The source narrowed to `part` of the class split of its labels."""
    if part not in PARTS:
        raise DataError(f"part must be one of {PARTS}, got {part!r}")
    if source.label_key is None:
        raise DataError(f"data set '{source.spec.name}' has no class labels: drop "
                        f"train_classes / exclude_classes")
    train, test = split_indices(all_labels(source), class_split, source.spec.num_classes)
    rows = train if part == "train" else test
    if rows.size == 0:
        raise DataError(f"the {part} part of the class split of '{source.spec.name}' is empty; "
                        f"use normal_train_fraction < 1 for a test part")
    spec = dataclasses.replace(source.spec, num_examples=int(rows.size))
    if source.images is not None:
        return dataclasses.replace(source, spec=spec, images=source.images[rows],
                                   labels=source.labels[rows])
    return dataclasses.replace(source, spec=spec, subset=rows)


def _load_into_memory(source: ImageSource) -> ImageSource:
    """Decodes and converts the whole split once, in chunks; drops the data source."""
    num = source.spec.num_examples
    images = np.empty((num, *source.spec.shape), np.uint8)
    labels = np.empty((num,), np.int32)
    for start in range(0, num, _READ_CHUNK):
        stop = min(start + _READ_CHUNK, num)
        images[start:stop], labels[start:stop] = source.read(np.arange(start, stop))
    return dataclasses.replace(source, images=images, labels=labels, data_source=None)
