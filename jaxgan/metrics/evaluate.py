"""One call that scores generated images against real ones and records the protocol with every number.

FID/KID/IS values are only comparable under the same protocol (Heusel et al. 2017; Bińkowski et al.
2018): the returned dict carries, under "protocol", the numbers of real and generated samples, the
reference split, the feature extractor, the sha256 of its weight file, the resize filter and the metric
settings. Features are computed in batches; FID statistics are accumulated streaming in float64; KID
and precision/recall/density/coverage use the first `max_kept_features` feature vectors of each side.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import jax
import numpy as np

from jaxgan.metrics.coverage import class_coverage
from jaxgan.metrics.fid import FeatureStats, fid_from_stats
from jaxgan.metrics.inception_score import inception_score
from jaxgan.metrics.kid import kernel_inception_distance
from jaxgan.metrics.prdc import precision_recall

GenerateFn = Callable[[jax.Array, int], np.ndarray]
"""generate_fn(key, n) -> n images [n, H, W, C], float in [-1, 1] (or uint8)."""


@dataclasses.dataclass(frozen=True)
class FeatureExtractor:
    """What `evaluate_images` needs from a feature network, plus the protocol fields describing it."""

    name: str
    feature_dim: int
    weights_path: str
    weights_sha256: str
    resize_filter: str
    features_and_probabilities: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    reports_class_coverage: bool


def _digits_extractor(weights: str | None) -> FeatureExtractor:
    from jaxgan.metrics import digits_classifier as dc

    clf = dc.load_classifier(weights)
    return FeatureExtractor("digits_classifier", clf.feature_dim, clf.path, clf.sha256,
                            dc.RESIZE_FILTER, clf.features_and_probabilities, True)


def _inception_extractor(weights: str | None) -> FeatureExtractor:
    from jaxgan.metrics import inception

    net = inception.load_inception(weights)
    return FeatureExtractor("inception_v3_fid_pool3", net.feature_dim, net.path, net.sha256,
                            inception.RESIZE_FILTER, net.features_and_probabilities, False)


EXTRACTORS: dict[str, Callable[[str | None], FeatureExtractor]] = {
    "digits": _digits_extractor,
    "inception": _inception_extractor,
}


def make_extractor(name: str, weights: str | None = None) -> FeatureExtractor:
    """Builds a registered extractor ('digits' or 'inception'); `weights` overrides its weight file."""
    if name not in EXTRACTORS:
        raise ValueError(f"unknown feature extractor '{name}'; choose one of {sorted(EXTRACTORS)}")
    return EXTRACTORS[name](weights)


def quantize_to_uint8_levels(images: np.ndarray) -> np.ndarray:
    """Float images in [-1, 1] -> the nearest of the 256 levels u/127.5 − 1 (what saving a PNG does)."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 127.5 - 1.0
    levels = np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255)
    return levels / 127.5 - 1.0


class _Accumulator:
    """Streaming FID statistics, the first `keep` feature vectors, and all class probabilities."""

    def __init__(self, dim: int, keep: int):
        self.stats = FeatureStats(dim)
        self.keep = keep
        self.kept: list[np.ndarray] = []
        self.num_kept = 0
        self.probs: list[np.ndarray] = []

    def add(self, feats: np.ndarray, probs: np.ndarray) -> None:
        if not np.isfinite(feats).all():
            raise ValueError("the feature extractor produced nan/inf: the images contain nan/inf "
                             "(a diverged generator?)")
        self.stats.update(feats)
        take = min(self.keep - self.num_kept, feats.shape[0])
        if take > 0:
            self.kept.append(np.asarray(feats[:take], np.float32))
            self.num_kept += take
        self.probs.append(np.asarray(probs, np.float32))

    def kept_features(self) -> np.ndarray:
        return np.concatenate(self.kept)

    def all_probs(self) -> np.ndarray:
        return np.concatenate(self.probs)


def _check_images(images: np.ndarray, what: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(f"{what} images must be a non-empty NHWC array with 1 or 3 channels, got "
                         f"shape {images.shape}")
    return images


def _batches(source: np.ndarray | GenerateFn, num: int, batch_size: int, seed: int, what: str):
    if callable(source):
        base = jax.random.key(seed)
        for i, start in enumerate(range(0, num, batch_size)):
            n = min(batch_size, num - start)
            images = _check_images(source(jax.random.fold_in(base, i), n), what)
            if images.shape[0] != n:
                raise ValueError(f"generate_fn(key, {n}) returned {images.shape[0]} images")
            yield images
    else:
        for start in range(0, num, batch_size):
            yield source[start:start + batch_size]


def evaluate_images(fake: np.ndarray | GenerateFn, real: np.ndarray, extractor: str = "digits", *,
                    num_fake: int | None = None, seed: int = 0, reference_split: str = "unspecified",
                    weights: str | None = None, batch_size: int = 250, quantize: bool = True,
                    kid_num_subsets: int = 100, kid_subset_size: int = 1000, prdc_k: int = 3,
                    is_splits: int = 10, max_kept_features: int = 10_000,
                    allow_rank_deficient: bool = False) -> dict[str, object]:
    """Scores generated images against real images; returns the scores and their protocol.

    Args:
      fake: generated images [N, H, W, C] (float in [-1, 1] or uint8), or `generate_fn(key, n)`
        called with `jax.random.fold_in(jax.random.key(seed), batch_index)` (then `num_fake` is needed).
      real: real images [M, H', W', C'] (float in [-1, 1] or uint8); all are used.
      extractor: 'digits' (shipped digits classifier, D=64) or 'inception' (FID Inception pool3,
        D=2048; weights from `weights` or $JAXGAN_INCEPTION_WEIGHTS).
      reference_split: the name of the real data split (e.g. 'digits:all', 'cifar10:train'), recorded.
      quantize: round both sides to the 256 uint8 levels first, as saving PNGs would (the usual
        protocol of the reference FID code, which reads image files).
      allow_rank_deficient: compute FID even with N <= D samples (with a loud warning).

    Returns dict with fid, kid_mean, kid_std, is_mean, is_std (generated), is_real_mean, is_real_std,
    precision, recall, density, coverage, class_coverage (digits only) and protocol.
    """
    if callable(fake):
        if num_fake is None or num_fake < 1:
            raise ValueError("evaluate_images with a generate_fn needs num_fake >= 1")
        n_fake = int(num_fake)
    else:
        fake = _check_images(fake, "generated")
        n_fake = fake.shape[0] if num_fake is None else min(int(num_fake), fake.shape[0])
    real = _check_images(real, "real")
    if batch_size < 1 or max_kept_features < 2:
        raise ValueError("batch_size must be >= 1 and max_kept_features >= 2")
    net = make_extractor(extractor, weights)

    sides, fake_shape = {}, None
    for side, source, num in (("real", real, real.shape[0]), ("fake", fake, n_fake)):
        acc = _Accumulator(net.feature_dim, max_kept_features)
        for images in _batches(source, num, batch_size, seed, side):
            if side == "fake":
                fake_shape = tuple(int(s) for s in images.shape[1:])
            if quantize:
                images = quantize_to_uint8_levels(images)
            acc.add(*net.features_and_probabilities(images))
        sides[side] = acc
    real_acc, fake_acc = sides["real"], sides["fake"]

    fid = fid_from_stats(real_acc.stats, fake_acc.stats, allow_rank_deficient=allow_rank_deficient)
    kept_real, kept_fake = real_acc.kept_features(), fake_acc.kept_features()
    subset = min(kid_subset_size, kept_real.shape[0], kept_fake.shape[0])
    kid_mean, kid_std = kernel_inception_distance(kept_real, kept_fake, kid_num_subsets, subset, seed)
    prdc = precision_recall(kept_real, kept_fake, k=prdc_k)
    fake_probs, real_probs = fake_acc.all_probs(), real_acc.all_probs()
    is_mean, is_std = inception_score(fake_probs, min(is_splits, n_fake))
    is_real_mean, is_real_std = inception_score(real_probs, min(is_splits, real.shape[0]))

    result: dict[str, object] = {
        "fid": fid, "kid_mean": kid_mean, "kid_std": kid_std,
        "is_mean": is_mean, "is_std": is_std, "is_real_mean": is_real_mean, "is_real_std": is_real_std,
        "precision": prdc["precision"], "recall": prdc["recall"],
        "density": prdc["density"], "coverage": prdc["coverage"],
    }
    if net.reports_class_coverage:
        result["class_coverage"] = class_coverage(fake_probs)
    result["protocol"] = {
        "num_real": int(real.shape[0]),
        "num_fake": n_fake,
        "reference_split": reference_split,
        "feature_extractor": net.name,
        "feature_dim": net.feature_dim,
        "weights_path": net.weights_path,
        "weights_sha256": net.weights_sha256,
        "resize_filter": net.resize_filter,
        "real_image_shape": tuple(int(s) for s in real.shape[1:]),
        "fake_image_shape": fake_shape,
        "quantized_to_uint8": bool(quantize),
        "fake_seed": int(seed) if callable(fake) else None,
        "kid_num_subsets": int(kid_num_subsets), "kid_subset_size": int(subset), "kid_seed": int(seed),
        "prdc_k": int(prdc_k),
        "prdc_num_real": int(kept_real.shape[0]), "prdc_num_fake": int(kept_fake.shape[0]),
        "is_splits": int(min(is_splits, n_fake)),
        "fid_rank_deficient": bool(real_acc.stats.count <= net.feature_dim
                                   or fake_acc.stats.count <= net.feature_dim),
    }
    return result
