"""`jaxgan train --config.num_seeds=S`: S seeds at once, each equal to its single run."""
from __future__ import annotations

import io
import json

import chex
import pytest

from jaxgan import cli
from jaxgan.tools import trained
from jaxgan.training import logs, loop
from jaxgan.training.run_config import ConfigError, load_experiment
from jaxgan.training.seed_runs import seed_workdir
from jaxgan.training.seeds import unstack_state
from jaxgan.training.workdir import CHECKPOINT_DIR, CONFIG_FILE, SAMPLES_DIR


def tiny_ring8(steps: int, **overrides):
    config = load_experiment("ring8")
    config.update(dict(steps=steps, mlp_g_hidden=(16, 16), mlp_d_hidden=(16,), batch_size=32,
                       log_every=1, sample_every=0, checkpoint_every=0, num_samples_grid=16,
                       monitor_every=0, parallel="jit", g_lr=1e-2, d_lr=1e-2,
                       lr_schedule="constant"))  # resumes change `steps`
    config.update(overrides)
    return config


def run(config, workdir):
    return loop.train_and_evaluate(config, workdir, handle_signals=False, stream=io.StringIO())


@pytest.mark.slow  # excluded from the default run (pytest -m slow); test_seeds checks vmapped seeds = separate runs, test_cli_num_seeds the CLI
def test_each_seed_equals_its_single_run_also_across_a_resume(tmp_path):
    """Seeds 3 and 4 trained together (4 steps, then resumed to 6) equal separate runs of
    seed 3 and 4 (6 steps), and each seed directory is an ordinary run directory."""
    multi = tmp_path / "multi"
    first = run(tiny_ring8(4, seed=3, num_seeds=2, n_critic=2), multi)
    assert first.step == 4
    resumed = run(tiny_ring8(6, seed=3, num_seeds=2, n_critic=2), multi)
    assert (resumed.start_step, resumed.step) == (4, 6)
    for index, seed in enumerate((3, 4)):
        single = run(tiny_ring8(6, seed=seed, n_critic=2), tmp_path / f"single_{seed}")
        chex.assert_trees_all_close(unstack_state(resumed.state, index), single.state,
                                    rtol=2e-4, atol=2e-5)
        directory = seed_workdir(multi, seed)
        saved = json.loads((directory / CONFIG_FILE).read_text())
        assert (saved["seed"], saved["num_seeds"]) == (seed, 1)
        records = logs.read_metrics(directory / logs.METRICS_FILE)
        assert [r["step"] for r in records] == [1, 2, 3, 4, 5, 6]
        singles = logs.read_metrics(tmp_path / f"single_{seed}" / logs.METRICS_FILE)
        assert records[-1]["d_loss"] == pytest.approx(singles[-1]["d_loss"], rel=1e-3, abs=1e-5)
        assert list((directory / SAMPLES_DIR).glob("step_*.png"))
        loaded = trained.load_run(directory)  # `jaxgan sample/eval` read seed dirs as runs
        assert loaded.step == 6
        chex.assert_trees_all_close(loaded.state, single.state, rtol=2e-4, atol=2e-5)


def test_cli_num_seeds(tmp_path, capsys):
    workdir = tmp_path / "w"
    status = cli.main(["train", "--config", "ring8", "--workdir", str(workdir),
                       "--config.num_seeds=2", "--config.steps=2", "--config.batch_size=16",
                       "--config.mlp_g_hidden=8,8", "--config.mlp_d_hidden=8",
                       "--config.monitor_every=0", "--config.sample_every=0"])
    assert status == 0
    # the seeds' workdirs, the multi-seed config (so `train --workdir w` resumes them) and the
    # writer lock (jaxgan.training.lock)
    assert sorted(p.name for p in workdir.iterdir()) == [".jaxgan.lock", "config.json", "seed_0",
                                                         "seed_1"]
    for name in ("seed_0", "seed_1"):
        assert list((workdir / name / CHECKPOINT_DIR).iterdir())
    assert "2 seeds (seed_0, seed_1) trained at once" in capsys.readouterr().out


@pytest.mark.parametrize("overrides,match", [
    (dict(num_seeds=0), "num_seeds"),
    (dict(num_seeds=2, seed_map="pmap"), "seed_map"),
    (dict(num_seeds=2, parallel="shard_map"), "one device"),
])
def test_bad_multi_seed_configs(tmp_path, overrides, match):
    with pytest.raises(ConfigError, match=match):
        run(tiny_ring8(2, **overrides), tmp_path / "w")
