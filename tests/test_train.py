"""The training loop in-process: monitors, divergence, metrics on resume, config handling.

(Exact resume through the loop is tests/test_resume.py.)
"""
from __future__ import annotations

import io
import json
import re

import numpy as np
import pytest

from jaxgan.training import logs, loop
from jaxgan.training.run import step_batch
from jaxgan.training.run_config import config_from_dict, config_to_json, load_experiment


def tiny_ring8(steps: int, **overrides):
    config = load_experiment("ring8")
    config.update(dict(steps=steps, mlp_g_hidden=(16, 16), mlp_d_hidden=(16,), batch_size=32,
                       log_every=1, sample_every=0, checkpoint_every=0, num_samples_grid=64,
                       parallel="jit", lr_schedule="constant"))  # resumes change `steps`
    config.update(overrides)
    return config


def run(config, workdir, **kwargs):
    return loop.train_and_evaluate(config, workdir, handle_signals=False, stream=io.StringIO(),
                                    **kwargs)


def test_monitor_stops_the_run_keeping_the_last_checkpoint_and_resume_rewrites_the_rest(
        tmp_path):
    """A monitor stops the run at step 5 (checkpoint 4 kept); the resumed run replaces the metrics
    the stopped run logged after step 4."""
    seen = []

    def stop_at_5(step, metrics):
        seen.append(step)
        if step == 5:
            raise loop.TrainingStopped("stopped by the test monitor at step 5")

    workdir = tmp_path / "w"
    with pytest.raises(loop.TrainingStopped) as info:
        run(tiny_ring8(10, checkpoint_every=2), workdir, monitors=[stop_at_5])
    assert seen == [1, 2, 3, 4, 5]
    assert str(info.value) == ("stopped by the test monitor at step 5; the last good checkpoint "
                               f"(step 4) is kept in {workdir / 'checkpoints'}")
    stopped = logs.read_metrics(workdir / "metrics.jsonl")
    assert [r["step"] for r in stopped] == [1, 2, 3, 4, 5]

    resumed = run(tiny_ring8(6), workdir)
    assert (resumed.start_step, resumed.step) == (4, 6)
    records = logs.read_metrics(workdir / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert records[:4] == stopped[:4]
    # The same step 5 again (exact resume), written by the resumed run.
    drop_rate = lambda r: {k: v for k, v in r.items() if k != "steps_per_sec"}
    assert drop_rate(records[4]) == drop_rate(stopped[4])


def test_diverging_run_names_the_step_and_the_quantity(tmp_path):
    """A learning rate of 1e30 overflows within two steps: the run stops at the first bad step."""
    with pytest.raises(loop.DivergenceError) as info:
        run(tiny_ring8(50, g_lr=1e30, d_lr=1e30, checkpoint_every=1), tmp_path / "w")
    message = str(info.value)
    match = re.fullmatch(r"training diverged at step (\d+): the first non-finite quantity is "
                         r"(\w+) = .*; (.*)", message)
    assert match, message
    step = int(match.group(1))
    records = [json.loads(x) for x in (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == step
    bad = sorted(k for k, v in records[-1].items() if isinstance(v, str) or v is False)
    assert bad and match.group(2) in bad
    assert match.group(3) == (f"the last good checkpoint (step {step - 1}) is kept in "
                              f"{tmp_path / 'w' / 'checkpoints'}" if step > 1 else
                              "no checkpoint was saved")


def test_finite_metrics_monitor():
    monitor = loop.FiniteMetrics()
    monitor(3, {"d_loss": 1.0, "g_loss": 2.0})
    # named in the order the step computes them: the penalty (D update) before g_loss
    with pytest.raises(loop.DivergenceError, match=r"^training diverged at step 7: the first "
                                                    r"non-finite quantity is penalty = inf \(then "
                                                    r"g_loss = nan\); lower the learning rates"):
        monitor(7, {"d_loss": 1.0, "g_loss": float("nan"), "penalty": float("inf")})


def test_saved_config_round_trips():
    config = tiny_ring8(2, loss="hinge")
    saved = json.loads(json.dumps(config_to_json(config)))  # as written to config.json
    restored = config_from_dict(saved)
    assert restored.mlp_g_hidden == (16, 16) and restored.loss == "hinge"
    assert config_to_json(restored) == saved and restored == config


def test_step_batch_stacks_n_critic_batches():
    batches = iter([{"x": np.full((2, 3), i, np.float32), "label": np.full(2, i)}
                    for i in range(3)])
    stacked = step_batch(batches, 3)
    assert stacked["x"].shape == (6, 3)
    np.testing.assert_array_equal(stacked["x"][:, 0], [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(stacked["label"], [0, 0, 1, 1, 2, 2])


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_shipped_toy_experiments_fuse_steps_into_one_call_length(name):
    """The toy experiments' budget (160,000 steps) fits minutes only with fused steps (~0.45 ms a
    step against ~1.85 ms one step per call, benchmarks/README.md); every call then has the same
    length, so it compiles once."""
    config = load_experiment(name)
    fused = config.steps_per_call
    assert fused > 1 and config.steps >= 100_000
    for every in (config.steps, config.checkpoint_every, config.sample_every,
                  config.monitor_every, config.log_every):
        assert every % fused == 0, every
