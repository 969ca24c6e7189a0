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

Class-conditional runs draw every class equally often and add `class_accuracy` (and the data
set's `class_names` where it names its classes, e.g. the folders of a `jaxgan prepare` set).

The result is a flat JSON-ready dict (non-finite numbers become null) that also records what was
measured: step, data set, number of samples and seed.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxgan.core import class_samples
from jaxgan.core.registry import Registry
from jaxgan.tools.trained import TrainedRun, generate_samples

EVAL_FILE = "eval.json"
# Default number of generated samples per data kind: PacGAN's 2,500 points; FID's 10,000 images.
DEFAULT_NUM_SAMPLES = {"points": 2500, "image": 10_000}
DIGITS = "digits"

Evaluator = Callable[..., dict[str, Any]]


def mode_evaluation(run: TrainedRun, samples: np.ndarray, seed: int,
                    weights: str | None = None, features: str | None = None) -> dict[str, Any]:
    """Mode metrics of 2-D samples against the mixture's centres (Lin et al. 2018, PacGAN)."""
    from jaxgan.metrics.modes import mode_metrics

    del seed, weights, features
    return mode_metrics(samples, run.spec.mode_centers, run.spec.mode_std)


def image_evaluation(run: TrainedRun, samples: np.ndarray, seed: int,
                     weights: str | None = None, features: str | None = None) -> dict[str, Any]:
    """FID/KID/IS/PRDC of generated images against real training images, with the protocol.

    `features` picks the feature network: 'digits' (the shipped digits classifier; meaningful for
    images of handwritten digits, e.g. a set prepared from a folder of digit scans) or
    'inception'; default: 'digits' for the digits data set, else 'inception'. The protocol also
    records `data_sha256`, the content hash of a set made by `jaxgan prepare` ('' otherwise)."""
    from jaxgan import data
    from jaxgan.metrics import evaluate_images

    config = run.config
    num_real = min(len(samples), run.spec.num_examples or len(samples))
    real = data.sample_real(config.dataset, num_real, seed, data_dir=config.data_dir or None,
                            resolution=config.resolution, channels=config.channels,
                            class_split=data.class_split_from_config(config))  # the trained part
    extractor = features or ("digits" if config.dataset == DIGITS else "inception")
    result = evaluate_images(samples, real, extractor, seed=seed, weights=weights,
                             reference_split=f"{config.dataset}:train[{num_real} random]")
    result["protocol"]["data_sha256"] = run.spec.content_sha256 or config.get("data_sha256", "")
    return result


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


def summarise_seeds(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Across the seeds of a multi-seed run: for every scalar metric all seeds report (numbers,
    not flags), its mean, sample standard deviation (ddof 1; 0 for one seed), min and max."""
    rows = list(results.values())
    if not rows:
        return {}
    summary = {}
    for key, value in rows[0].items():
        if key in ("step", "seed", "num_samples") or isinstance(value, bool) or \
                not isinstance(value, (int, float)):
            continue
        values = [r.get(key) for r in rows]
        if any(v is None or isinstance(v, bool) or not isinstance(v, (int, float))
               for v in values):
            continue
        array = np.asarray(values, np.float64)
        summary[key] = {"mean": float(array.mean()),
                        "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0,
                        "min": float(array.min()), "max": float(array.max())}
    return summary


def evaluate_run(run: TrainedRun, num: int | None = None, seed: int = 0,
                 weights: str | None = None, features: str | None = None) -> dict[str, Any]:
    """The metrics of `num` samples of `run` drawn with `seed` (default number:
    DEFAULT_NUM_SAMPLES of the data kind), with what was measured."""
    from jaxgan.metrics.fid import RankDeficientCovarianceError
    from jaxgan.tools.trained import check_finite_samples

    evaluator = EVALUATORS[run.spec.kind]
    num = DEFAULT_NUM_SAMPLES[run.spec.kind] if num is None else num
    samples = generate_samples(run, num, seed)
    check_finite_samples(run, samples)
    try:
        metrics = {**evaluator(run, samples, seed, weights=weights, features=features),
                   **class_accuracy(run, samples)}
    except RankDeficientCovarianceError as err:  # its advice is the library's keyword argument
        text = str(err).replace(" or pass allow_rank_deficient=True", "")
        raise ValueError(f"{text}: run `jaxgan eval` with a larger --num") from None
    named = ({"class_names": list(run.spec.class_names)}
             if run.spec.class_names and class_samples.is_conditional(run.gan) else {})
    psi = getattr(run.gan.generator, "truncation_psi", 1.0)
    truncated = {"truncation_psi": psi} if psi != 1.0 else {}  # part of the protocol
    return json_ready({"step": run.step, "dataset": run.spec.name, "num_samples": num,
                       "seed": seed, **named, **truncated, **metrics})
