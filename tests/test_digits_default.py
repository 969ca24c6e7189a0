"""The default digits experiment's causes of poor results, each with a test that would have caught
it: the EMA showing the initialisation in young runs, short runs without metrics or curves, and a
D that wins outright (accuracy pinned on reals and fakes) without a warning.

(The measured quality of the full default run is benchmarks/README.md's; training it takes
minutes, so it is not in the suite.)
"""
from __future__ import annotations

import io
import json

import jax
import numpy as np

from jaxgan.core.state import generate
from jaxgan.metrics import digits_classifier as dc
from jaxgan.tools.trained import load_run
from jaxgan.training import loop
from jaxgan.training.run import init_state, run_keys
from jaxgan.training.run_config import load_experiment


def digits(steps: int, experiment: str = "dcgan_digits", **overrides):
    config = load_experiment(experiment)
    config.update(dict(steps=steps, sample_every=0, checkpoint_every=0, parallel="jit"))
    config.update(overrides)
    return config


def run(config, workdir):
    stream = io.StringIO()
    summary = loop.train_and_evaluate(config, workdir, handle_signals=False, stream=stream)
    return summary, stream.getvalue()


def test_a_young_runs_ema_shows_what_g_learned_not_the_initialisation(tmp_path):
    # 300 steps of the default: without warm-up the EMA (decay 0.999) would still hold
    # 0.999^300 = 74% of the initial generator; with it, the EMA samples sit near the trained G's
    config = digits(300, monitor_every=0)
    summary, _ = run(config, tmp_path / "run")
    trained = load_run(tmp_path / "run")
    gan, state = trained.gan, summary.state
    initial = init_state(gan, run_keys(config.seed).init)
    z = gan.sample_latent(jax.random.key(3), 100)
    labels = jax.numpy.arange(100) % 10
    ema = np.asarray(generate(gan, state, z, labels))
    raw = np.asarray(generate(gan, state, z, labels, use_ema=False))
    init = np.asarray(generate(gan, initial, z, labels, use_ema=False))
    to_raw, to_init = np.abs(ema - raw).mean(), np.abs(ema - init).mean()
    assert to_raw < 0.25 * to_init, (to_raw, to_init)
    # and its samples are digits of the class asked for, by the shipped digits classifier
    predicted = dc.probabilities(ema).argmax(1)
    init_predicted = dc.probabilities(init).argmax(1)
    assert np.mean(predicted == np.asarray(labels)) > 0.5
    assert np.mean(init_predicted == np.asarray(labels)) < 0.3


def test_a_run_shorter_than_log_every_still_writes_its_metrics_and_curves(tmp_path):
    config = digits(3, log_every=50, monitor_every=0)
    run(config, tmp_path / "run")
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [r["step"] for r in records] == [3]
    assert (tmp_path / "run" / "training_curves.png").stat().st_size > 1000


def test_a_discriminator_pinned_at_100_percent_fires_convergence_failure(tmp_path):
    # The old default: DCGAN's BatchNorm D, real and fake in separate batches. D tells the batches
    # apart by their statistics and is right about ~every real and fake from the first steps.
    old = digits(150, "dcgan_digits_unconditional", d_norm="batch", d_spectral_norm=False,
                 monitor_start_step=0, monitor_window=50, monitor_check_every=10,
                 monitor_every=0)
    _, log = run(old, tmp_path / "old")
    assert "convergence failure: D accuracy pinned" in log, log[-2000:]
    # the default's D (spectral norm, no normalisation layer), at G's learning rate and without
    # R1, is not pinned: no warning. (The default's faster D, 10x G's rate, is near pinned over its
    # first ~150 steps and recovers long before the monitor's default start at step 500:
    # benchmarks/README.md, "#14 recall, session 6".)
    new = digits(150, d_lr=2e-4, penalty="none", monitor_start_step=0, monitor_window=50,
                 monitor_check_every=10, monitor_every=0)
    _, log = run(new, tmp_path / "new")
    assert "convergence failure" not in log
