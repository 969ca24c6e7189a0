"""Input pipelines: TFDS catalog data sets, the embedded digits data set, toy 2-D mixtures
(host iterators; `toy_sampler` draws the mixtures on device inside a jitted loop), and your own
images (folders, zips, arrays) made into TFDS data sets by `prepare_images`.

Room `data`, a side room: imports nothing of jaxgan outside `jaxgan.data`; used by training, tools
and cli (and by the digits classifier's training script in `jaxgan.metrics`).
"""
from jaxgan.data.classes import ClassSplit, class_split_from_config
from jaxgan.data.errors import DataError
from jaxgan.data.iterators import BatchIterator
from jaxgan.data.pipeline import (DATASETS, class_split_record, dataset_kind, get_spec,
                                  load_images, make_iterator, sample_real)
from jaxgan.data.prepare_images import PreparedImages, prepare_images
from jaxgan.data.spec import DatasetSpec

__all__ = ["DATASETS", "BatchIterator", "ClassSplit", "DataError", "DatasetSpec",
           "class_split_from_config", "class_split_record", "dataset_kind", "get_spec",
           "load_images", "make_iterator", "prepare_images", "PreparedImages", "sample_real"]
