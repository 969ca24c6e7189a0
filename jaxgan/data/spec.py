"""What models and metrics need to know about a data set."""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Static description of a data set as the pipeline delivers it.

    Attributes:
      name: the name it was requested by ('ring8', 'digits', 'mnist', ...).
      kind: 'image' (x is float32 [B, H, W, C] in [-1, 1]) or 'points' (x is float32 [B, 2]).
      shape: per-example shape of x, e.g. (32, 32, 1) or (2,).
      num_classes: number of label values; 0 when unlabelled (labels are then all 0). For toy
        mixtures the label is the index of the mixture component a point was drawn from.
      num_examples: examples in the split; None for the infinite toy streams.
      mode_centers: [K, 2] mixture means (toy data only).
      mode_std: per-coordinate standard deviation of every mixture component (toy data only).
      class_names: the name of each label value, when the data set names them (e.g. the class
        folders of a set made by `jaxgan prepare`, cifar10's 'airplane', ...); () otherwise.
        Descriptive only: not compared.
      content_sha256: the content hash of a set made by `jaxgan prepare` ('' for other sets).
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    num_classes: int
    num_examples: int | None
    mode_centers: np.ndarray | None = dataclasses.field(default=None, compare=False)
    mode_std: float | None = None
    class_names: tuple[str, ...] = dataclasses.field(default=(), compare=False)
    content_sha256: str = ""
