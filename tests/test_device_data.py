"""Data drawn on the device inside the fused loop (issue 21): the batches equal the host
iterator's bit for bit, and a run does not depend on steps_per_call K nor on where it resumes.

- `BatchIterator.take_plans` + `device_batches().draw`, traced inside a `lax.scan`, give the rows
  `next()` gives (toy stream with two processes' rows; digits held in memory, across an epoch
  boundary), and leave the iterator in the same state.
- ring8 (n_critic 2: two plans per step) with K = 1, and with K = 30 stopped at step 37 and
  resumed: the same final parameters, optimizer states, every logged metric and the same data
  position.
"""
from __future__ import annotations

import io

import jax
import numpy as np
import pytest

from jaxgan import data
from jaxgan.training import logs, loop
from jaxgan.training.checkpoint import Checkpointer
from jaxgan.training.run_config import load_experiment
from jaxgan.training.workdir import CHECKPOINT_DIR


def _drawn_in_scan(iterator, num):
    """`num` batches drawn on the device from the iterator's plans, inside one lax.scan."""
    device = iterator.device_batches()
    plans = iterator.take_plans(num)
    scan = jax.jit(lambda arrays, plans: jax.lax.scan(
        lambda c, plan: (c, device.draw(arrays, plan)), 0, plans)[1])
    return jax.device_get(scan(device.arrays, plans))


def _host(iterator, num):
    batches = [next(iterator) for _ in range(num)]
    return {k: np.stack([b[k] for b in batches]) for k in batches[0]}


def _assert_same_batches(host, device):
    assert set(host) == set(device)
    for k in host:
        assert host[k].dtype == device[k].dtype and host[k].shape == device[k].shape, k
        assert host[k].tobytes() == device[k].tobytes(), k


def test_toy_batches_drawn_on_device_equal_the_host_stream(process_index=1):
    make = lambda: data.make_iterator("grid25", batch_size=100, seed=3,  # noqa: E731
                                      process_index=process_index, process_count=2)
    host_it, device_it = make(), make()
    host_it.set_state({**host_it.get_state(), "position": 5})
    device_it.set_state({**device_it.get_state(), "position": 5})
    host, device = _host(host_it, 7), _drawn_in_scan(device_it, 7)
    _assert_same_batches(host, device)
    assert host["x"].shape == (7, 50, 2)
    assert device_it.get_state() == host_it.get_state() == {"seed": 3, "epoch": 0,
                                                             "position": 12, "batch_size": 100}
    # the law: x = centre[label] + σ·ε, every point within 6σ of its own component's centre
    spec = host_it.spec
    offsets = host["x"] - spec.mode_centers[host["label"]].astype(np.float32)
    assert np.abs(offsets).max() < 6 * spec.mode_std
    other = data.make_iterator("grid25", batch_size=100, seed=4, process_index=process_index,
                               process_count=2)
    assert not np.array_equal(next(other)["x"], host["x"][0])


def test_digits_gathered_on_device_equal_the_host_batches_across_epochs():
    make = lambda: data.make_iterator("digits", batch_size=500, seed=1, resolution=8,  # noqa
                                      channels=1, process_index=0, process_count=1)
    host_it, device_it = make(), make()
    assert host_it.batches_per_epoch == 3  # 1,797 // 500: steps 3 and 4 are the next epoch
    host, device = _host(host_it, 5), _drawn_in_scan(device_it, 5)
    _assert_same_batches(host, device)
    assert device_it.get_state() == host_it.get_state()
    assert device_it.get_state()["epoch"] == 1
    assert device_it.device_batches(max_bytes=1000) is None  # too large: staged from the host


def tiny_ring8(steps: int, steps_per_call: int):
    config = load_experiment("ring8")
    config.update(dict(steps=steps, steps_per_call=steps_per_call, mlp_g_hidden=(16, 16),
                       mlp_d_hidden=(16,), batch_size=16, n_critic=2, parallel="jit",
                       log_every=1, sample_every=0, checkpoint_every=0, monitor_every=0,
                       num_samples_grid=16, lr_schedule="constant"))
    # constant: a cosine schedule spans config.steps, so the 37-step first half of a resumed run
    # would follow another schedule than the straight run
    return config


def _train(config, workdir):
    return loop.train_and_evaluate(config, workdir, handle_signals=False, stream=io.StringIO())


def _leaves_bytes(tree):
    return [np.asarray(leaf).tobytes() for leaf in jax.tree.leaves(tree)]


def _metrics(workdir):
    return [{k: v for k, v in r.items() if k != "steps_per_sec"}
            for r in logs.read_metrics(workdir / "metrics.jsonl")]


def _data_state(workdir, summary):
    checkpointer = Checkpointer(workdir / CHECKPOINT_DIR)
    try:
        abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), summary.state)
        return checkpointer.restore(abstract).data_state
    finally:
        checkpointer.close()


def test_fused_on_device_data_k1_and_k30_and_a_resume_end_bit_identical(tmp_path):
    steps = 60
    one = _train(tiny_ring8(steps, 1), tmp_path / "k1")
    # K = 30: calls [0, 30), [30, 37), stop; resumed: [37, 60), a cut the K = 1 run never makes
    _train(tiny_ring8(37, 30), tmp_path / "k30")
    fused = _train(tiny_ring8(steps, 30), tmp_path / "k30")
    assert fused.start_step == 37 and fused.step == steps
    assert _leaves_bytes(fused.state) == _leaves_bytes(one.state)
    assert _metrics(tmp_path / "k30") == _metrics(tmp_path / "k1")
    assert [r["step"] for r in _metrics(tmp_path / "k1")] == list(range(1, steps + 1))
    positions = [_data_state(tmp_path / name, one) for name in ("k1", "k30")]
    assert positions[0] == positions[1]
    assert positions[0]["position"] == 2 * steps  # n_critic 2: two batches per step
