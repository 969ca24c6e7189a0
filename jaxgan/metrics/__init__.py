"""Evaluation metrics for GANs: FID, KID, Inception Score, precision/recall/density/coverage, 2-D mode
metrics and class coverage, with the digits classifier and the FID Inception as feature extractors.

Feature extractors are imported lazily (`jaxgan.metrics.digits_classifier`,
`jaxgan.metrics.inception`).

Room `metrics`, a side room: imports only `jaxgan.metrics` and `jaxgan.data` (the digits to train
its classifier on); used by training (the failure monitor), tools and cli.
"""
from jaxgan.metrics.coverage import class_coverage
from jaxgan.metrics.evaluate import EXTRACTORS, evaluate_images, make_extractor
from jaxgan.metrics.fid import FeatureStats, fid_from_features, fid_from_stats, frechet_distance
from jaxgan.metrics.inception_score import inception_score
from jaxgan.metrics.kid import kernel_inception_distance
from jaxgan.metrics.modes import mode_metrics
from jaxgan.metrics.prdc import precision_recall

__all__ = [
    "EXTRACTORS", "FeatureStats", "class_coverage", "evaluate_images", "fid_from_features",
    "fid_from_stats", "frechet_distance", "inception_score", "kernel_inception_distance",
    "make_extractor", "mode_metrics", "precision_recall",
]
