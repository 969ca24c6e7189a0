"""jaxgan.training.checkpoint: exact round trips, refusals, corrupt fall-back, layouts, SIGKILL
mid-save."""
from __future__ import annotations

import glob
import json
import logging
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec, SingleDeviceSharding

from checkpoint_child import abstract_state, small_config, state_at
from jaxgan.training import checkpoint as checkpoint_lib
from jaxgan.training.checkpoint import (CheckpointError, Checkpointer, CorruptCheckpointWarning,
                               NonFiniteStateError, TMP_SUFFIX)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHILD = os.path.join(REPO, "tests", "checkpoint_child.py")


@pytest.fixture(scope="module")
def config():
    return small_config()


@pytest.fixture(scope="module")
def abstract(config):
    return abstract_state(config)


def assert_bit_identical(actual, expected):
    assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(expected)
    for (path, a), b in zip(jax.tree_util.tree_flatten_with_path(actual)[0],
                            jax.tree_util.tree_leaves(expected)):
        a, b = np.asarray(a), np.asarray(b)
        assert a.dtype == b.dtype and a.shape == b.shape, jax.tree_util.keystr(path)
        assert a.tobytes() == b.tobytes(), jax.tree_util.keystr(path)


def step_dirs(directory):
    return sorted(name for name in os.listdir(directory) if name.isdigit())


def test_round_trip_is_bit_exact(tmp_path, config, abstract):
    data_state = {"epoch": 2, "position": 17, "seed": 5}
    with Checkpointer(tmp_path, max_to_keep=3) as ckpt:
        for step in (10, 20):
            ckpt.save(step, state_at(abstract, step), dict(data_state, position=step), config)
        # saving a step again (still being written) writes nothing, and `wait` waits for it
        assert not ckpt.save(20, state_at(abstract, 99), data_state, config, wait=True)
        assert ckpt.latest_step() == 20
    assert abstract.ema_params is not None  # EMA params are part of what is saved

    fresh = Checkpointer(tmp_path)
    assert fresh.all_steps() == [10, 20] and fresh.latest_step() == 20
    restored = fresh.restore(abstract, config=config)
    assert restored.step == 20
    assert_bit_identical(restored.state, state_at(abstract, 20))
    assert restored.data_state == dict(data_state, position=20)
    assert restored.config == json.loads(json.dumps(config.to_dict()))
    assert fresh.saved_config() == restored.config
    older = fresh.restore(abstract, step=10)
    assert_bit_identical(older.state, state_at(abstract, 10))
    assert older.data_state["position"] == 10
    with pytest.raises(CheckpointError, match="no complete checkpoint for step 15"):
        fresh.restore(abstract, step=15)
    with pytest.raises(CheckpointError, match="no checkpoint in"):
        Checkpointer(tmp_path / "empty").restore(abstract)


def test_async_save_keeps_its_copy_when_the_state_is_donated(tmp_path, config, abstract):
    state = state_at(abstract, 3)
    overwrite = jax.jit(lambda s: jax.tree.map(lambda x: x * 0 - 1, s), donate_argnums=0)
    with Checkpointer(tmp_path, async_save=True) as ckpt:
        ckpt.save(3, state, {}, config)
        overwrite(state)  # the next training step reuses the buffers
        assert jax.tree.leaves(state)[1].is_deleted()
    assert_bit_identical(Checkpointer(tmp_path).restore(abstract).state, state_at(abstract, 3))


@pytest.mark.parametrize("where, value", [("discriminator", np.nan), ("ema", np.inf)])
@pytest.mark.parametrize("checked_on", ["host", "device"])
def test_non_finite_state_is_never_saved(tmp_path, config, abstract, where, value, checked_on,
                                         monkeypatch):
    if checked_on == "device":  # the compiled check accelerator-resident states get
        monkeypatch.setattr(checkpoint_lib, "_on_host", lambda leaf: False)
    state = state_at(abstract, 7)
    if where == "discriminator":
        params = state.discriminator.params
        params["Dense_0"]["kernel"] = params["Dense_0"]["kernel"].at[0, 0].set(value)
        expected_path = r"discriminator\.params\['Dense_0'\]\['kernel'\]"
    else:
        ema = state.ema_params
        ema["Dense_1"]["bias"] = ema["Dense_1"]["bias"].at[1].set(value)
        expected_path = r"ema_params\['Dense_1'\]\['bias'\]"
    ckpt = Checkpointer(tmp_path)
    with pytest.raises(NonFiniteStateError, match=f"step 7: {expected_path} contains NaN or Inf"):
        ckpt.save(7, state, {}, config, wait=True)
    ckpt.close()
    assert os.listdir(tmp_path) == [] and ckpt.all_steps() == []


def _truncate_largest_array_file(step_dir):
    files = [f for f in glob.glob(os.path.join(step_dir, "state", "d", "*")) if os.path.isfile(f)]
    largest = max(files, key=os.path.getsize)
    with open(largest, "r+b") as f:
        f.truncate(os.path.getsize(largest) // 2)


def _delete_meta(step_dir):
    os.remove(os.path.join(step_dir, "meta", "metadata"))


def _garble_tree_metadata(step_dir):
    with open(os.path.join(step_dir, "state", "_METADATA"), "r+b") as f:
        f.truncate(100)


@pytest.mark.parametrize("corrupt", [_truncate_largest_array_file, _delete_meta,
                                     _garble_tree_metadata])
def test_corrupt_latest_falls_back_to_previous(tmp_path, config, abstract, corrupt, caplog):
    with Checkpointer(tmp_path, max_to_keep=3) as ckpt:
        for step in (1, 2, 3):
            ckpt.save(step, state_at(abstract, step), {"step": step}, config)
    corrupt(os.path.join(tmp_path, "3"))

    ckpt = Checkpointer(tmp_path, max_to_keep=3)
    with caplog.at_level(logging.WARNING, logger="jaxgan.training.checkpoint"), \
            pytest.warns(CorruptCheckpointWarning, match="checkpoint step 3 .* corrupt"):
        restored = ckpt.restore(abstract, config=config)
    assert restored.step == 2 and restored.data_state == {"step": 2}
    assert_bit_identical(restored.state, state_at(abstract, 2))
    assert any("step 3" in r.getMessage() and "moved it to" in r.getMessage()
               for r in caplog.records)
    # moved aside, not deleted; training can save step 3 again
    assert os.path.isdir(os.path.join(tmp_path, "corrupt", "3"))
    assert ckpt.all_steps() == [1, 2]
    ckpt.save(3, state_at(abstract, 3), {"step": 3}, config, wait=True)
    ckpt.close()
    assert_bit_identical(Checkpointer(tmp_path).restore(abstract).state, state_at(abstract, 3))


def test_no_usable_checkpoint_is_an_error(tmp_path, config, abstract):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(1, state_at(abstract, 1), {}, config)
    _truncate_largest_array_file(os.path.join(tmp_path, "1"))
    with pytest.warns(CorruptCheckpointWarning), \
            pytest.raises(CheckpointError, match=r"no usable checkpoint .* step\(s\) \[1\]"):
        Checkpointer(tmp_path).restore(abstract)


def _replicated_on_all_devices():
    return NamedSharding(Mesh(np.array(jax.devices()), ("data",)), PartitionSpec())


@pytest.mark.skipif(jax.device_count() != 8, reason="needs the 8 simulated CPU devices")
@pytest.mark.parametrize("save_on, restore_on", [("eight", "one"), ("one", "eight")])
def test_restore_onto_another_device_layout(tmp_path, config, abstract, save_on, restore_on):
    layouts = {"one": SingleDeviceSharding(jax.devices()[0]),
               "eight": _replicated_on_all_devices()}
    saved = state_at(abstract, 5, layouts[save_on])
    assert jax.tree.leaves(saved)[1].sharding == layouts[save_on]
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(5, saved, {}, config)

    target = jax.tree.map(
        lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=layouts[restore_on]), abstract)
    restored = Checkpointer(tmp_path).restore(target, config=config).state
    expected = state_at(abstract, 5)
    for leaf in jax.tree.leaves(restored):
        assert leaf.sharding == layouts[restore_on]
        assert len(leaf.addressable_shards) == (8 if restore_on == "eight" else 1)
    for leaf, want in zip(jax.tree.leaves(restored), jax.tree.leaves(expected)):
        for shard in leaf.addressable_shards:  # every replica holds the saved bits
            assert np.asarray(shard.data).tobytes() == np.asarray(want).tobytes()


def test_shape_changing_config_is_refused_with_the_keys_that_differ(tmp_path, config, abstract):
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(4, state_at(abstract, 4), {}, config)
    ckpt = Checkpointer(tmp_path)

    wider = small_config(mlp_g_hidden=(16,))
    with pytest.raises(CheckpointError) as error:
        ckpt.restore(abstract_state(wider), config=wider)
    message = str(error.value)
    assert "mlp_g_hidden=[8]" in message and "mlp_g_hidden=[16]" in message
    assert "changes the state's shapes" in message and "new --workdir" in message
    assert "\n" not in message

    no_ema = small_config(ema_decay=0.0)  # a structural change: no EMA params
    with pytest.raises(CheckpointError, match=r"ema_decay=0\.99.*ema_decay=0\.0.*ema_params"):
        ckpt.restore(abstract_state(no_ema), config=no_ema)
    with pytest.raises(CheckpointError, match="does not fit this state"):
        ckpt.restore(abstract_state(wider))  # no config given: still refused

    other_lr = small_config(g_lr=1e-3, steps=5000)  # same shapes: restores
    restored = ckpt.restore(abstract_state(other_lr), config=other_lr)
    assert_bit_identical(restored.state, state_at(abstract, 4))
    assert restored.config["g_lr"] == config.g_lr


def test_retention_keeps_the_last_k(tmp_path, config, abstract):
    with Checkpointer(tmp_path, max_to_keep=2) as ckpt:
        for step in range(1, 6):
            ckpt.save(step, state_at(abstract, step), {}, config)
    assert step_dirs(tmp_path) == ["4", "5"]
    assert Checkpointer(tmp_path).all_steps() == [4, 5]


def test_should_save_follows_the_interval(tmp_path, config, abstract):
    ckpt = Checkpointer(tmp_path, save_interval_steps=5)
    assert [s for s in range(1, 16) if ckpt.should_save(s)] == [5, 10, 15]
    ckpt.save(10, state_at(abstract, 10), {}, config, wait=True)
    assert not ckpt.should_save(5) and ckpt.should_save(15)
    ckpt.close()


# Delays after a save's temporary directory appears: in the middle of writing arrays, of
# writing JSON items and metadata, around the commit rename, and during old-step deletion.
KILL_DELAYS_S = (0.0, 0.004, 0.015, 0.04, 0.09)


def _wait_for_line(proc, prefix):
    while True:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"child exited early: {proc.stderr.read()[-2000:]}")
        if line.startswith(prefix):
            return line


def test_sigkill_during_async_save_leaves_a_complete_checkpoint(tmp_path, caplog):
    env = dict(os.environ, PYTHONPATH=REPO, JAX_NUM_CPU_DEVICES="1")
    abstract = abstract_state(small_config(mlp_g_hidden=(256, 256), mlp_d_hidden=(256, 256)))
    directories = [str(tmp_path / f"run{rep}") for rep in range(len(KILL_DELAYS_S))]
    procs = [subprocess.Popen([sys.executable, CHILD, d], env=env, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for d in directories]
    try:
        for proc in procs:  # the children start together; each waits after its first save
            _wait_for_line(proc, "ready")
        for rep, (proc, directory, delay) in enumerate(zip(procs, directories, KILL_DELAYS_S)):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            _wait_for_line(proc, f"saving {2 + rep}")
            deadline = time.monotonic() + 60
            while not any(TMP_SUFFIX in name for name in os.listdir(directory)):
                assert time.monotonic() < deadline, "no save in progress seen"
                time.sleep(0.0005)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate()
    assert all(proc.returncode == -signal.SIGKILL for proc in procs)

    left_partial = []
    for directory in directories:
        left_partial.append(any(TMP_SUFFIX in name for name in os.listdir(directory)))
        ckpt = Checkpointer(directory, max_to_keep=2)
        restored = ckpt.restore(abstract)
        assert restored.step == ckpt.latest_step() >= 1
        assert restored.data_state == {"step": restored.step}
        assert_bit_identical(restored.state, state_at(abstract, restored.step))

        # the next run saves again; the interrupted write is removed, and says so
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="jaxgan.training.checkpoint"):
            next_step = restored.step + 100
            ckpt.save(next_step, state_at(abstract, next_step), {}, {}, wait=True)
        ckpt.close()
        if left_partial[-1]:
            assert any("unfinished checkpoint write" in r.getMessage() for r in caplog.records)
        assert not any(TMP_SUFFIX in name for name in os.listdir(directory))
        assert Checkpointer(directory).latest_step() == next_step
    assert any(left_partial), "no kill landed in the middle of a save"
