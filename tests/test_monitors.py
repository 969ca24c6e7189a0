"""Failure detection: the detectors against closed forms, and short training runs that provoke
(or avoid) convergence failure, mode collapse and divergence."""
import io
import math
import re
import shutil

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.distance import pdist

from jaxgan.config import base_config, build_gan
from jaxgan.core.losses import get_loss
from jaxgan.core.state import GANState, NetState, create_train_state, generate
from jaxgan.core.step import jit_train_step, step_key
from jaxgan.data.digits_raw import load_digits_uint8
from jaxgan.training import loop, monitors
from jaxgan.training.checkpoint import Checkpointer
from jaxgan.training.logs import read_metrics
from jaxgan.training.run import abstract_state
from jaxgan.training.run_config import load_experiment

RING8 = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], 1)
OFFSET = 3.0  # the ring's centre is moved to (3, 3), away from the untrained G's samples


def ring8(rng, n, offset=OFFSET):
    return (offset + RING8[rng.integers(0, 8, n)] + 0.01 * rng.normal(size=(n, 2))).astype(
        np.float32)


def small_gan(**overrides):
    c = base_config()
    c.update(model="mlp", latent_dim=2, mlp_g_hidden=(32, 32), mlp_d_hidden=(32, 32))
    c.update(overrides)
    return build_gan(c, (2,))


# --- the detectors --------------------------------------------------------------------------------

def test_detector_statistics_match_independent_references():
    rng = np.random.default_rng(0)
    y = rng.normal(size=30) + 0.3 * np.arange(30)
    np.testing.assert_allclose(monitors.slope(y), np.polyfit(np.arange(30), y, 1)[0], rtol=1e-10)
    x = rng.normal(size=(40, 3, 2))
    np.testing.assert_allclose(monitors.mean_pairwise_distance(x),
                               pdist(x.reshape(40, -1)).mean(), rtol=1e-10)
    # the BCE D loss's floor is the binary entropy of the real target: minimise on a grid
    logits = np.linspace(-20, 20, 400001)
    for t in (1.0, 0.9, 0.7):
        bce = t * np.logaddexp(0, -logits) + (1 - t) * np.logaddexp(0, logits)
        np.testing.assert_allclose(monitors.d_loss_floor(get_loss("non_saturating", t)),
                                   bce.min(), atol=1e-8)
    assert monitors.d_loss_floor(get_loss("hinge")) == 0.0
    assert monitors.d_loss_floor(get_loss("wasserstein")) is None


def test_convergence_failure_needs_all_three_signs():
    n = 50
    rising, flat = list(np.linspace(3, 6, n)), [3.0] * n
    low, high = [0.01] * n, [0.6] * n
    sure, unsure = [1.0] * n, [0.9] * n
    fire = lambda d, g, acc, floor=0.0: monitors.convergence_failure(d, g, acc,
                                                                      d_loss_floor=floor).fired
    assert fire(low, rising, sure)
    assert not fire(high, rising, sure)
    assert not fire(low, flat, sure)
    assert not fire(low, rising, unsure)
    # with label smoothing 0.9 the floor is H(0.9) ≈ 0.325: 0.34 is "near zero" then
    floor = monitors.d_loss_floor(get_loss("minimax", 0.9))
    assert fire([0.34] * n, rising, sure, floor) and not fire([0.34] * n, rising, sure)
    # Wasserstein: no floor, the accuracy and the G trend decide
    assert fire([-5.0] * n, rising, sure, None)
    signal = monitors.convergence_failure(low, rising, sure, d_loss_floor=0.0)
    assert signal.metrics["convergence_failure"] == 1.0
    np.testing.assert_allclose(signal.metrics["g_loss_slope"], 3 / (n - 1))


def test_convergence_failure_fires_when_d_accuracy_is_pinned_on_reals_and_fakes():
    # The default digits run before its fix: D right about 100% of reals and fakes for the whole
    # window while its loss (0.25) is far from the floor and the G loss is flat.
    n = 100
    d_loss, g_loss, sure = [0.25] * n, [2.4] * n, [1.0] * n
    pinned = monitors.convergence_failure(d_loss, g_loss, sure, d_loss_floor=0.0,
                                          d_accuracy_real=sure)
    assert pinned.fired and pinned.metrics["convergence_failure"] == 1.0
    assert "pinned" in pinned.reason and "100.0% on reals" in pinned.reason
    # without the real accuracies (or with reals often misjudged) only the loss sign remains
    assert not monitors.convergence_failure(d_loss, g_loss, sure, d_loss_floor=0.0).fired
    assert not monitors.convergence_failure(d_loss, g_loss, sure, d_loss_floor=0.0,
                                            d_accuracy_real=[0.9] * n).fired
    # a healthy D (70-80% right) fires neither sign
    assert not monitors.convergence_failure([1.1] * n, g_loss, [0.75] * n, d_loss_floor=0.0,
                                            d_accuracy_real=[0.78] * n).fired


def test_healthy_accuracy_report_and_mode_collapse_signals():
    report = monitors.d_accuracy_report([0.7, 0.8], [0.75, 0.85])
    np.testing.assert_allclose([report.metrics[k] for k in ("d_accuracy_real_avg",
                                                            "d_accuracy_fake_avg")], [0.75, 0.8])
    assert report.metrics["d_accuracy_healthy"] == 1.0  # their mean 0.775 is in [0.7, 0.8]
    assert monitors.d_accuracy_report([1.0], [0.9]).metrics["d_accuracy_healthy"] == 0.0
    assert monitors.d_accuracy_report([0.5], [0.6]).metrics["d_accuracy_healthy"] == 0.0
    real = ring8(np.random.default_rng(1), 256)
    diversity = monitors.mean_pairwise_distance(real)
    same = monitors.mode_collapse(ring8(np.random.default_rng(2), 256), diversity)
    assert not same.fired and abs(same.metrics["diversity_ratio"] - 1) < 0.1
    one_mode = monitors.mode_collapse(np.tile(real[:1], (256, 1)), diversity)
    assert one_mode.fired and one_mode.metrics["diversity_ratio"] == 0.0
    assert monitors.class_coverage(np.array([3, 3, 3, 4]), 10).fired
    covered = monitors.class_coverage(np.arange(100) % 7, 10)
    assert not covered.fired and covered.metrics["classes_covered"] == 7.0
    with pytest.raises(ValueError, match="at least 2 samples"):
        monitors.mean_pairwise_distance(real[:1])


def test_monitor_warns_once_per_episode_respects_start_step_and_stops_on_request():
    thresholds = monitors.MonitorConfig(window=4, check_every=1, start_step=6,
                                        stop_on=("convergence_failure",))
    monitor = monitors.TrainingMonitor(thresholds, get_loss("non_saturating"))
    bad = lambda s: {"d_loss": 0.001, "g_loss": float(s), "d_accuracy_real": 1.0,
                     "d_accuracy_fake": 1.0}
    reports = [monitor.observe(s, bad(s)) for s in range(1, 9)]
    assert reports[0].metrics == {}  # the window is not full yet
    assert [r.metrics.get("convergence_failure") for r in reports[3:]] == [0, 0, 1, 1, 1]
    warned = [r.warnings for r in reports]
    assert warned[5] and "WARNING step 6: convergence failure" in warned[5][0]
    assert not any(warned[6:])  # once per episode
    assert reports[5].stop.startswith("stopped at step 6 on convergence failure")
    with pytest.raises(ValueError, match="unknown sign"):
        monitors.MonitorConfig(stop_on=("divergence",))
    config = base_config()
    config.monitor_window, config.monitor_stop_on = 7, "mode_collapse"
    assert monitors.MonitorConfig.from_config(config) == monitors.MonitorConfig(
        window=7, start_step=500, stop_on=("mode_collapse",))
    # between checks the last verdict is carried, so every logged step has the sign metrics
    sparse = monitors.TrainingMonitor(monitors.MonitorConfig(window=4, check_every=3),
                                      get_loss("non_saturating"))
    reports = [sparse.observe(s, bad(s)) for s in range(1, 9)]
    assert [r.metrics.get("convergence_failure") for r in reports] == [None] * 5 + [1.0] * 3
    assert [bool(r.warnings) for r in reports] == [False] * 5 + [True, False, False]


def test_non_finite_message_names_the_first_offending_quantity():
    net = lambda: NetState(params={"Maxout_0": {"Dense_0": {"bias": np.zeros(3, np.float32),
                                                            "kernel": np.ones((2, 3))}}},
                           batch_stats={}, opt_state=())
    state = GANState(step=np.int32(0), generator=net(), discriminator=net())
    metrics = {"d_loss": 0.5, "penalty": 0.0, "d_grad_norm": float("inf"),
               "g_loss": float("nan"), "g_grad_norm": float("nan"), "finite": False}
    assert monitors.first_non_finite_metric(metrics) == "d_grad_norm"
    message = monitors.non_finite_message(12, metrics, state)
    assert message.startswith("training diverged at step 12: the first non-finite quantity is "
                              "d_grad_norm = inf (then g_loss = nan, g_grad_norm = nan); lower")
    fine = {k: 1.0 for k in monitors.COMPUTATION_ORDER} | {"finite": True}
    assert monitors.non_finite_message(3, fine, state) is None
    d_params = jax.tree.map(np.copy, state.discriminator.params)
    d_params["Maxout_0"]["Dense_0"]["bias"][2] = np.nan
    broken = state.replace(discriminator=state.discriminator.replace(params=d_params))
    message = monitors.non_finite_message(4, fine | {"finite": False}, broken)
    assert message.startswith("training diverged at step 4: the first non-finite parameter "
                              "(state at step 0) is discriminator.params['Maxout_0']['Dense_0']"
                              "['bias']; lower")
    assert "a parameter is non-finite" in monitors.non_finite_message(4, {"finite": False})


def test_digits_class_coverage_uses_the_shipped_classifier():
    images, _ = load_digits_uint8(16)
    real = images[np.random.default_rng(0).permutation(len(images))[:256]] / 127.5 - 1.0
    config = base_config()
    config.update(dataset="digits", monitor_start_step=0)
    monitor = monitors.monitor_for_run(config, get_loss("non_saturating"), real)
    assert monitor.num_classes == 10
    healthy = monitor.observe_samples(100, real)
    assert healthy.metrics["classes_covered"] == 10.0 and healthy.metrics["mode_collapse"] == 0.0
    one_digit = monitor.observe_samples(200, np.repeat(real[:1], 256, axis=0))
    assert one_digit.metrics["classes_covered"] == 1.0 and one_digit.metrics["mode_collapse"] == 1.0
    assert "samples cover 1 of 10 classes" in one_digit.warnings[0]
    config.dataset = "ring8"
    assert monitors.monitor_for_run(config, get_loss("hinge"), None).classify is None


# --- short training runs --------------------------------------------------------------------------

def train_monitored(gan, steps, window=40, sample_every=20, seed=0):
    """Trains on the offset ring-8 with a TrainingMonitor; returns (warnings, last reports)."""
    rng = np.random.default_rng(seed)
    real = ring8(np.random.default_rng(seed + 1), 256)
    monitor = monitors.TrainingMonitor(monitors.MonitorConfig(window=window), gan.loss,
                                       real_diversity=monitors.mean_pairwise_distance(real))
    step = jit_train_step(gan)
    state = create_train_state(gan, jax.random.key(seed))
    z = gan.sample_latent(jax.random.key(seed + 2), 256)
    warnings, last = [], {}
    for s in range(steps):
        state, metrics = step(state, {"x": jnp.asarray(ring8(rng, 64))},
                              step_key(jax.random.key(seed + 3), s))
        report = monitor.observe(s + 1, jax.device_get(metrics))
        if (s + 1) % sample_every == 0:
            samples = np.asarray(generate(gan, state, z))
            sample_report = monitor.observe_samples(s + 1, samples)
            report = monitors.Report({**report.metrics, **sample_report.metrics},
                                     report.warnings + sample_report.warnings)
        warnings += report.warnings
        last.update(report.metrics)
    return warnings, last, state


def test_discriminator_overpowering_generator_fires_convergence_failure():
    # the same data as the healthy run below; only D's learning rate is 10⁴ times G's
    warnings, last, _ = train_monitored(small_gan(d_lr=1e-2, g_lr=1e-6), steps=120)
    assert any("convergence failure" in w for w in warnings), warnings
    assert last["convergence_failure"] == 1.0
    assert last["d_accuracy_fake_avg"] > 0.99 and last["g_loss_slope"] > 0
    assert last["d_accuracy_healthy"] == 0.0


def test_healthy_run_fires_neither_sign_and_a_collapsed_generator_fires_mode_collapse():
    gan = small_gan(d_lr=1e-3, g_lr=1e-3)
    warnings, last, state = train_monitored(gan, steps=120)
    assert warnings == []
    assert last["convergence_failure"] == 0.0 and last["mode_collapse"] == 0.0
    # collapse the trained generator: zero its last layer's kernel, so G(z) = bias for every z
    params = jax.tree.map(lambda p: p, state.generator.params)
    last_layer = sorted(k for k in params if k.startswith("Dense_"))[-1]
    params[last_layer]["kernel"] = jnp.zeros_like(params[last_layer]["kernel"])
    collapsed = state.replace(generator=state.generator.replace(params=params))
    samples = np.asarray(generate(gan, collapsed, gan.sample_latent(jax.random.key(2), 256)))
    assert np.ptp(samples, axis=0).max() == 0.0
    real = ring8(np.random.default_rng(1), 256)
    monitor = monitors.TrainingMonitor(monitors.MonitorConfig(), gan.loss,
                                       real_diversity=monitors.mean_pairwise_distance(real))
    report = monitor.observe_samples(120, samples)
    assert report.metrics["mode_collapse"] == 1.0 and report.metrics["diversity_ratio"] == 0.0
    assert len(report.warnings) == 1 and "WARNING step 120: mode collapse" in report.warnings[0]


# --- through the training loop -------------------------------------------------------------------

def tiny_ring8(steps, **overrides):
    config = load_experiment("ring8")
    config.update(dict(steps=steps, mlp_g_hidden=(16, 16), mlp_d_hidden=(16,), batch_size=32,
                       log_every=1, sample_every=0, checkpoint_every=0, parallel="jit"))
    config.update(overrides)
    return config


def run(config, workdir, stream=None):
    return loop.train_and_evaluate(config, workdir, handle_signals=False,
                                    stream=stream or io.StringIO())


def test_divergence_stops_the_loop_naming_step_and_quantity_and_keeps_the_last_checkpoint(
        tmp_path):
    # a learning rate of 1e10 overflows D's logits at step 3 (Adam moves every weight by ~lr)
    with pytest.raises(loop.DivergenceError) as info:
        run(tiny_ring8(30, g_lr=1e10, d_lr=1e10, checkpoint_every=1), tmp_path)
    message = str(info.value)
    match = re.fullmatch(r"training diverged at step (\d+): the first non-finite quantity is "
                         r"(\w+) = (nan|inf|-inf)(.*); the last good checkpoint \(step (\d+)\) "
                         r"is kept in (.*)", message)
    assert match, message
    step, kept = int(match.group(1)), int(match.group(5))
    assert match.group(2) in monitors.COMPUTATION_ORDER and kept == step - 1 >= 1
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert records[-1]["step"] == step and isinstance(records[-1][match.group(2)], str)
    assert all(math.isfinite(r["d_loss"]) for r in records[:-1])
    with Checkpointer(tmp_path / "checkpoints") as checkpointer:
        assert checkpointer.all_steps()[-1] == kept  # nothing written at or after the bad step
        gan = build_gan(tiny_ring8(30), (2,))
        restored = checkpointer.restore(abstract_state(gan, jax.random.key(0)))
    assert int(restored.step) == kept
    assert monitors.first_non_finite_param(restored.state) is None
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(restored.state))


def test_signs_and_the_wgan_critic_boost_through_the_loop_with_exact_resume(tmp_path):
    # n(s) = 2 critic updates at s < 1 and s % 3 == 0, else 1; a diversity threshold no generator
    # can meet makes the mode-collapse sign fire at the first sample check (step 4)
    config = tiny_ring8(6, n_critic=1, n_critic_boost=2, n_critic_boost_first=1,
                        n_critic_boost_every=3, checkpoint_every=3, log_every=5, ema_decay=0.9,
                        monitor_every=4, monitor_start_step=0, monitor_window=4,
                        monitor_check_every=1, monitor_min_diversity_ratio=1e9)
    stream = io.StringIO()
    straight = run(config, tmp_path / "straight", stream)
    assert stream.getvalue().count("WARNING step 4: mode collapse: sample diversity is") == 1
    records = read_metrics(tmp_path / "straight" / "metrics.jsonl")
    # 4 although log_every is 5: a sign fired; 6: the run's last step is always logged
    assert [r["step"] for r in records] == [4, 5, 6]
    assert records[0]["mode_collapse"] == 1.0 and 0 < records[0]["diversity_ratio"] < 1e9
    for key in ("convergence_failure", "g_loss_slope", "d_accuracy_real_avg",
                "d_accuracy_fake_avg", "d_accuracy_healthy"):
        assert key in records[0] and key in records[1]
    # TensorBoard event files (protobuf records) hold the scalar's tag and the warning's text
    events = b"".join(p.read_bytes()
                      for p in (tmp_path / "straight" / "tensorboard").rglob("*tfevents*"))
    assert b"train/mode_collapse" in events and b"WARNING step 4: mode collapse" in events

    schedule = [2, 1, 1, 2, 1, 1]
    d_count = straight.state.discriminator.opt_state[0].count
    assert int(d_count) == sum(schedule) and int(straight.state.generator.opt_state[0].count) == 6
    # as if killed after the checkpoint of step 3: the resumed run must read the same real rows
    # (data iterator state + n(s) as a function of s) and end bit for bit where this one did
    shutil.copytree(tmp_path / "straight", tmp_path / "resumed")
    shutil.rmtree(tmp_path / "resumed" / "checkpoints" / "6")
    resumed = run(config, tmp_path / "resumed")
    assert resumed.start_step == 3
    assert straight.state.ema_params is not None  # the EMA is checkpointed and restored too
    chex.assert_trees_all_equal(resumed.state, straight.state)
