"""Keeping or dropping classes of a labelled data set, and the anomaly-detection split.

`ClassSplit` says which classes are "normal" (config keys `train_classes` / `exclude_classes`,
comma-separated class indices) and how the normal images are split: the EGBAD protocol (Zenati
et al. 2018; ../shared/reference/REFERENCE.md, "Anomaly detection with GANs") trains on a seeded
`train_fraction` (80%) of the normal images; the test part is the other normal images plus every
image of the classes left out (the anomalies). The split is a pure function of the labels, the
classes, the fraction and the seed: `split_indices` draws one permutation of the normal images with
numpy's SeedSequence([STREAM_CLASS_SPLIT, 0, seed]).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from jaxgan.data.errors import DataError

STREAM_CLASS_SPLIT = 4  # first word of the split's seed sequence (iterators.py uses 1..3)
PARTS = ("train", "test")


def parse_classes(text: str | int | tuple | list, what: str = "classes") -> tuple[int, ...]:
    """'1,3, 7' (or an int, or a sequence of ints) -> (1, 3, 7), sorted, without repeats."""
    if isinstance(text, (tuple, list)):
        items = [str(v) for v in text]
    else:
        items = [p.strip() for p in str(text).split(",") if p.strip()]
    try:
        values = {int(v) for v in items}
    except ValueError:
        raise DataError(f"{what} must be comma-separated class indices like '7' or '0,1,2', "
                        f"got {text!r}") from None
    if any(v < 0 for v in values):
        raise DataError(f"{what} must be class indices >= 0, got {text!r}")
    return tuple(sorted(values))


@dataclasses.dataclass(frozen=True)
class ClassSplit:
    """Normal classes = `keep` (all classes when empty) minus `exclude`; the normal images split
    `train_fraction` : 1 − `train_fraction` into train and test by `seed`; test also gets every
    image of the other classes."""

    keep: tuple[int, ...] = ()
    exclude: tuple[int, ...] = ()
    train_fraction: float = 0.8
    seed: int = 0

    def __post_init__(self):
        if not 0.0 < self.train_fraction <= 1.0:
            raise DataError(f"the normal classes' train fraction must lie in (0, 1], got "
                            f"{self.train_fraction}")
        overlap = set(self.keep) & set(self.exclude)
        if overlap:
            raise DataError(f"classes {sorted(overlap)} are both kept (train_classes) and "
                            f"excluded (exclude_classes); name each class in one of them only")

    def normal_classes(self, num_classes: int) -> tuple[int, ...]:
        """The normal classes among 0..num_classes-1; raises DataError on an unknown class."""
        if num_classes <= 0:
            raise DataError("train_classes / exclude_classes need a data set with class labels")
        unknown = sorted(c for c in (*self.keep, *self.exclude) if c >= num_classes)
        if unknown:
            raise DataError(f"classes {unknown} do not exist: the data set has classes "
                            f"0..{num_classes - 1}")
        kept = self.keep or tuple(range(num_classes))
        normal = tuple(c for c in kept if c not in self.exclude)
        if not normal:
            raise DataError("train_classes / exclude_classes leave no class to train on")
        return normal

    def to_json(self) -> dict:
        return {"train_classes": list(self.keep), "exclude_classes": list(self.exclude),
                "train_fraction": self.train_fraction, "seed": self.seed}


def class_split_from_config(config) -> ClassSplit | None:
    """The ClassSplit of a run config (keys train_classes, exclude_classes,
    normal_train_fraction, split_seed), or None when neither class key is set."""
    keep = parse_classes(config.get("train_classes", ""), "config.train_classes")
    exclude = parse_classes(config.get("exclude_classes", ""), "config.exclude_classes")
    if not keep and not exclude:
        return None
    return ClassSplit(keep=keep, exclude=exclude,
                      train_fraction=float(config.get("normal_train_fraction", 0.8)),
                      seed=int(config.get("split_seed", 0)))


def split_indices(labels: np.ndarray, split: ClassSplit, num_classes: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices into `labels`, each sorted ascending.

    train = the first round(f·n) of a seeded permutation of the n normal images; test = the rest
    of the normal images and every image of a non-normal class.
    """
    labels = np.asarray(labels)
    normal = np.isin(labels, split.normal_classes(num_classes))
    normal_idx = np.flatnonzero(normal)
    if normal_idx.size == 0:
        raise DataError(f"the data set has no image of the normal classes "
                        f"{split.normal_classes(num_classes)}")
    rng = np.random.default_rng([STREAM_CLASS_SPLIT, 0, split.seed])
    order = normal_idx[rng.permutation(normal_idx.size)]
    num_train = max(1, int(round(split.train_fraction * normal_idx.size)))
    train = np.sort(order[:num_train])
    test = np.sort(np.concatenate([order[num_train:], np.flatnonzero(~normal)]))
    return train, test


def split_record(labels: np.ndarray, split: ClassSplit, num_classes: int) -> dict:
    """JSON description of the split: the protocol, the classes and both index lists."""
    train, test = split_indices(labels, split, num_classes)
    normal = split.normal_classes(num_classes)
    return {"protocol": "EGBAD (Zenati et al. 2018): train = a seeded train_fraction of the "
                        "normal images; test = the other normal images + every anomalous one",
            **split.to_json(), "normal_classes": list(normal),
            "anomalous_classes": [c for c in range(num_classes) if c not in normal],
            "num_train": int(train.size), "num_test": int(test.size),
            "num_test_anomalous": int(np.sum(~np.isin(labels[test], normal))),
            "train_indices": train.tolist(), "test_indices": test.tolist()}
