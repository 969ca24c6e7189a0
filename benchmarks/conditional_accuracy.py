"""Class accuracy of conditional digits GANs: are samples asked to be a K classified as a K?

For each experiment config (default: the three conditional digits configs), trains with the config's
budget (config.steps generator steps, batch config.batch_size), then draws `--per_class` samples of
every class and classifies them. Reported: per-class accuracy, their mean, the wall time of training
(jaxgan.train.train_and_evaluate, as `jaxgan train` runs it: compile, data, logs, checkpoints).

The classifier is the project's digits classifier (`jaxgan.metrics.digits_classifier`, shipped
weights); its accuracy on its own held-out real digits at the same resolution is reported too.

    PYTHONPATH=. python benchmarks/conditional_accuracy.py [--config experiments/acgan_digits.py ...]
        [--seeds 0,1,2] [--set d_norm=batch] [--per_class 100] [--json out.json]
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import sys
import tempfile
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.config import build_gan
from jaxgan.data import get_spec
from jaxgan.state import generate
from jaxgan.train import train_and_evaluate

DEFAULT_CONFIGS = ("experiments/cgan_digits.py", "experiments/acgan_digits.py",
                   "experiments/projection_digits.py")


def load_config(path: str):
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def apply_overrides(config, overrides: list[str]):
    for item in overrides:
        key, value = item.split("=", 1)
        config[key] = type(config[key])(value) if not isinstance(config[key], bool) else \
            value.lower() in ("1", "true", "yes")
    return config


def reference_classifier(resolution: int) -> tuple[Callable, float, str]:
    """(predict(images [N,R,R,1] in [-1,1]) -> labels, accuracy on its held-out real digits, name).

    The project's digits classifier (jaxgan.metrics.digits_classifier) with its shipped weights.
    """
    from jaxgan.data.digits_raw import load_digits_uint8
    from jaxgan.metrics.digits_classifier import held_out_split, load_classifier

    classifier = load_classifier()
    predict = lambda images: np.argmax(classifier.probabilities(np.asarray(images)), -1)
    images, labels = load_digits_uint8(resolution)
    _, held_out = held_out_split(len(images))
    real = images[held_out].astype(np.float32) / 127.5 - 1.0
    accuracy = float(np.mean(predict(real) == labels[held_out]))
    return predict, accuracy, f"jaxgan.metrics.digits_classifier (sha256 {classifier.sha256[:12]})"


def train(config, workdir: str) -> tuple:
    """Trains as `jaxgan train` does (jaxgan.train.train_and_evaluate) in `workdir`."""
    # handle_signals=False: a SIGTERM ends the benchmark instead of cutting one run short
    summary = train_and_evaluate(config, workdir, stream=io.StringIO(), handle_signals=False)
    if summary.step != config.steps:
        raise RuntimeError(f"trained {summary.step} steps, not {config.steps}")
    iterator_spec = get_spec(config.dataset, resolution=config.resolution,
                             data_dir=config.data_dir or None)
    gan = build_gan(config, iterator_spec.shape, iterator_spec.num_classes)
    return gan, summary.state, summary.seconds, summary.metrics


def class_accuracy(gan, state, predict, per_class: int, seed: int) -> np.ndarray:
    """Fraction of `per_class` samples of each class that `predict` assigns to that class."""
    z = gan.sample_latent(jax.random.key(seed + 12345), per_class * gan.num_classes)
    labels = jnp.repeat(jnp.arange(gan.num_classes), per_class)
    images = np.asarray(generate(gan, state, z, labels))
    predicted = predict(images)
    return np.array([np.mean(predicted[np.asarray(labels) == k] == k)
                     for k in range(gan.num_classes)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", help="experiment file (repeatable)")
    parser.add_argument("--set", action="append", default=[], help="override KEY=VALUE")
    parser.add_argument("--seeds", default=None,
                        help="comma-separated seeds to run each config with (default: its own)")
    parser.add_argument("--per_class", type=int, default=100)
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)
    results = []
    classifiers = {}
    runs = [(path, seed) for path in (args.config or DEFAULT_CONFIGS)
            for seed in ([None] if args.seeds is None else map(int, args.seeds.split(",")))]
    for path, seed in runs:
        config = apply_overrides(load_config(path), args.set)
        if seed is not None:
            config.seed = seed
        if config.resolution not in classifiers:
            classifiers[config.resolution] = reference_classifier(config.resolution)
        predict, held_out, description = classifiers[config.resolution]
        with tempfile.TemporaryDirectory() as workdir:
            gan, state, seconds, last = train(config, workdir)
        accuracy = class_accuracy(gan, state, predict, args.per_class, config.seed)
        result = dict(config=path, seed=config.seed, overrides=args.set,
                      conditioning=config.conditioning,
                      loss=config.loss, steps=config.steps, batch_size=config.batch_size,
                      resolution=config.resolution, train_seconds=round(seconds, 1),
                      per_class_accuracy=[round(float(a), 3) for a in accuracy],
                      mean_accuracy=round(float(accuracy.mean()), 4), classifier=description,
                      classifier_held_out_accuracy=held_out, last_metrics=last,
                      device=str(jax.devices()[0]))
        results.append(result)
        print(json.dumps(result), flush=True)
    print("\n| config | seed | conditioning | loss | steps | train s | mean class accuracy |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['config']} | {r['seed']} | {r['conditioning']} | {r['loss']} | {r['steps']} "
              f"| {r['train_seconds']} | {100 * r['mean_accuracy']:.1f}% |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
