"""End to end through the `jaxgan` command: a folder of your own images -> `jaxgan prepare` ->
a class-conditional DCGAN trained on its folder labels -> `sample --label NAME` -> `eval`.

The images are scikit-learn's handwritten digits written as PNG files into one folder per class
(as a user's scans would be), so `eval --features digits` (the shipped digits classifier) fits
them. Tiny networks and a few steps: the run checks the wiring, not the quality.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from jaxgan.data import digits_raw

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--config.resolution=16", "--config.channels=1", "--config.g_features=8",
        "--config.d_features=8", "--config.latent_dim=16", "--config.batch_size=20",
        "--config.steps=3", "--config.log_every=1", "--config.sample_every=3",
        "--config.checkpoint_every=3", "--config.num_samples_grid=20",
        "--config.monitor_every=0", "--config.ema_decay=0"]


def jaxgan(env, *args):
    return subprocess.run([sys.executable, "-m", "jaxgan.cli", *map(str, args)], env=env,
                          cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    environment = dict(os.environ)
    environment.update(JAX_NUM_CPU_DEVICES="1", PYTHONPATH=REPO,
                       TFDS_DATA_DIR=str(tmp_path_factory.mktemp("tfds_default")))
    return environment


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    """The first 200 digits as 16x16 grey PNGs in folders named by class: 0/, 1/, ..., 9/."""
    root = tmp_path_factory.mktemp("scans")
    images, labels = digits_raw.load_digits_uint8(16)
    for i, (image, label) in enumerate(zip(images[:200], labels[:200])):
        (root / str(label)).mkdir(exist_ok=True)
        Image.fromarray(image[..., 0]).save(root / str(label) / f"scan_{i:04d}.png")
    return root, images[:200, ..., 0], labels[:200]


@pytest.mark.slow  # excluded from the default run (pytest -m slow); test_cli trains, samples and evaluates end to end
def test_prepare_train_conditional_sample_eval(env, digit_folder, tmp_path):
    root, images, labels = digit_folder
    data_dir = tmp_path / "tfds"
    result = jaxgan(env, "prepare", root, "--name", "my_scans", "--data_dir", data_dir,
                    "--channels", "1", "--labels", "folders", "--workers", "2")
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("prepared my_scans: 200 images written, 0 skipped, 10 classes")
    assert "16x16x1" in summary and "images/s" in result.stderr  # the progress line
    metadata = json.loads((data_dir / "my_scans" / "1.0.0" / "metadata.json").read_text())
    digest = metadata["content_sha256"]
    assert metadata["examples_per_class"] == np.bincount(labels, minlength=10).tolist()

    workdir = tmp_path / "run"
    result = jaxgan(env, "train", "--config", "cgan_digits", "--workdir", workdir,
                    "--config.dataset=my_scans", f"--config.data_dir={data_dir}", *TINY)
    assert result.returncode == 0, result.stderr
    config = json.loads((workdir / "config.json").read_text())
    assert config["dataset"] == "my_scans" and config["data_sha256"] == digest
    spec = json.loads((workdir / "data_spec.json").read_text())
    assert spec["class_names"] == [str(k) for k in range(10)] and spec["num_examples"] == 200
    assert spec["content_sha256"] == digest

    result = jaxgan(env, "sample", "--workdir", workdir, "--num", 6, "--label", "3",
                    "--out", tmp_path / "threes.npy")
    assert result.returncode == 0, result.stderr
    samples = np.load(tmp_path / "threes.npy")
    assert samples.shape == (6, 16, 16, 1) and np.abs(samples).max() <= 1
    result = jaxgan(env, "sample", "--workdir", workdir, "--label", "cat",
                    "--out", tmp_path / "x.npy")
    assert result.returncode == 2
    assert "not a class of 'my_scans'; use one of 0, 1, 2" in result.stderr

    result = jaxgan(env, "eval", "--workdir", workdir, "--num", 100, "--features", "digits")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout.strip().splitlines()[-1])
    assert scores["dataset"] == "my_scans" and scores["fid"] > 0
    assert scores["protocol"]["data_sha256"] == digest
    assert scores["protocol"]["feature_extractor"] == "digits_classifier"
    assert scores["class_names"] == [str(k) for k in range(10)]

    # the data set re-prepared from other images: resuming the run on it is refused
    Image.fromarray(images[0]).save(root / "0" / "scan_extra.png")
    result = jaxgan(env, "prepare", root, "--name", "my_scans", "--data_dir", data_dir,
                    "--channels", "1", "--labels", "folders", "--workers", "1", "--overwrite")
    assert result.returncode == 0 and "201 images written" in result.stdout, result.stderr
    result = jaxgan(env, "train", "--workdir", workdir, "--config.steps=4")
    assert result.returncode == 2
    assert "data set 'my_scans' has changed" in result.stderr.strip().splitlines()[-1]
