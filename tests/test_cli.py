"""End-to-end tests of the `jaxgan` command, run as a user runs it: a separate process.

Each run is tiny (a few steps of small networks) so the file stays well under a minute and a half
on 2 cores. The subprocesses see one CPU device and a temporary TFDS data dir.
"""
from __future__ import annotations

import io
import json
import os
import pathlib
import shutil
import signal
import struct
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from jaxgan import cli
from jaxgan.training.checkpoint import Checkpointer

REPO = pathlib.Path(__file__).resolve().parent.parent
EXPERIMENTS = REPO / "experiments"

# Tiny versions of the shipped experiments.
RING8_TINY = ["--config.mlp_g_hidden=32,32", "--config.mlp_d_hidden=32", "--config.batch_size=50",
              "--config.log_every=5", "--config.sample_every=10", "--config.checkpoint_every=10",
              "--config.num_samples_grid=200"]
DIGITS_TINY = ["--config.resolution=16", "--config.g_features=8", "--config.d_features=8",
               "--config.latent_dim=16", "--config.batch_size=16", "--config.log_every=2",
               "--config.sample_every=4", "--config.checkpoint_every=4",
               "--config.num_samples_grid=16"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    environment = dict(os.environ)
    environment.update(JAX_NUM_CPU_DEVICES="1", PYTHONPATH=str(REPO),
                       TFDS_DATA_DIR=str(tmp_path_factory.mktemp("tfds")))
    return environment


def jaxgan(env, *args, timeout=300, cwd=REPO) -> subprocess.CompletedProcess:
    """Runs `python -m jaxgan.cli ARGS` (the console script's entry point) from the repo root."""
    return subprocess.run([sys.executable, "-m", "jaxgan.cli", *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def run_main(argv: list[str]) -> int:
    """cli.main's exit status, whether returned or raised by argparse."""
    try:
        return cli.main(argv)
    except SystemExit as exit_info:
        return exit_info.code


def read_png(path: pathlib.Path) -> np.ndarray:
    with Image.open(path) as image:
        image.load()
        return np.asarray(image)


def read_tensorboard_events(directory: pathlib.Path) -> list:
    """All events of the TFRecord event files in `directory`, checking every record's CRCs."""
    from tensorboardX.crc32c import crc32c
    from tensorboardX.proto import event_pb2

    def masked(data: bytes) -> int:
        crc = crc32c(data)
        return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    events = []
    for path in sorted(directory.glob("events.out.tfevents.*")):
        stream = io.BytesIO(path.read_bytes())
        while header := stream.read(8):
            (length,) = struct.unpack("<Q", header)
            (length_crc,) = struct.unpack("<I", stream.read(4))
            assert length_crc == masked(header)
            payload = stream.read(length)
            (payload_crc,) = struct.unpack("<I", stream.read(4))
            assert payload_crc == masked(payload)
            event = event_pb2.Event()
            event.ParseFromString(payload)
            events.append(event)
    return events


@pytest.fixture(scope="module")
def ring8_run(env, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ring8")
    result = jaxgan(env, "train", "--config", EXPERIMENTS / "ring8.py", "--workdir", workdir,
                    "--config.steps=20", *RING8_TINY, "--config.loss", "hinge")
    assert result.returncode == 0, result.stderr
    return workdir, result


def test_ring8_train_writes_every_output(ring8_run):
    workdir, result = ring8_run
    config = json.loads((workdir / "config.json").read_text())
    assert (config["steps"], config["loss"], config["mlp_g_hidden"]) == (20, "hinge", [32, 32])
    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [5, 10, 15, 20]
    assert all(np.isfinite(r["d_loss"]) and np.isfinite(r["g_loss"]) for r in records)
    assert "d_accuracy_real" in records[0] and "d_accuracy_fake" in records[0]
    for step in (10, 20):
        assert read_png(workdir / "samples" / f"step_{step:07d}.png").ndim == 3
    curves = read_png(workdir / "training_curves.png")
    assert curves.shape[0] > 100 and curves.shape[1] > 200
    assert Checkpointer(workdir / "checkpoints").all_steps() == [10, 20]
    # Plain progress lines (stdout is not a terminal), one per log_every steps.
    assert [line.split()[1] for line in result.stdout.splitlines()
            if line.startswith("step ")] == ["5/20", "10/20", "15/20", "20/20"]
    events = read_tensorboard_events(workdir / "tensorboard")
    scalars = {(v.tag, e.step): v.simple_value for e in events for v in e.summary.value
               if v.HasField("simple_value")}
    assert scalars[("train/d_loss", 20)] == pytest.approx(records[-1]["d_loss"], rel=1e-6)
    images = [(v.tag, e.step) for e in events for v in e.summary.value if v.HasField("image")]
    assert ("samples", 10) in images and ("samples", 20) in images


def test_ring8_sample_and_eval(ring8_run, env, tmp_path):
    workdir, _ = ring8_run
    result = jaxgan(env, "sample", "--workdir", workdir, "--num", 300, "--seed", 1,
                    "--out", tmp_path / "s.npy")
    assert result.returncode == 0, result.stderr
    samples = np.load(tmp_path / "s.npy")
    assert samples.shape == (300, 2) and samples.dtype == np.float32
    assert np.isfinite(samples).all()
    result = jaxgan(env, "sample", "--workdir", workdir, "--num", 300, "--out",
                    tmp_path / "plots" / "s.png")
    assert result.returncode == 0, result.stderr
    assert read_png(tmp_path / "plots" / "s.png").shape[-1] in (3, 4)

    result = jaxgan(env, "eval", "--workdir", workdir, "--num", 500)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed == json.loads((workdir / "eval.json").read_text())
    assert printed["step"] == 20 and printed["num_samples"] == 500
    assert printed["num_modes"] == 8 and 0 <= printed["modes_captured"] <= 8
    assert sum(printed["mode_histogram"]) == round(printed["high_quality_fraction"] * 500)


def test_digits_train_sample_eval(env, tmp_path):
    # the unconditional digits GAN (the default is class-conditional: one grid row per class,
    # tests/test_conditional.py); its grids lay images out 4 per row
    workdir = tmp_path / "digits"
    result = jaxgan(env, "train", "--workdir", workdir, "--config", "dcgan_digits_unconditional",
                    "--config.steps=4", *DIGITS_TINY)
    assert result.returncode == 0, result.stderr
    assert json.loads((workdir / "config.json").read_text())["dataset"] == "digits"
    grid = read_png(workdir / "samples" / "step_0000004.png")
    assert grid.ndim == 2  # a grey grid; 16 images of 16x16 shown 4x larger, 4 per row
    assert grid.shape == (4 * 65 + 1, 4 * 65 + 1)
    result = jaxgan(env, "sample", "--workdir", workdir, "--num", 10, "--out", tmp_path / "d.npy")
    assert result.returncode == 0, result.stderr
    images = np.load(tmp_path / "d.npy")
    assert images.shape == (10, 16, 16, 1) and images.dtype == np.float32
    assert images.min() >= -1 and images.max() <= 1
    result = jaxgan(env, "sample", "--workdir", workdir, "--num", 10, "--out", tmp_path / "d.png")
    assert result.returncode == 0, result.stderr
    assert read_png(tmp_path / "d.png").shape == (3 * 65 + 1, 4 * 65 + 1)  # 10 images, 4 per row

    result = jaxgan(env, "eval", "--workdir", workdir, "--num", 100)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout.strip().splitlines()[-1])
    assert printed == json.loads((workdir / "eval.json").read_text())
    assert printed["num_samples"] == 100 and printed["fid"] > 0
    assert printed["protocol"]["feature_extractor"] == "digits_classifier"
    assert printed["protocol"]["num_fake"] == 100 and printed["protocol"]["num_real"] == 100
    assert sum(printed["class_coverage"]["histogram"]) == 100


def _wait_for_line(process: subprocess.Popen, prefix: str, timeout: float = 240) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(prefix):
            return lines
    process.kill()
    raise AssertionError(f"no line starting with {prefix!r} in: {''.join(lines)}")


@pytest.mark.parametrize("sig, expected_rc", [pytest.param(signal.SIGTERM, 0, marks=pytest.mark.slow),
                                             (signal.SIGINT, 130)])
def test_signal_checkpoints_and_stops(env, tmp_path, sig, expected_rc):
    workdir = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "jaxgan.cli", "train", "--config", str(EXPERIMENTS / "ring8.py"),
         "--workdir", str(workdir), "--config.steps=100000", *RING8_TINY,
         "--config.checkpoint_every=100000", "--config.sample_every=0"],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_line(process, "step 5/")
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == expected_rc, stderr
    stop_line = [line for line in stdout.splitlines() if line.startswith("stopped by")]
    assert stop_line and stop_line[0].startswith(f"stopped by {sig.name} at step ")
    step = int(stop_line[0].split("at step ")[1].split(";")[0])
    assert step >= 5
    assert Checkpointer(workdir / "checkpoints").all_steps() == [step]
    if sig == signal.SIGTERM:  # and the run resumes from there
        result = jaxgan(env, "train", "--workdir", workdir, f"--config.steps={step + 2}")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[:2] == [
            f"using the config saved in {workdir / 'config.json'}", f"resuming from step {step}"]


@pytest.mark.parametrize("args, message", [
    (["--config.stepz=5"], "unknown config key 'stepz'; did you mean steps?"),
    (["--config.dataset=no_such_data"], "unknown data set 'no_such_data'"),
])
def test_bad_input_exits_2_through_the_script(env, tmp_path, args, message):
    result = jaxgan(env, "train", "--workdir", tmp_path / "w", *args)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"jaxgan train: error: {message}")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "w").exists()


def test_debug_flag_shows_the_traceback(tmp_path, capsys):
    assert run_main(["--debug", "train", "--workdir", str(tmp_path / "w"),
                     "--config.loss=nope"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "unknown loss 'nope'" in err


@pytest.mark.parametrize("args, message", [
    (["--config.loss=nope"], "unknown loss 'nope' (config.loss); valid choices: hinge, "
                             "least_squares, minimax, non_saturating"),
    (["--config.steps=ten"], "config.steps expects an integer, got 'ten'"),
    (["--config.batch_size=0"], "config.batch_size must be an integer > 0, got 0"),
    (["--config.b1=1.0"], "config.b1 must be a number in [0, 1), got 1.0"),
    (["--config.g_lr=0"], "config.g_lr must be a number > 0, got 0.0"),
    (["--config.n_critic=0"], "config.n_critic must be an integer >= 1, got 0"),
    (["--config.ema_decay=1"], "config.ema_decay must be a number in [0, 1), got 1.0"),
    (["--config.resolution=24"], "config.resolution must be a power of two >= 8"),
    (["--config.penalty=gp"], "unknown penalty 'gp' (config.penalty); valid choices: dragan, none, "
                              "r1, wgan_gp"),
    (["--config.model=nope"], "unknown model 'nope' (config.model); valid choices: biggan, dcgan, mlp, "
                                "resnet"),
    (["--config.mlp_g_batch_norm=maybe"], "config.mlp_g_batch_norm expects true or false"),
    (["--config", "no_such_experiment"], "experiment config 'no_such_experiment' not found; give a "
                                         "file path or one of: acgan_digits, biggan_cifar10, "
                                         "biggan_digits, cgan_digits"),
    (["--config.steps"], "--config.steps needs a value"),
])
def test_bad_input_exits_2(tmp_path, capsys, args, message):
    """The same errors through cli.main (what the script calls), without a process each."""
    assert run_main(["train", "--workdir", str(tmp_path / "w"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1]
    assert not any("Traceback" in line for line in err)
    assert not (tmp_path / "w").exists()


def test_unwritable_workdir_exits_2(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert run_main(["train", "--workdir", str(blocker / "run"), "--config.steps=1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        f"jaxgan train: error: cannot write to workdir '{blocker / 'run'}'")
    assert "choose a writable --workdir" in err[0]


def test_sample_errors_exit_2(tmp_path, capsys):
    assert cli.main(["sample", "--workdir", str(tmp_path), "--out", str(tmp_path / "x.jpg")]) == 2
    assert "must end in one of .npy, .png" in capsys.readouterr().err
    assert cli.main(["sample", "--workdir", str(tmp_path / "none"), "--out",
                     str(tmp_path / "x.npy")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli.main(["eval", "--workdir", str(tmp_path)]) == 2
    assert "is not a jaxgan workdir" in capsys.readouterr().err


def test_help_explains_every_option(capsys):
    for command, options in [(None, ["train", "sample", "eval", "--debug"]),
                             ("train", ["--config", "--workdir", "--config.KEY", "resum",
                                        "steps = ", "batch_size = ", "loss = "]),
                             ("sample", ["--workdir", "--num", "--seed", "--out", ".npy", ".png"]),
                             ("eval", ["--workdir", "--num", "--seed", "eval.json"])]:
        with pytest.raises(SystemExit) as exit_info:
            cli.main(([command] if command else []) + ["--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        for option in options:
            assert option in text, (command, option)


@pytest.mark.skipif(shutil.which("jaxgan") is None, reason="the console script is not installed")
def test_installed_console_script_runs(env, tmp_path):
    """The `jaxgan` script itself (PYTHONPATH makes it import this checkout's package)."""
    result = subprocess.run([shutil.which("jaxgan"), "train", "--workdir", str(tmp_path / "w"),
                             "--config.loss=nope"], capture_output=True, text=True, timeout=120,
                            env=env)
    assert result.returncode == 2 and "unknown loss 'nope'" in result.stderr


def test_xla_cpu_threads_sets_nproc_before_the_cpu_client_only():
    """config.xla_cpu_threads > 0 sets NPROC (XLA's CPU thread pool size) unless the user set it;
    once JAX's CPU client exists it cannot take effect and says so instead."""
    import jax

    from jaxgan.cli import set_xla_cpu_threads
    from jaxgan.config import base_config, presets

    jax.devices()  # this process's client exists
    environ = {}
    assert set_xla_cpu_threads(0, environ) == [] and environ == {}
    assert set_xla_cpu_threads(1, {"NPROC": "4"}) == []
    notes = set_xla_cpu_threads(1, environ)
    assert environ == {} and notes == [
        "config.xla_cpu_threads=1 not applied: JAX's CPU client already exists"]
    fresh = subprocess.run(
        [sys.executable, "-c", "import os; os.environ.pop('NPROC', None); "
         "from jaxgan.cli import set_xla_cpu_threads as s; "
         "n = s(1); print(n, os.environ['NPROC'])"],
        capture_output=True, text=True, check=True)
    assert fresh.stdout.split() == ["[]", "1"]
    assert presets.toy_mixture("ring8").xla_cpu_threads == 1
    assert base_config().xla_cpu_threads == 0
