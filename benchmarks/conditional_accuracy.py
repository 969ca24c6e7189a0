"""Class accuracy of conditional digits GANs: are samples asked to be a K classified as a K?

For each experiment config (default: the three conditional digits configs), trains with the config's
budget (config.steps generator steps, batch config.batch_size), then draws `--per_class` samples of
every class and classifies them. Reported: per-class accuracy, their mean, the wall time of training
(jaxgan.training.loop.train_and_evaluate, as `jaxgan train` runs it: compile, data, logs,
checkpoints).

The classifier is the project's digits classifier (`jaxgan.metrics.digits_classifier`, shipped
weights); its accuracy on its own held-out real digits at the same resolution is reported too.

    PYTHONPATH=. python benchmarks/conditional_accuracy.py [--config experiments/acgan_digits.py ...]
        [--seeds 0,1,2] [--set d_norm=batch] [--per_class 100] [--json out.json]
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile

import jax
import numpy as np

from jaxgan.tools import evaluate, trained
from jaxgan.training.loop import train_and_evaluate
from jaxgan.training.run_config import apply_assignments, load_experiment

DEFAULT_CONFIGS = ("experiments/cgan_digits.py", "experiments/acgan_digits.py",
                   "experiments/projection_digits.py")


def reference_classifier(resolution: int) -> tuple[float, str]:
    """(accuracy on its held-out real digits at `resolution`, name) of the project's digits
    classifier (jaxgan.metrics.digits_classifier) with its shipped weights."""
    from jaxgan.data.digits_raw import load_digits_uint8
    from jaxgan.metrics.digits_classifier import held_out_split, load_classifier

    classifier = load_classifier()
    images, labels = load_digits_uint8(resolution)
    _, held_out = held_out_split(len(images))
    real = images[held_out].astype(np.float32) / 127.5 - 1.0
    predicted = np.argmax(classifier.probabilities(real), -1)
    accuracy = float(np.mean(predicted == labels[held_out]))
    return accuracy, f"jaxgan.metrics.digits_classifier (sha256 {classifier.sha256[:12]})"


def train_and_score(config, per_class: int) -> tuple[np.ndarray, float, dict]:
    """Trains as `jaxgan train` does (jaxgan.training.loop.train_and_evaluate) in a temporary
    workdir, then scores `per_class` samples of every class as `jaxgan eval` does
    (jaxgan.tools.evaluate.class_accuracy: sample i asks for class i mod K). Returns (per-class
    accuracy, training seconds, last metrics)."""
    with tempfile.TemporaryDirectory() as workdir:
        # handle_signals=False: a SIGTERM ends the benchmark instead of cutting one run short
        summary = train_and_evaluate(config, workdir, stream=io.StringIO(), handle_signals=False)
        if summary.step != config.steps:
            raise RuntimeError(f"trained {summary.step} steps, not {config.steps}")
        run = trained.load_run(workdir)
        samples = trained.generate_samples(run, per_class * run.gan.num_classes, config.seed)
        scores = evaluate.class_accuracy(run, samples)
    return np.asarray(scores["class_accuracy_per_class"]), summary.seconds, summary.metrics


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
    classifiers = {}  # resolution -> (held-out accuracy, name)
    runs = [(path, seed) for path in (args.config or DEFAULT_CONFIGS)
            for seed in ([None] if args.seeds is None else map(int, args.seeds.split(",")))]
    for path, seed in runs:
        config = apply_assignments(load_experiment(path), args.set)
        if seed is not None:
            config.seed = seed
        if config.resolution not in classifiers:
            classifiers[config.resolution] = reference_classifier(config.resolution)
        held_out, description = classifiers[config.resolution]
        accuracy, seconds, last = train_and_score(config, args.per_class)
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
