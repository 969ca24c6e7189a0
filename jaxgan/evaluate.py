"""Evaluating a trained run with the metrics that fit its data.

`evaluate_run(run, num, seed)` draws `num` samples (jaxgan.trained.generate_samples) and applies
the evaluator registered for the data's kind:

* 'points' (ring8, grid25): the PacGAN/VEEGAN mode metrics (jaxgan.metrics.modes.mode_metrics:
  modes captured, % high quality, reverse KL) on `num` samples (PacGAN evaluates 2,500).

The result is a flat JSON-ready dict (non-finite numbers become null) that also records what was
measured: step, data set, number of samples and seed.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from jaxgan.registry import Registry
from jaxgan.trained import TrainedRun, generate_samples

DEFAULT_NUM_SAMPLES = 2500
EVAL_FILE = "eval.json"

Evaluator = Callable[[TrainedRun, np.ndarray, int], dict[str, Any]]


def mode_evaluation(run: TrainedRun, samples: np.ndarray, seed: int) -> dict[str, Any]:
    """Mode metrics of 2-D samples against the mixture's centres (Lin et al. 2018, PacGAN)."""
    from jaxgan.metrics.modes import mode_metrics

    del seed
    return mode_metrics(samples, run.spec.mode_centers, run.spec.mode_std)


EVALUATORS: Registry[Evaluator] = Registry("data kind with metrics", {
    "points": mode_evaluation,
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


def evaluate_run(run: TrainedRun, num: int = DEFAULT_NUM_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """The metrics of `num` samples of `run` drawn with `seed`, with what was measured."""
    evaluator = EVALUATORS[run.spec.kind]
    samples = generate_samples(run, num, seed)
    metrics = evaluator(run, samples, seed)
    return json_ready({"step": run.step, "dataset": run.spec.name, "num_samples": num,
                       "seed": seed, **metrics})
