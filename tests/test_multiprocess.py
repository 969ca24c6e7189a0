"""`jaxgan train` data-parallel from the command line: pmap, shard_map, and 2 processes.

Three runs of the same small ring-8 config, seed and data, at the same time in fresh processes
(the test process itself has 8 devices):
  * `--config.parallel=pmap` on 4 CPU devices (JAX_NUM_CPU_DEVICES=4);
  * `--config.parallel=shard_map` on 4 CPU devices;
  * two processes with 2 CPU devices each (`--coordinator_address localhost:PORT --num_processes 2
    --process_id I`, jax.distributed with gloo collectives), one shard_map mesh of 4 devices over
    both, each process feeding its own rows of every global batch.
All fold the same 4 device indices into the step key and see the same global batches, so their
final checkpoints must hold the same state (rtol 1e-5, atol 2e-6: all-reduce summation order
only). Only process 0 of the 2-process run writes logs and images; Orbax saves from both.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import chex
import jax
import numpy as np
import pytest

from jaxgan import cli

ROOT = Path(__file__).resolve().parents[1]
MODES = ("pmap", "shard_map")
STEPS = 2
# ring8 with RpGAN, which pairs real row i with fake row i: rows on the wrong device would show
SMALL_RING8 = ["--config", str(ROOT / "experiments" / "ring8.py"), f"--config.steps={STEPS}",
               "--config.mlp_g_hidden=16,16", "--config.mlp_d_hidden=16",
               "--config.batch_size=16", "--config.log_every=1", "--config.sample_every=0",
               "--config.checkpoint_every=0", "--config.num_samples_grid=16",
               "--config.loss=relativistic"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _start(args: list[str], devices: int, cwd: Path) -> subprocess.Popen:
    env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(devices),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    for name in ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID"):
        env.pop(name, None)
    return subprocess.Popen([sys.executable, "-m", "jaxgan.cli", "train", *args, *SMALL_RING8],
                            env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


@pytest.mark.slow  # excluded from the default run (pytest -m slow); test_parallel checks pmap/shard_map = one device
def test_pmap_shard_map_and_two_processes_train_to_the_same_state(tmp_path):
    from jaxgan.tools import trained

    port = _free_port()
    procs = {mode: _start(["--workdir", str(tmp_path / mode), f"--config.parallel={mode}"], 4,
                          tmp_path) for mode in MODES}
    for pid in range(2):
        procs[f"process{pid}"] = _start(
            ["--workdir", str(tmp_path / "two_processes"), "--config.parallel=shard_map",
             "--coordinator_address", f"localhost:{port}", "--num_processes", "2",
             "--process_id", str(pid)], 2, tmp_path)
    try:
        outputs = {name: p.communicate(timeout=400)[0] for name, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    for name, p in procs.items():
        assert p.returncode == 0, f"{name}: {outputs[name][-3000:]}"
    for mode in MODES:
        assert f"data parallel: {mode} over 4 devices in 1 process(es)" in outputs[mode]
        assert f"trained to step {STEPS}" in outputs[mode]
    assert "data parallel: shard_map over 4 devices in 2 process(es)" in outputs["process0"]
    assert "trained to step" not in outputs["process1"]  # process 0 alone writes logs
    assert "step 1/" not in outputs["process1"]
    assert sorted(p.name for p in (tmp_path / "two_processes" / "samples").iterdir()) == \
        [f"step_{STEPS:07d}.png"]
    states = {}
    for name in (*MODES, "two_processes"):
        run = trained.load_run(tmp_path / name)
        assert run.step == STEPS
        states[name] = jax.tree.map(np.asarray, run.state)
    chex.assert_trees_all_close(states["pmap"], states["shard_map"], rtol=1e-5, atol=2e-6)
    chex.assert_trees_all_close(states["two_processes"], states["shard_map"], rtol=1e-5,
                                atol=2e-6)


def test_process_count_without_coordinator_is_one_line_and_exit_2(tmp_path, capsys,
                                                                    monkeypatch):
    monkeypatch.delenv("JAX_COORDINATOR_ADDRESS", raising=False)
    code = cli.main(["train", "--workdir", str(tmp_path), "--num_processes", "2",
                     "--process_id", "0", *SMALL_RING8])
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_USAGE
    assert len(err.splitlines()) == 1 and "coordinator" in err


@pytest.mark.parametrize("flag", ["--num_processes", "--process_id"])
def test_distributed_flags_parse_as_integers(flag):
    args, _ = cli.build_parser().parse_known_args(
        ["train", "--workdir", "w", "--coordinator_address", "localhost:1234", flag, "3"])
    assert args.coordinator_address == "localhost:1234"
    assert getattr(args, flag[2:]) == 3
