"""Input pipelines: TFDS catalog data sets, the embedded digits data set, toy 2-D mixtures."""
from jaxgan.data.errors import DataError
from jaxgan.data.iterators import BatchIterator
from jaxgan.data.pipeline import DATASETS, dataset_kind, get_spec, make_iterator, sample_real
from jaxgan.data.spec import DatasetSpec

__all__ = ["DATASETS", "BatchIterator", "DataError", "DatasetSpec", "dataset_kind", "get_spec",
           "make_iterator", "sample_real"]
