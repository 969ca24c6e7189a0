"""The training loop in-process: exact resume, monitors, divergence, outputs, config handling."""
from __future__ import annotations

import io
import json
import re

import jax
import numpy as np
import pytest

from jaxgan import train
from jaxgan.run_config import config_from_dict, config_to_json, load_experiment


def tiny_ring8(steps: int, **overrides):
    config = load_experiment("ring8")
    config.update(dict(steps=steps, mlp_g_hidden=(16, 16), mlp_d_hidden=(16,), batch_size=32,
                       log_every=1, sample_every=0, checkpoint_every=0, num_samples_grid=64,
                       parallel="jit"))
    config.update(overrides)
    return config


def run(config, workdir, **kwargs):
    return train.train_and_evaluate(config, workdir, handle_signals=False, stream=io.StringIO(),
                                    **kwargs)


def test_resume_is_exact(tmp_path):
    """6 steps in one go == 3 steps, stop, resume to 6: same parameters, same logged metrics."""
    straight = run(tiny_ring8(6), tmp_path / "a")
    run(tiny_ring8(3), tmp_path / "b")
    stream = io.StringIO()
    resumed = train.train_and_evaluate(tiny_ring8(6), tmp_path / "b", handle_signals=False,
                                       stream=stream)
    assert stream.getvalue().splitlines()[0] == "resuming from step 3"
    assert resumed.start_step == 3 and resumed.step == 6 and int(resumed.state.step) == 6
    for a, b in zip(jax.tree.leaves(straight.state), jax.tree.leaves(resumed.state)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    lines_a = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    lines_b = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    drop = lambda line: {k: v for k, v in json.loads(line).items() if k != "steps_per_sec"}
    assert [drop(x) for x in lines_a] == [drop(x) for x in lines_b]
    assert [json.loads(x)["step"] for x in lines_b] == [1, 2, 3, 4, 5, 6]


def test_metrics_after_the_checkpoint_are_dropped_on_resume(tmp_path):
    """Records an interrupted run wrote after its last checkpoint do not survive a resume."""
    workdir = tmp_path / "w"
    run(tiny_ring8(2), workdir)
    with (workdir / "metrics.jsonl").open("a") as f:  # as if it crashed after logging step 3
        f.write(json.dumps({"step": 3, "d_loss": 123.0}) + "\n")
    run(tiny_ring8(4), workdir)
    records = [json.loads(x) for x in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4] and records[2]["d_loss"] != 123.0


def test_monitor_stops_the_run_and_keeps_the_last_checkpoint(tmp_path):
    seen = []

    def stop_at_5(step, metrics):
        seen.append(step)
        if step == 5:
            raise train.TrainingStopped("stopped by the test monitor at step 5")

    with pytest.raises(train.TrainingStopped) as info:
        run(tiny_ring8(10, checkpoint_every=2), tmp_path / "w", monitors=[stop_at_5])
    assert seen == [1, 2, 3, 4, 5]
    assert str(info.value) == ("stopped by the test monitor at step 5; the last good checkpoint "
                               f"(step 4) is kept in {tmp_path / 'w' / 'checkpoints'}")


def test_diverging_run_names_the_step_and_the_quantity(tmp_path):
    """A learning rate of 1e30 overflows within two steps: the run stops at the first bad step."""
    with pytest.raises(train.DivergenceError) as info:
        run(tiny_ring8(50, g_lr=1e30, d_lr=1e30, checkpoint_every=1), tmp_path / "w")
    message = str(info.value)
    match = re.fullmatch(r"training diverged at step (\d+): (.*) not finite .*; (.*)", message)
    assert match, message
    step = int(match.group(1))
    records = [json.loads(x) for x in (tmp_path / "w" / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == step
    bad = sorted(k for k, v in records[-1].items() if isinstance(v, str) or v is False)
    assert bad and match.group(2).split(" ")[0].rstrip(",") in bad
    assert match.group(3) == (f"the last good checkpoint (step {step - 1}) is kept in "
                              f"{tmp_path / 'w' / 'checkpoints'}" if step > 1 else
                              "no checkpoint was saved")


def test_finite_metrics_monitor():
    monitor = train.FiniteMetrics()
    monitor(3, {"d_loss": 1.0, "g_loss": 2.0})
    with pytest.raises(train.DivergenceError, match=r"^training diverged at step 7: g_loss, "
                                                    r"penalty are not finite \(g_loss=nan, "
                                                    r"penalty=inf\)$"):
        monitor(7, {"d_loss": 1.0, "g_loss": float("nan"), "penalty": float("inf")})


def test_saved_config_round_trips(tmp_path):
    config = tiny_ring8(2, loss="hinge")
    run(config, tmp_path / "w")
    saved = json.loads((tmp_path / "w" / "config.json").read_text())
    assert saved == config_to_json(config)
    restored = config_from_dict(saved)
    assert restored.mlp_g_hidden == (16, 16) and restored.loss == "hinge"
    assert config_to_json(restored) == saved


def test_step_batch_stacks_n_critic_batches():
    batches = iter([{"x": np.full((2, 3), i, np.float32), "label": np.full(2, i)} for i in range(3)])
    stacked = train.step_batch(batches, 3)
    assert stacked["x"].shape == (6, 3)
    np.testing.assert_array_equal(stacked["x"][:, 0], [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(stacked["label"], [0, 0, 1, 1, 2, 2])
