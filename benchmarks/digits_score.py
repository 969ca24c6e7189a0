"""Scores a trained digits run as issue #14 measures it.

    python benchmarks/digits_score.py RUN_DIR [--eval]

1,000 samples (z from key 0, as `jaxgan sample --num 1000 --seed 0`): the share to which the
shipped digits classifier gives probability >= 0.9, with and without the EMA, and the smallest and
largest class share; with --eval also `jaxgan eval`'s metrics (classifier-FID, KID, IS, PRDC).
--probe_d adds the batch-statistics probe of benchmarks/README.md ("Digits: why the default fell
short"): D's accuracy on 64 reals and 64 fakes in separate calls (as the step calls it), in one
joint call and in eval mode.
"""
from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.core import class_samples
from jaxgan.data.digits_raw import load_digits_uint8
from jaxgan.metrics import digits_classifier as dc
from jaxgan.tools.evaluate import evaluate_run
from jaxgan.tools.trained import generate_samples, load_run


def confident_share(images: np.ndarray) -> tuple[float, np.ndarray]:
    probs = dc.probabilities(images)
    shares = np.bincount(probs.argmax(1), minlength=dc.NUM_CLASSES) / len(images)
    return float((probs.max(1) >= 0.9).mean()), shares


def probe_d(run) -> dict[str, list[float]]:
    gan, state = run.gan, run.state
    real_u8, real_labels = load_digits_uint8(run.config.resolution)
    real = jnp.asarray(real_u8[:64].astype(np.float32) / 127.5 - 1)
    labels = jnp.asarray(real_labels[:64]) if gan.num_classes else None
    z = gan.sample_latent(jax.random.key(1), 64)
    fake = gan.generator.apply(state.generator.variables(), z, labels, train=True,
                               mutable=["batch_stats"])[0]
    variables = state.discriminator.variables()

    def logits(x, x_labels, train=True):
        out = gan.discriminator.apply(variables, x, x_labels, train=train,
                                      mutable=["batch_stats"] if train else False)
        out = out[0] if train else out
        return out[0] if isinstance(out, tuple) else out

    accuracy = lambda r, f: [float((r > 0).mean()), float((f <= 0).mean())]
    twice = None if labels is None else jnp.concatenate([labels, labels])
    joint = logits(jnp.concatenate([real, fake]), twice)
    return {"separate": accuracy(logits(real, labels), logits(fake, labels)),
            "joint": accuracy(joint[:64], joint[64:]),
            "eval_mode": accuracy(logits(real, labels, False), logits(fake, labels, False))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir")
    parser.add_argument("--eval", action="store_true", help="also jaxgan eval's metrics")
    parser.add_argument("--probe_d", action="store_true", help="D accuracy: separate/joint calls")
    args = parser.parse_args()
    run = load_run(args.workdir)
    labels = class_samples.balanced_labels(run.gan, 1000)
    ema, shares = confident_share(generate_samples(run, 1000, 0, labels=labels))
    raw, _ = confident_share(generate_samples(run, 1000, 0, use_ema=False, labels=labels))
    result = {"step": run.step, "confident_share": ema, "confident_share_no_ema": raw,
              "class_share_min": float(shares.min()), "class_share_max": float(shares.max())}
    if args.probe_d:
        result["d_accuracy_real_fake"] = probe_d(run)
    if args.eval:
        result.update({k: v for k, v in evaluate_run(run).items()
                       if isinstance(v, (int, float))})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
