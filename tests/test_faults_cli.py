"""Fault injection through the `jaxgan` command: each expected failure is one line and an exit
status, nothing is lost, and a workdir keeps the identity of the run that made it.

The runs are the ring8 MLP at tiny widths for 4 steps, called in-process through `cli.main` on one
device (parallel=jit). Every case compares against the workdir as it was: checkpoints still there
and restoring bit-identically, the config untouched.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
import time

import numpy as np
import pytest

from jaxgan import cli
from jaxgan.training.checkpoint import Checkpointer
from jaxgan.training.lock import WorkdirLock
from test_checkpoint import assert_bit_identical

TINY = ["--config.mlp_g_hidden=8", "--config.mlp_d_hidden=8", "--config.batch_size=16",
        "--config.log_every=2", "--config.sample_every=0", "--config.checkpoint_every=2",
        "--config.monitor_every=0", "--config.steps_per_call=1", "--config.parallel=jit",
        "--config.num_samples_grid=16"]


def run_main(argv) -> int:
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exit_info:
        return exit_info.code


def error_lines(capsys) -> list[str]:
    """The non-empty stderr lines of the last command (stdout is dropped)."""
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def assert_one_error_line(capsys, command: str, *fragments: str) -> str:
    lines = error_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"jaxgan {command}: error: "), lines
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def restored(workdir, step=None):
    """The checkpoint state of `workdir` (a reader: nothing moved)."""
    from jaxgan.tools import trained

    return trained.load_run(workdir, step=step)


@pytest.fixture(scope="module")
def ring8(tmp_path_factory):
    """A finished 4-step ring8 run (checkpoints 2 and 4), copied by each test that changes it."""
    workdir = tmp_path_factory.mktemp("ring8") / "run"
    assert run_main(["train", "--config", "ring8", "--workdir", workdir, "--config.steps=4",
                     *TINY]) == 0
    assert Checkpointer(workdir / "checkpoints").all_steps() == [2, 4]
    return workdir


@pytest.fixture
def workdir(ring8, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(ring8, target)
    return target


def test_a_second_writer_exits_2_while_readers_work(workdir, tmp_path, capsys):
    before = restored(workdir).state
    capsys.readouterr()
    with WorkdirLock(workdir):  # a `jaxgan train` holds it
        assert run_main(["train", "--workdir", workdir, "--config.steps=6"]) == 2
        assert_one_error_line(capsys, "train", f"workdir {workdir} is in use by another `jaxgan "
                              f"train` (pid {os.getpid()} on host {socket.gethostname()}",
                              f"kill -TERM {os.getpid()}")
        assert run_main(["sample", "--workdir", workdir, "--num", 5,
                         "--out", tmp_path / "s.npy"]) == 0
        assert np.load(tmp_path / "s.npy").shape == (5, 2)
    assert Checkpointer(workdir / "checkpoints").all_steps() == [2, 4]
    assert_bit_identical(restored(workdir).state, before)


def test_another_experiment_on_resume_is_refused_unless_allowed(workdir, capsys):
    saved = (workdir / "config.json").read_text()
    capsys.readouterr()
    assert run_main(["train", "--config", "grid25", "--workdir", workdir, "--config.steps=6",
                     *TINY]) == 2
    assert_one_error_line(capsys, "train", f"workdir {workdir} holds a run trained with another "
                          "config (checkpoint step 4): dataset: 'ring8' -> 'grid25'",
                          "point_scale: 1.0 -> 4.0", "--allow_config_change")
    assert (workdir / "config.json").read_text() == saved
    assert Checkpointer(workdir / "checkpoints").all_steps() == [2, 4]
    assert not (workdir / "config_changes.jsonl").exists()

    # extending a run (steps) is allowed and said; a loss change needs the flag, and is recorded
    assert run_main(["train", "--workdir", workdir, "--config.steps=6", "--config.loss=hinge",
                     "--allow_config_change"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "resuming with steps: 4 -> 6" in out
    assert any(line.startswith("config changed by --allow_config_change at step 4: loss: "
                               "'non_saturating' -> 'hinge'") for line in out), out
    record = json.loads((workdir / "config_changes.jsonl").read_text())
    assert record["step"] == 4 and record["changes"] == {"loss": ["non_saturating", "hinge"]}
    assert Checkpointer(workdir / "checkpoints").all_steps()[-1] == 6


@pytest.mark.slow  # excluded from the default run (pytest -m slow); test_seed_runs resumes every seed
def test_multi_seed_workdir_resumes_every_seed_and_keeps_its_seeds(tmp_path, capsys):
    workdir = tmp_path / "seeds"
    assert run_main(["train", "--config", "ring8", "--workdir", workdir, "--config.steps=2",
                     "--config.num_seeds=2", *TINY]) == 0
    capsys.readouterr()
    assert run_main(["train", "--workdir", workdir, "--config.steps=4"]) == 0
    out = capsys.readouterr().out
    assert f"using the config saved in {workdir / 'config.json'}" in out
    assert "resuming from step 2" in out
    for seed in (0, 1):
        assert Checkpointer(workdir / f"seed_{seed}" / "checkpoints").all_steps() == [2, 4]
    assert not (workdir / "checkpoints").exists()  # no stray single run in the parent

    assert run_main(["train", "--workdir", workdir, "--config.num_seeds=3"]) == 2
    line = assert_one_error_line(capsys, "train", "holds seeds [0, 1]", "seeds [0, 1, 2]",
                                 "--config.num_seeds=2")
    assert "delete" not in line
    assert run_main(["train", "--config", "ring8", "--workdir", workdir, *TINY]) == 2
    assert_one_error_line(capsys, "train", "holds a multi-seed run (seeds [0, 1])")
    assert run_main(["sample", "--workdir", workdir, "--out", tmp_path / "s.npy"]) == 2
    assert_one_error_line(capsys, "sample", "is a multi-seed run",
                          f"--workdir {workdir / 'seed_0'}")
    # eval works per seed and summarises: the summary is the mean/std of the seeds' own numbers
    assert run_main(["eval", "--workdir", workdir, "--num", 200]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == json.loads((workdir / "eval.json").read_text())
    per_seed = [json.loads((workdir / f"seed_{k}" / "eval.json").read_text()) for k in (0, 1)]
    assert printed["seeds"] == {"seed_0": per_seed[0], "seed_1": per_seed[1]}
    assert all(r["step"] == 4 and r["num_samples"] == 200 for r in per_seed)
    values = [r["high_quality_fraction"] for r in per_seed]
    assert printed["summary"]["high_quality_fraction"] == pytest.approx(
        {"mean": np.mean(values), "std": np.std(values, ddof=1), "min": min(values),
         "max": max(values)})
    assert "step" not in printed["summary"] and "mode_histogram" not in printed["summary"]


def test_full_disk_during_training_is_one_line_and_keeps_the_checkpoint(workdir, tmp_path,
                                                                        capsys):
    """A real full file system (a tmpfs filled up to 16 KiB) under the workdir."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}); "
                    f"tests/test_faults.py injects ENOSPC instead")
    try:
        run = disk / "run"
        shutil.copytree(workdir, run)
        before = restored(run).state
        stat = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 16384))
        capsys.readouterr()
        assert run_main(["train", "--workdir", run, "--config.steps=6"]) == 1
        assert_one_error_line(capsys, "train", f"could not write checkpoint step 6 to "
                              f"{run / 'checkpoints'} (No space left on device); checkpoint step "
                              f"4 is still the latest and restorable: free space")
        (disk / "filler").unlink()
        assert Checkpointer(run / "checkpoints").all_steps() == [2, 4]
        again = restored(run)
        assert again.step == 4
        assert_bit_identical(again.state, before)
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_damaged_checkpoints_through_the_readers(workdir, tmp_path, capsys, monkeypatch):
    """A deleted array file: `sample` falls back to step 2 with a few lines, not thousands; a NaN
    checkpoint is never sampled; --step of a bad step is one line."""
    from jaxgan.training import checkpoint as checkpoint_lib

    step2 = restored(workdir, step=2).state
    data_files = list((workdir / "checkpoints" / "4" / "state" / "d").iterdir())
    for path in data_files:
        path.unlink()
    capsys.readouterr()
    assert run_main(["sample", "--workdir", workdir, "--num", 5, "--out", tmp_path / "a.npy"]) == 0
    assert len(error_lines(capsys)) <= 4
    assert (workdir / "checkpoints" / "4").is_dir()  # a reader moves nothing
    assert run_main(["sample", "--workdir", workdir, "--step", 4, "--out", tmp_path / "b.npy"]) == 2
    assert_one_error_line(capsys, "sample", "checkpoint step 4", "is unusable")

    # a NaN state saved as a jaxgan without the save-time check would have (step 6)
    import jax

    poisoned = restored(workdir, step=2)
    leaves, treedef = jax.tree_util.tree_flatten(poisoned.state)
    first = next(i for i, leaf in enumerate(leaves) if leaf.dtype == np.float32 and leaf.size)
    leaves[first] = leaves[first].at[(0,) * leaves[first].ndim].set(np.nan)
    with monkeypatch.context() as patch:
        patch.setattr(checkpoint_lib, "first_non_finite_leaf", lambda state: None)
        with Checkpointer(workdir / "checkpoints") as ckpt:
            ckpt.save(6, jax.tree_util.tree_unflatten(treedef, leaves), {},
                      poisoned.config.to_dict())
    for command in (["sample", "--out", tmp_path / "c.npy"],
                    ["interpolate", "--out", tmp_path / "c.png"]):
        assert run_main([command[0], "--workdir", workdir, "--step", 6, *command[1:]]) == 2
        assert_one_error_line(capsys, command[0], "checkpoint step 6", "holds NaN or Inf")
    assert not (tmp_path / "c.npy").exists() and not (tmp_path / "c.png").exists()
    assert run_main(["sample", "--workdir", workdir, "--num", 5, "--out", tmp_path / "d.npy"]) == 0
    assert "wrote 5 samples of step 2" in capsys.readouterr().out
    assert np.isfinite(np.load(tmp_path / "d.npy")).all()
    assert_bit_identical(restored(workdir).state, step2)


def test_damaged_or_missing_config_json_falls_back_to_the_checkpoint(workdir, tmp_path, capsys,
                                                                    caplog):
    config_file = workdir / "config.json"
    saved = json.loads(config_file.read_text())
    for damage in ("truncate", "delete"):
        if damage == "truncate":
            config_file.write_text(config_file.read_text()[:40])
        else:
            config_file.unlink()
        config, notes = cli.resolve_train_config(None, str(workdir), [("steps", "6")])
        assert config.dataset == "ring8" and config.mlp_g_hidden == (8,) and config.steps == 6
        why = "is damaged (JSONDecodeError" if damage == "truncate" else "is missing"
        assert len(notes) == 1 and notes[0].startswith(f"{config_file} {why}")
        assert notes[0].endswith("using the config saved with the latest checkpoint")
        assert len(notes[0]) < 300
    caplog.clear()
    assert run_main(["sample", "--workdir", workdir, "--num", 3, "--out", tmp_path / "s.npy"]) == 0
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        f"{config_file} is missing; using the config saved with the latest checkpoint"]
    # training again rewrites config.json
    assert run_main(["train", "--workdir", workdir, "--config.steps=6"]) == 0
    assert json.loads(config_file.read_text()) == {**saved, "steps": 6}


BROKEN_EXPERIMENT = """
def get_config():
    raise KeyError("no_such_key")
"""


def _prepared_digits(tmp_path):
    from jaxgan import data

    data_dir = tmp_path / "tfds"
    data.make_iterator("digits", batch_size=4, seed=0, resolution=8, data_dir=str(data_dir))
    return data_dir


def test_bad_input_is_one_line_with_the_path(workdir, tmp_path, capsys):
    cases = []
    broken = tmp_path / "broken.py"
    broken.write_text(BROKEN_EXPERIMENT)
    cases.append((["train", "--config", broken, "--workdir", tmp_path / "w1"], 2,
                  [f"get_config() of experiment config '{broken}' raised KeyError", "fix that"]))
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    cases.append((["train", "--workdir", tmp_path / "w2", f"--config.data_dir={a_file}",
                   "--config.resolution=8"], 2,
                  [f"data_dir {a_file} is a file, not a directory"]))
    cases.append((["train", "--config", "ring8", "--workdir", tmp_path / "w3",
                   "--config.model=dcgan"], 2, ["model 'dcgan' makes images", "(2,)",
                                                "use --config.model=mlp"]))
    (tmp_path / "outdir").mkdir()
    cases.append((["sample", "--workdir", workdir, "--out", tmp_path / "outdir"], 2,
                  [f"--out '{tmp_path / 'outdir'}' is a directory: name a file in it"]))
    cases.append((["interpolate", "--workdir", workdir, "--out", tmp_path / "i.png",
                   "--rows", "0"], 2, ["--rows must be >= 1, got 0"]))
    for argv, status, fragments in cases:
        capsys.readouterr()
        assert run_main(argv) == status, argv
        assert_one_error_line(capsys, argv[0], *fragments)
    assert not (tmp_path / "i.png").exists()
    assert not any((tmp_path / w).exists() for w in ("w1", "w3"))


def test_a_truncated_data_file_and_a_read_only_data_dir(tmp_path, capsys):
    capsys.readouterr()
    data_dir = _prepared_digits(tmp_path)
    first_use = capsys.readouterr()  # one line, and no TFDS "Downloading ..." for embedded data
    assert first_use.out.splitlines() == [f"preparing the embedded digits at 8x8 (1,797 images "
                                          f"from scikit-learn, no download) in "
                                          f"{data_dir / 'sklearn_digits' / '8x8' / '1.0.0'}"]
    assert "Downloading" not in first_use.err and "Generating" not in first_use.err
    (record,) = data_dir.glob("sklearn_digits/8x8/*/*.array_record-*")
    os.truncate(record, os.path.getsize(record) // 2)
    capsys.readouterr()
    assert run_main(["train", "--workdir", tmp_path / "w", f"--config.data_dir={data_dir}",
                     "--config.resolution=8"]) == 2
    assert_one_error_line(capsys, "train", "the prepared files of data set 'digits' in "
                          f"{record.parent} cannot be read", "prepare it again")

    read_only = tmp_path / "ro"
    read_only.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs",
                              str(read_only)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here ({mounted.stderr.strip()})")
    try:
        assert run_main(["train", "--workdir", tmp_path / "w", f"--config.data_dir={read_only}",
                         "--config.resolution=8"]) == 2
        assert_one_error_line(capsys, "train", f"cannot prepare the embedded digits in "
                              f"{read_only}", "Read-only file system",
                              "pass a writable directory as --config.data_dir")
    finally:
        subprocess.run(["umount", "-l", str(read_only)], capture_output=True)


def test_offline_preparation_fails_within_seconds(tmp_path, capsys):
    from jaxgan.data import prepare

    try:
        socket.create_connection((prepare.TFDS_MIRROR, 443), timeout=2).close()
        pytest.skip("this machine is online: preparing mnist would download it")
    except OSError:
        pass
    started = time.monotonic()
    assert prepare.main(["mnist", "--data_dir", str(tmp_path)]) == 2
    assert time.monotonic() - started < 30
    lines = error_lines(capsys)
    assert len(lines) == 1 and lines[0].startswith("error: cannot download 'mnist': no network "
                                                   "connection to storage.googleapis.com")
