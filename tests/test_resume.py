"""Exact resume through the training loop and the real Orbax checkpoints
(jaxgan.training.checkpoint).

N steps straight; N/2 steps then a second `train` to N in the same workdir; and a run stopped by a
SIGTERM part-way, then resumed to N: all three end in bit-identical parameters, optimizer states,
BatchNorm statistics and EMA parameters, identical checkpoints (with the data iterator's state)
and identical samples for the same seed. (The `jaxgan train` process exiting 0 on SIGTERM is
tests/test_cli.py::test_signal_checkpoints_and_stops.)
"""
from __future__ import annotations

import io
import os
import signal
import threading

import jax
import numpy as np
import pytest

from jaxgan.tools import trained
from jaxgan.training import logs
from jaxgan.training import loop
from jaxgan.training.checkpoint import Checkpointer
from jaxgan.training.run import abstract_state, run_keys
from jaxgan.training.run_config import load_experiment
from jaxgan.training.workdir import CHECKPOINT_DIR

N = 8


def tiny_ring8(steps: int):
    """ring8 with tiny widths; BatchNorm in G, EMA kept, 2 critic steps (2 batches per step)."""
    config = load_experiment("ring8")
    config.update(dict(steps=steps, mlp_g_hidden=(16, 16), mlp_d_hidden=(16,), latent_dim=4,
                       batch_size=16, n_critic=2, ema_decay=0.9, parallel="jit", log_every=1,
                       sample_every=0, checkpoint_every=3, num_samples_grid=16,
                       mlp_g_batch_norm=True, steps_per_call=1, lr_schedule="constant"))
    return config


def run(config, workdir, **kwargs):
    kwargs.setdefault("handle_signals", False)
    return loop.train_and_evaluate(config, workdir, stream=io.StringIO(), **kwargs)


def leaves_bytes(tree):
    return [(jax.tree_util.keystr(path), np.asarray(leaf).dtype, np.asarray(leaf).tobytes())
            for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]]


def latest_checkpoint(workdir):
    loaded = trained.load_run(workdir)
    abstract = abstract_state(loaded.gan, run_keys(loaded.config.seed).init)
    checkpointer = Checkpointer(workdir / CHECKPOINT_DIR)
    try:
        return checkpointer.restore(abstract)
    finally:
        checkpointer.close()


def samples(workdir):
    return trained.generate_samples(trained.load_run(workdir), 256, seed=11)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """N steps in one go: the final state, its checkpoint and its samples."""
    workdir = tmp_path_factory.mktemp("straight")
    summary = run(tiny_ring8(N), workdir)
    assert summary.state.ema_params is not None and summary.state.generator.batch_stats
    return summary, latest_checkpoint(workdir), samples(workdir)


def assert_same_run(workdir, summary, straight):
    straight_summary, straight_checkpoint, straight_samples = straight
    assert summary.step == N and int(summary.state.step) == N
    assert leaves_bytes(summary.state) == leaves_bytes(straight_summary.state)
    checkpoint = latest_checkpoint(workdir)
    assert checkpoint.step == straight_checkpoint.step == N
    assert leaves_bytes(checkpoint.state) == leaves_bytes(straight_checkpoint.state)
    assert checkpoint.data_state == straight_checkpoint.data_state
    assert samples(workdir).tobytes() == straight_samples.tobytes()


def test_half_then_resume_equals_the_straight_run_bit_for_bit(tmp_path, straight):
    first = run(tiny_ring8(N // 2), tmp_path)
    assert first.step == N // 2
    resumed = run(tiny_ring8(N), tmp_path)
    assert resumed.start_step == N // 2
    assert_same_run(tmp_path, resumed, straight)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="signal handlers need the main thread")
@pytest.mark.slow  # excluded from the default run (pytest -m slow); test_cli's signal test and the resume tests cover it
def test_sigterm_checkpoints_the_current_step_and_the_run_resumes_exactly(tmp_path, straight):
    sent_after = []

    def send_sigterm_once(step, metrics):
        loop.FiniteMetrics()(step, metrics)
        if step == 2 and not sent_after:
            sent_after.append(step)
            os.kill(os.getpid(), signal.SIGTERM)

    stopped = run(tiny_ring8(N), tmp_path, handle_signals=True, monitors=[send_sigterm_once])
    assert sent_after == [2] and stopped.stopped_by == "SIGTERM"
    # the step running when the signal came is finished and checkpointed, and nothing later
    assert stopped.step in (2, 3) and stopped.step < N
    checkpointer = Checkpointer(tmp_path / CHECKPOINT_DIR)
    assert checkpointer.all_steps() == [stopped.step]
    checkpointer.close()
    at_stop = latest_checkpoint(tmp_path)
    assert at_stop.step == int(at_stop.state.step) == stopped.step
    assert leaves_bytes(at_stop.state) == leaves_bytes(stopped.state)

    resumed = run(tiny_ring8(N), tmp_path)
    assert resumed.start_step == stopped.step
    assert_same_run(tmp_path, resumed, straight)


def fused(config, steps_per_call: int = 4):
    """The same run with steps fused into lax.scan calls (config.steps_per_call); with
    checkpoint_every 3 the calls are [0, 3), [3, 4), [4, 6), [6, 8): cut at checkpoints."""
    config.steps_per_call = steps_per_call
    return config


def test_chunk_ends_are_absolute_cut_at_checkpoints_samples_monitor_and_the_end():
    config = fused(tiny_ring8(N))
    config.update(dict(sample_every=5, monitor_every=0))
    schedule = loop.critic_schedule(config)
    ends, step = [], 0
    while step < N:
        step = loop.chunk_end(step, config, schedule, config.steps_per_call)
        ends.append(step)
    assert ends == [3, 4, 5, 6, 8]
    assert loop.chunk_end(1, config, schedule, 4) == 3  # a resumed run makes the same calls
    config.update(dict(n_critic_boost=5, n_critic_boost_first=2))  # WGAN boost: steps 0, 1
    assert loop.chunk_end(0, config, loop.critic_schedule(config), 4) == 2


@pytest.mark.slow  # excluded from the default run (pytest -m slow); test_device_data checks K=1 vs K=30 and a resume
def test_fused_steps_equal_one_step_per_call_bit_for_bit(tmp_path, straight):
    """steps_per_call > 1 runs the same steps on the same batches and keys in lax.scan: the
    state, checkpoint, samples and every step's logged metrics equal the per-step run's."""
    summary = run(fused(tiny_ring8(N)), tmp_path)
    assert_same_run(tmp_path, summary, straight)
    drop_rate = lambda records: [{k: v for k, v in r.items() if k != "steps_per_sec"}
                                 for r in records]
    fused_records = logs.read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in fused_records] == list(range(1, N + 1))
    assert drop_rate(fused_records) == drop_rate(
        logs.read_metrics(straight[0].workdir / "metrics.jsonl"))


@pytest.mark.slow  # excluded from the default run (pytest -m slow); test_device_data checks K=1 vs K=30 and a resume
def test_fused_half_then_resume_equals_the_straight_run_bit_for_bit(tmp_path, straight):
    assert run(fused(tiny_ring8(N // 2)), tmp_path).step == N // 2
    resumed = run(fused(tiny_ring8(N)), tmp_path)
    assert resumed.start_step == N // 2
    assert_same_run(tmp_path, resumed, straight)
