"""Fault injection, one class at a time: two writers, tampered checkpoints, a full disk.

Checkpoints here are the tiny MLP states of `checkpoint_child` (every value a known function of the
step), so "restores bit-identically" compares against a closed form. The property every tampering
test checks is the one a user relies on: a restore returns exactly what some step saved, and when
the newest step is damaged it says so and falls back to the previous one; it never returns
altered values. The CLI cases and run identity on resume are in tests/test_faults_cli.py.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

from checkpoint_child import abstract_state, small_config, state_at
from jaxgan.training import checkpoint as checkpoint_lib
from jaxgan.training.checkpoint import (CheckpointError, Checkpointer, CheckpointWriteError,
                                        CorruptCheckpointWarning)
from jaxgan.training.lock import LOCK_FILE, WorkdirLock, WorkdirLockedError, read_holder
from test_checkpoint import assert_bit_identical

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def config():
    return small_config()


@pytest.fixture(scope="module")
def abstract(config):
    return abstract_state(config)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory, config, abstract):
    """A checkpoint directory with steps 1 and 2, copied by each test that damages it."""
    directory = tmp_path_factory.mktemp("pristine")
    with Checkpointer(directory) as ckpt:
        for step in (1, 2):
            ckpt.save(step, state_at(abstract, step), {"position": step}, config)
    return directory


def _copy(pristine, tmp_path):
    target = tmp_path / "checkpoints"
    shutil.copytree(pristine, target)
    return target


def _files(step_dir):
    return sorted(os.path.relpath(os.path.join(root, name), step_dir)
                  for root, _, names in os.walk(step_dir) for name in names)


def _restore_checked(directory, abstract, config):
    """Restores `directory`; asserts the result is exactly step 2 (nothing reported) or exactly
    step 1 after a CorruptCheckpointWarning about step 2. Returns (step, warning texts)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored = Checkpointer(directory).restore(abstract, config=config)
    reports = [str(w.message) for w in caught if issubclass(w.category, CorruptCheckpointWarning)]
    assert_bit_identical(restored.state, state_at(abstract, restored.step))
    assert restored.data_state == {"position": restored.step}
    if restored.step == 1:
        assert len(reports) == 1 and "checkpoint step 2" in reports[0], reports
        assert os.path.isdir(os.path.join(directory, "corrupt", "2"))
    else:
        assert restored.step == 2 and not reports, reports
    return restored.step, reports


def _flip_middle_byte(path):
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(size // 2)
        byte = f.read(1)
        f.seek(size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))


FILE_FAULTS = {
    "flip a byte": _flip_middle_byte,
    "truncate": lambda path: os.truncate(path, os.path.getsize(path) // 2),
    "delete": os.remove,
}


@pytest.mark.parametrize("fault", sorted(FILE_FAULTS))
def test_every_damaged_file_of_the_newest_step_is_caught_or_harmless(tmp_path, pristine,
                                                                     abstract, config, fault):
    """Each file of step 2 in turn (array data, OCDBT manifests, tree metadata, shardings, the
    JSON items, Orbax's own metadata): the restore is step 2 exactly or step 1 exactly with a
    warning, never altered values. Damage to the array data and to the JSON items must be
    caught."""
    names = _files(os.path.join(pristine, "2"))
    assert len(names) >= 15
    outcome = {}
    for i, name in enumerate(names):
        directory = _copy(pristine, tmp_path / str(i))
        FILE_FAULTS[fault](os.path.join(directory, "2", name))
        outcome[name], _ = _restore_checked(directory, abstract, config)
    # the files a restore reads values from (state/ocdbt.process_0/ holds the per-process copy
    # that Orbax merged into state/d/: damage there is harmless, and restores step 2 exactly)
    must_catch = [n for n in names if n.startswith("state/d/")
                  or n in ("meta/metadata", "data/metadata", "config/metadata")]
    assert len(must_catch) >= 4 and all(outcome[n] == 1 for n in must_catch), outcome


def test_an_altered_array_value_is_caught_by_its_checksum(tmp_path, config, abstract):
    """A change the storage layer cannot see: the data file is rewritten with valid bytes
    (Orbax's own array writer, a different value) — only the SHA-256 in meta tells."""
    directory = tmp_path / "checkpoints"
    with Checkpointer(directory) as ckpt:
        ckpt.save(1, state_at(abstract, 1), {"position": 1}, config)
        ckpt.save(2, state_at(abstract, 2), {"position": 2}, config)
    # write step 2's state item again with one value changed, keeping meta from the real save
    altered = state_at(abstract, 2)
    kernel = altered.generator.params["Dense_0"]["kernel"]
    altered.generator.params["Dense_0"]["kernel"] = kernel.at[0, 0].add(1.0)
    state_dir = directory / "2" / "state"
    shutil.rmtree(state_dir)
    import orbax.checkpoint as ocp
    with ocp.StandardCheckpointer() as writer:
        writer.save(state_dir, altered)
    with pytest.warns(CorruptCheckpointWarning, match=r"checksum mismatch in generator\.params"
                                                      r"\['Dense_0'\]\['kernel'\]"):
        restored = Checkpointer(directory).restore(abstract, config=config)
    assert restored.step == 1
    assert_bit_identical(restored.state, state_at(abstract, 1))


def _save_unchecked(directory, step, state, config, monkeypatch):
    """Saves `state` although it holds NaN (as a jaxgan without the save-time check would)."""
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint_lib, "first_non_finite_leaf", lambda state: None)
        with Checkpointer(directory) as ckpt:
            ckpt.save(step, state, {"position": step}, config)


def test_nan_in_a_checkpoint_is_corrupt_for_writers_and_readers(tmp_path, config, abstract,
                                                                monkeypatch):
    directory = tmp_path / "checkpoints"
    with Checkpointer(directory) as ckpt:
        ckpt.save(1, state_at(abstract, 1), {"position": 1}, config)
    poisoned = state_at(abstract, 2)
    poisoned.ema_params["Dense_1"]["bias"] = poisoned.ema_params["Dense_1"]["bias"].at[0].set(
        jnp.nan)
    _save_unchecked(directory, 2, poisoned, config, monkeypatch)

    # a reader skips it and leaves it in place (a run may be training there)
    with pytest.warns(CorruptCheckpointWarning, match=r"ema_params\['Dense_1'\]\['bias'\] holds "
                                                      r"NaN or Inf"):
        read = Checkpointer(directory).restore(abstract, move_corrupt=False)
    assert read.step == 1 and os.path.isdir(directory / "2")
    with pytest.raises(CheckpointError, match=r"step 2 .* unusable: .*holds NaN or Inf"):
        Checkpointer(directory).restore(abstract, step=2)
    # the writer moves it aside with the reason and resumes from step 1
    with pytest.warns(CorruptCheckpointWarning, match="holds NaN or Inf.*moved it to"):
        restored = Checkpointer(directory).restore(abstract, config=config)
    assert restored.step == 1 and os.path.isdir(directory / "corrupt" / "2")
    assert_bit_identical(restored.state, state_at(abstract, 1))


def test_checkpoints_of_format_1_still_restore(tmp_path, config, abstract, monkeypatch):
    """Written before the digests: no checksums to check, the NaN/Inf check still applies."""
    monkeypatch.setattr(checkpoint_lib, "_meta_with_digest",
                        lambda meta: {k: v for k, v in meta.items() if k != "sha256"}
                        | {"format": 1})
    with Checkpointer(tmp_path) as ckpt:
        ckpt.save(3, state_at(abstract, 3), {"position": 3}, config)
    meta = json.loads((tmp_path / "3" / "meta" / "metadata").read_text())
    assert meta["format"] == 1 and "sha256" not in meta
    assert_bit_identical(Checkpointer(tmp_path).restore(abstract).state, state_at(abstract, 3))


# --- a full disk ----------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB tmpfs (skips where this process may not mount one: root in a container that
    allows it)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip()}); the injected-ENOSPC "
                    f"case covers the full disk")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _fill(directory, leave_bytes):
    """Fills the file system of `directory` up to `leave_bytes` free."""
    stat = os.statvfs(directory)
    free = stat.f_bavail * stat.f_frsize
    with open(os.path.join(directory, "filler"), "wb") as f:
        f.write(b"\0" * max(0, free - leave_bytes))


def _check_write_error(error, directory, config, abstract):
    message = str(error.value)
    assert error.value.errno == errno.ENOSPC and "\n" not in message
    assert "could not write checkpoint step 2" in message and "No space left on device" in message
    assert "checkpoint step 1 is still the latest and restorable" in message
    assert "free space" in message
    reopened = Checkpointer(directory)
    assert reopened.all_steps() == [1]
    restored = reopened.restore(abstract, config=config)
    assert restored.step == 1 and restored.data_state == {"position": 1}
    assert_bit_identical(restored.state, state_at(abstract, 1))
    # and the next save, with space again, works (the unfinished write is cleaned up)
    reopened.save(2, state_at(abstract, 2), {"position": 2}, config, wait=True)
    reopened.close()
    assert Checkpointer(directory).all_steps() == [1, 2]


def test_full_disk_during_a_save_keeps_the_previous_checkpoint(small_disk, config, abstract):
    """A real full file system (a 1 MiB tmpfs filled up to 8 KiB): the ENOSPC of TensorStore's
    background writes is one CheckpointWriteError naming the step and the kept checkpoint, which
    restores exactly."""
    directory = small_disk / "checkpoints"
    with Checkpointer(directory) as ckpt:
        ckpt.save(1, state_at(abstract, 1), {"position": 1}, config, wait=True)
        _fill(small_disk, 8192)
        with pytest.raises(CheckpointWriteError) as error:
            ckpt.save(2, state_at(abstract, 2), {"position": 2}, config, wait=True)
    os.remove(small_disk / "filler")
    _check_write_error(error, directory, config, abstract)


def test_injected_enospc_during_a_save_keeps_the_previous_checkpoint(tmp_path, config, abstract,
                                                                     monkeypatch):
    """The same with ENOSPC injected into the Python file layer (etils.epath) that Orbax writes
    its JSON items and metadata with: for machines that cannot mount a tmpfs."""
    from etils import epath

    directory = tmp_path / "checkpoints"
    with Checkpointer(directory) as ckpt:
        ckpt.save(1, state_at(abstract, 1), {"position": 1}, config, wait=True)

    def no_space(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(self))

    with monkeypatch.context() as patch:
        patch.setattr(epath.Path, "write_text", no_space)
        patch.setattr(epath.Path, "write_bytes", no_space)
        ckpt = Checkpointer(directory)
        with pytest.raises(CheckpointWriteError) as error:
            ckpt.save(2, state_at(abstract, 2), {"position": 2}, config, wait=True)
        with pytest.raises(CheckpointWriteError):
            ckpt.close()
    _check_write_error(error, directory, config, abstract)


# --- two writers ----------------------------------------------------------------------------------

def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    with WorkdirLock(tmp_path, process_index=0, process_count=2):
        holder = read_holder(tmp_path)
        assert holder["pid"] == os.getpid() and holder["host"] == socket.gethostname()
        assert holder["process_count"] == 2
        with pytest.raises(WorkdirLockedError) as error:  # a second open file description
            WorkdirLock(tmp_path).acquire()
        message = str(error.value)
        assert f"pid {os.getpid()} on host {socket.gethostname()}, process 0 of 2, since " \
               f"{holder['started']}" in message
        assert f"kill -TERM {os.getpid()}" in message and "another --workdir" in message
    WorkdirLock(tmp_path).acquire().release()  # released: free again


LOCK_CHILD = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("lock", sys.argv[1])
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)
lock.WorkdirLock(sys.argv[2]).acquire()
print("locked", flush=True)
time.sleep(600)
"""


def test_a_killed_writer_leaves_no_stale_lock(tmp_path):
    """Another process holds the lock (it is the kernel's, not a file's existence); SIGKILL frees
    it at once, and the lock file still says who held it last."""
    child = subprocess.Popen([sys.executable, "-c", LOCK_CHILD,
                              os.path.join(REPO, "jaxgan", "training", "lock.py"), str(tmp_path)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(WorkdirLockedError, match=f"pid {child.pid} on host"):
            WorkdirLock(tmp_path).acquire()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert read_holder(tmp_path)["pid"] == child.pid and (tmp_path / LOCK_FILE).exists()
    lock = WorkdirLock(tmp_path).acquire()
    assert read_holder(tmp_path)["pid"] == os.getpid()
    lock.release()


# --- run identity and non-finite samples (no training) ------------------------------------------

def test_which_config_changes_a_resume_accepts(tmp_path):
    from jaxgan.config import base_config
    from jaxgan.training.identity import RunIdentityError, check_resume
    from jaxgan.training.run_config import config_to_json

    saved = config_to_json(base_config())
    old_jaxgan = {k: v for k, v in saved.items() if k != "ema_warmup"}  # a key added later
    assert check_resume(tmp_path, old_jaxgan, saved, step=10) == []  # its default: no change
    observe = dict(saved, steps=4000, log_every=7, monitor_window=50, parallel="jit")
    assert check_resume(tmp_path, saved, observe, step=10) == [
        "resuming with log_every: 50 -> 7, monitor_window: 100 -> 50, parallel: 'auto' -> 'jit', "
        "steps: 2000 -> 4000"]
    other = dict(saved, loss="hinge", g_lr=1e-3, steps=4000)
    with pytest.raises(RunIdentityError) as error:
        check_resume(tmp_path, saved, other, step=10)
    assert "g_lr: 0.0002 -> 0.001, loss: 'non_saturating' -> 'hinge'" in str(error.value)
    assert "steps" not in str(error.value) and not (tmp_path / "config_changes.jsonl").exists()
    lines = check_resume(tmp_path, saved, other, step=10, allow_change=True)
    assert lines[0] == "resuming with steps: 2000 -> 4000" and "--allow_config_change" in lines[1]
    record = json.loads((tmp_path / "config_changes.jsonl").read_text())
    assert record["step"] == 10 and record["changes"] == {"g_lr": [0.0002, 0.001],
                                                          "loss": ["non_saturating", "hinge"]}


def test_non_finite_samples_are_refused(tmp_path):
    from types import SimpleNamespace

    from jaxgan.tools.trained import check_finite_samples

    run = SimpleNamespace(step=7, workdir=tmp_path)
    samples = np.zeros((4, 3, 3, 1), np.float32)
    check_finite_samples(run, samples)
    samples[1, 0, 0, 0], samples[3, 2, 1, 0] = np.nan, np.inf
    with pytest.raises(ValueError, match=r"checkpoint step 7 .* produces NaN/Inf in 2 of 4 "
                                         r"samples; nothing was written"):
        check_finite_samples(run, samples)
