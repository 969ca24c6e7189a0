"""Smoke test of benchmarks/compare_losses.py: 2 seeds × 20 steps, tables and CSVs well formed."""
from __future__ import annotations

import csv
import math
import pathlib
import sys

import numpy as np
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))

import compare_losses  # noqa: E402

TINY = ["steps=20", "log_every=10", "mlp_g_hidden=(8,8)", "mlp_d_hidden=(8,)", "eval_samples=200"]


@pytest.mark.slow  # excluded from the default run (pytest -m slow); a benchmark's output format
def test_toy_benchmark_writes_parsable_tables(tmp_path):
    variants = ["non_saturating", "hinge"]
    status = compare_losses.main(["--dataset", "ring8", "--variants", ",".join(variants),
                                  "--seeds", "2", "--out", str(tmp_path)]
                                 + [a for s in TINY for a in ("--set", s)])
    assert status == 0
    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["variant"] for r in rows] == variants
    for row in rows:
        assert row["dataset"] == "ring8" and int(row["seeds"]) == 2
        modes = float(row["modes_mean"])
        assert 0 <= modes <= 8
        assert 0 <= float(row["high_quality_percent_mean"]) <= 100
        assert float(row["wall_s"]) > 0
    with open(tmp_path / "seeds.csv") as f:
        per_seed = list(csv.DictReader(f))
    assert [(r["variant"], int(r["seed"])) for r in per_seed] == [
        (v, s) for v in variants for s in (0, 1)]
    # the table's mean is the mean of the per-seed values
    for row in rows:
        values = [float(r["modes"]) for r in per_seed if r["variant"] == row["variant"]]
        assert math.isclose(float(row["modes_mean"]), np.mean(values))
    table = (tmp_path / "results.md").read_text()
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| variant | modes | % high quality | reverse KL")
    assert [line.split(" | ")[0][2:] for line in lines[1:3]] == variants
    assert sum("PacGAN Table 1" in line for line in lines) == len(compare_losses.PACGAN_TABLE1["ring8"])
    assert (tmp_path / "samples.png").stat().st_size > 0
    assert (tmp_path / "losses.png").stat().st_size > 0


def test_default_variants_cover_every_loss():
    variants = compare_losses.default_variants()
    assert {compare_losses.VARIANTS[v]["loss"] for v in variants} == set(compare_losses.LOSSES)
    assert {"wgan_clip", "wgan_gp"} <= set(variants)


def test_mean_and_standard_error():
    mean, se, n = compare_losses.mean_and_standard_error([1.0, 2.0, 3.0, float("nan")])
    assert (mean, n) == (2.0, 3)
    assert math.isclose(se, 1.0 / math.sqrt(3))  # std(ddof=1) = 1


@pytest.mark.parametrize("argv", [["--variants", "nope"], ["--dataset", "nope"],
                                  ["--set", "not_a_field=1"], ["--seeds", "0"]])
def test_bad_arguments_exit_2(argv, tmp_path, capsys):
    assert compare_losses.main(argv + ["--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")


def test_a_seed_without_high_quality_samples_scores_the_worst_reverse_kl():
    from jaxgan.data import get_spec
    from jaxgan.metrics.modes import mode_metrics

    spec = get_spec("ring8")
    on_modes = np.repeat(spec.mode_centers, 10, axis=0)  # every mode equally, exactly on centre
    good = compare_losses._score_points(on_modes, spec, mode_metrics)
    assert good["modes"] == 8 and good["high_quality_percent"] == 100.0
    assert abs(good["reverse_kl"]) < 1e-12
    off_modes = np.full((80, 2), 5.0)  # far from every mode
    failed = compare_losses._score_points(off_modes, spec, mode_metrics)
    assert failed["modes"] == 0 and failed["high_quality_percent"] == 0.0
    assert math.isclose(failed["reverse_kl"], math.log(8))
    diverged = compare_losses._score_points(np.full((80, 2), np.nan), spec, mode_metrics)
    assert diverged["diverged"] == 1.0 and math.isclose(diverged["reverse_kl"], math.log(8))
