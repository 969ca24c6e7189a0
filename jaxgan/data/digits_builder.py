"""The embedded `digits` data set as a real TFDS builder, prepared offline from scikit-learn.

The 1,797 8x8 handwritten digits of the UCI "Optical Recognition of Handwritten Digits" set
(Alpaydin & Kaynak 1998) ship inside scikit-learn, so this builder needs no network and no
TensorFlow: images are handed to TFDS as PIL images (PNG-encoded by PIL) and written as
array_record, which TFDS's random-access data source then reads back like any catalog data set.
One builder config per resolution; the pixels come from `digits_raw.load_digits_uint8`, the single
definition of digits images shared with the metrics classifier.
"""
from __future__ import annotations

import contextlib
import logging
import os

import tensorflow_datasets as tfds
from PIL import Image

from jaxgan.data import digits_raw
from jaxgan.data.errors import DataError

DIGITS_TFDS_NAME = "sklearn_digits"


def config_name(resolution: int) -> str:
    """TFDS config name of the digits upsampled to `resolution` x `resolution`."""
    return f"{resolution}x{resolution}"


class SklearnDigits(tfds.core.GeneratorBasedBuilder):
    """scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels) as uint8 images with labels."""

    name = DIGITS_TFDS_NAME
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: sklearn.datasets.load_digits, bilinear upsampling."}
    BUILDER_CONFIGS = [
        tfds.core.BuilderConfig(name=config_name(r), description=f"digits upsampled to {r}x{r}")
        for r in digits_raw.ALLOWED_RESOLUTIONS
    ]

    @property
    def resolution(self) -> int:
        return int(self.builder_config.name.split("x")[0])

    def _info(self) -> tfds.core.DatasetInfo:
        r = self.resolution
        return tfds.core.DatasetInfo(
            builder=self,
            description=("The 1,797 8x8 handwritten digits shipped inside scikit-learn, "
                         "intensities 0..16 scaled to 0..255, bilinearly upsampled."),
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(r, r, 1), encoding_format="png"),
                "label": tfds.features.ClassLabel(num_classes=10),
            }),
            supervised_keys=("image", "label"),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset",
        )

    # TFDS prints "Downloading and preparing dataset ..." and "... downloaded and prepared":
    # nothing is downloaded here, so one line says what happens instead.
    def _log_download_bytes(self) -> None:
        print(f"preparing the embedded digits at {self.resolution}x{self.resolution} (1,797 "
              f"images from scikit-learn, no download) in {self.data_dir}", flush=True)

    def _log_download_done(self) -> None:
        pass

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        del dl_manager  # everything is local
        return {"train": self._generate_examples()}

    def _generate_examples(self):
        images, labels = digits_raw.load_digits_uint8(self.resolution)
        for index, (image, label) in enumerate(zip(images, labels)):
            # A PIL image is PNG-encoded by PIL itself; a numpy array would need TensorFlow.
            yield index, {"image": Image.fromarray(image[..., 0]), "label": int(label)}


class _DropFirstUseNoise(logging.Filter):
    """TFDS's 'Variant folder ... has no dataset_info.json' while the folder is being created."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "has no dataset_info.json" not in record.getMessage()


@contextlib.contextmanager
def _quiet_preparation():
    """No TFDS progress bars nor first-use warnings while the 1,797 digits are written (about a
    second); jaxgan's own line says what happens. The progress-bar setting is restored after."""
    from tensorflow_datasets.core.utils import tqdm_utils

    shown = getattr(tqdm_utils, "_active", True)
    quiet = _DropFirstUseNoise()
    absl_logger = logging.getLogger("absl")
    absl_logger.addFilter(quiet)
    tfds.display_progress_bar(False)
    try:
        yield
    finally:
        tfds.display_progress_bar(shown)
        absl_logger.removeFilter(quiet)


def prepared_digits_builder(data_dir: str | os.PathLike, resolution: int) -> SklearnDigits:
    """Returns the digits builder for `resolution`, preparing it into `data_dir` if needed."""
    data_dir = os.fspath(data_dir)
    if os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise DataError(f"data_dir {data_dir} is a file, not a directory: pass a directory as "
                        f"--config.data_dir (or $TFDS_DATA_DIR)")
    kwargs = dict(data_dir=data_dir, config=config_name(resolution), file_format="array_record")
    with _quiet_preparation():
        return _prepare(data_dir, kwargs)


def _prepare(data_dir: str, kwargs: dict) -> SklearnDigits:
    try:
        builder = SklearnDigits(**kwargs)
        if not builder.is_prepared():
            try:
                builder.download_and_prepare()
            except OSError:
                # Another process may have prepared it concurrently (TFDS renames a finished
                # folder).
                if not SklearnDigits(**kwargs).is_prepared():
                    raise
            builder = SklearnDigits(**kwargs)
    except OSError as err:
        where = err.filename or data_dir
        raise DataError(f"cannot prepare the embedded digits in {data_dir} ({where}: "
                        f"{err.strerror or err}): pass a writable directory as --config.data_dir "
                        f"(or $TFDS_DATA_DIR)") from None
    return builder
