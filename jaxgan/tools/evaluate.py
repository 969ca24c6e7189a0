"""Evaluating a trained run with the metrics that fit its data.

`evaluate_run(run, num, seed)` draws `num` samples (jaxgan.tools.trained.generate_samples) and
applies the evaluator registered for the data's kind:

* 'points' (ring8, grid25): the PacGAN/VEEGAN mode metrics (jaxgan.metrics.modes.mode_metrics:
  modes captured, % high quality, reverse KL) on `num` samples (PacGAN evaluates 2,500).
* 'image': FID, KID, IS, precision/recall/density/coverage (jaxgan.metrics.evaluate_images) of
  `num` samples against min(num, size of the split) real training images, with the protocol. The
  features come from the shipped digits classifier for `digits` (plus class coverage) and from the
  FID Inception-v3 for every other data set (its weights: `weights` or $JAXGAN_INCEPTION_WEIGHTS).
  FID needs more samples than feature dimensions (64 for digits, 2,048 for Inception); Heusel et
  al. 2017 recommend at least 10,000, the default here.

Class-conditional runs draw every class equally often and add `class_accuracy`.

The result is a flat JSON-ready dict (non-finite numbers become null) that also records what was
measured: step, data set, number of samples and seed.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxgan.core.registry import Registry
from jaxgan.tools.trained import TrainedRun, generate_samples

EVAL_FILE = "eval.json"
# Default number of generated samples per data kind: PacGAN's 2,500 points; FID's 10,000 images.
DEFAULT_NUM_SAMPLES = {"points": 2500, "image": 10_000}
DIGITS = "digits"

Evaluator = Callable[..., dict[str, Any]]


def mode_evaluation(run: TrainedRun, samples: np.ndarray, seed: int,
                    weights: str | None = None) -> dict[str, Any]:
    """Mode metrics of 2-D samples against the mixture's centres (Lin et al. 2018, PacGAN)."""
    from jaxgan.metrics.modes import mode_metrics

    del seed, weights
    return mode_metrics(samples, run.spec.mode_centers, run.spec.mode_std)


def image_evaluation(run: TrainedRun, samples: np.ndarray, seed: int,
                     weights: str | None = None) -> dict[str, Any]:
    """FID/KID/IS/PRDC of generated images against real training images, with the protocol."""
    from jaxgan import data
    from jaxgan.metrics import evaluate_images

    config = run.config
    num_real = min(len(samples), run.spec.num_examples or len(samples))
    real = data.sample_real(config.dataset, num_real, seed, data_dir=config.data_dir or None,
                            resolution=config.resolution, channels=config.channels,
                            class_split=data.class_split_from_config(config))  # the trained part
    extractor = "digits" if config.dataset == DIGITS else "inception"
    return evaluate_images(samples, real, extractor, seed=seed, weights=weights,
                           reference_split=f"{config.dataset}:train[{num_real} random]")


def class_accuracy(run: TrainedRun, samples: np.ndarray) -> dict[str, Any]:
    """Class-conditional runs: how often a sample drawn for class k is recognised as class k.

    Sample i was drawn for class i mod K (`jaxgan.core.class_samples.balanced_labels`). Recognised:
    by the shipped digits classifier (argmax) for `digits`; by the nearest mixture centre for 2-D
    mixtures (whose labels are the component indices). Returns {} for unconditional runs and
    other data sets; else `class_accuracy` (the mean over classes) and `class_accuracy_per_class`.
    """
    from jaxgan.core import class_samples

    labels = class_samples.balanced_labels(run.gan, len(samples))
    if labels is None:
        return {}
    if run.spec.kind == "points" and run.spec.mode_centers is not None:
        distances = np.linalg.norm(samples[:, None, :] - run.spec.mode_centers[None], axis=-1)
        predicted = np.argmin(distances, axis=-1)
    elif run.config.dataset == DIGITS:
        from jaxgan.metrics.digits_classifier import load_classifier

        predicted = np.argmax(load_classifier().probabilities(samples), axis=-1)
    else:
        return {}
    labels = np.asarray(labels)
    per_class = [float(np.mean(predicted[labels == k] == k)) if np.any(labels == k) else math.nan
                 for k in range(run.gan.num_classes)]
    return {"class_accuracy": float(np.nanmean(per_class)), "class_accuracy_per_class": per_class}


EVALUATORS: Registry[Evaluator] = Registry("data kind with metrics", {
    "points": mode_evaluation,
    "image": image_evaluation,
})


def json_ready(value: Any) -> Any:
    """numpy scalars/arrays → Python numbers/lists; NaN/Inf → None (JSON has neither)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_ready(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    return value


def evaluate_run(run: TrainedRun, num: int | None = None, seed: int = 0,
                 weights: str | None = None) -> dict[str, Any]:
    """The metrics of `num` samples of `run` drawn with `seed` (default number:
    DEFAULT_NUM_SAMPLES of the data kind), with what was measured."""
    evaluator = EVALUATORS[run.spec.kind]
    num = DEFAULT_NUM_SAMPLES[run.spec.kind] if num is None else num
    samples = generate_samples(run, num, seed)
    metrics = {**evaluator(run, samples, seed, weights=weights), **class_accuracy(run, samples)}
    return json_ready({"step": run.step, "dataset": run.spec.name, "num_samples": num,
                       "seed": seed, **metrics})
