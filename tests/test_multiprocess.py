"""Two real JAX processes on this machine (jax.distributed on localhost, gloo CPU collectives).

Each process has 2 CPU devices, so the shard_map mesh spans 4 devices over 2 processes. Each
process feeds only its own rows of the global ring-8 batches (`jaxgan.data.make_iterator` with its
process index: rows [p·B/2, (p+1)·B/2) of every global batch, n_critic batches per step); the test
process then trains one process on 4 of its simulated devices with the whole global batches.
Devices fold their global mesh index into the key, so the two runs draw the same noise and must end
with the same state, up to the all-reduce's summation order (gloo vs in-process): rtol 1e-5,
atol 2e-6. The RpGAN loss pairs real row i with fake row i, so rows fed to the wrong device change
the result (checked: swapping the two processes' rows fails this test). Run as a script, this file
is the worker.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

PROCESSES = 2
DEVICES_PER_PROCESS = 2
N_CRITIC = 2
BATCH = 16  # global rows per critic step: 4 per device
STEPS = 3
RTOL, ATOL = 1e-5, 2e-6


def _train(devices, process_index: int, process_count: int
           ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """STEPS shard_map steps of a small ring-8 MLP over `devices`, feeding this process's rows
    only. The final and the initial state's leaves."""
    import jax

    from jaxgan import config as config_lib
    from jaxgan import parallel
    from jaxgan.data import make_iterator
    from jaxgan.state import create_train_state
    from jaxgan.step import step_key

    config = config_lib.base_config()
    config.model = "mlp"
    config.mlp_g_hidden, config.mlp_d_hidden, config.latent_dim = (16, 16), (16,), 4
    config.n_critic = N_CRITIC
    config.loss = "relativistic"  # pairs real row i with fake row i: rows fed to the wrong
    # device would change the result (a sum-separable loss would not notice a permutation)
    gan = config_lib.build_gan(config, (2,), axis_name=parallel.step_axis_name("shard_map"))
    compiled = parallel.compile_train_step(gan, "shard_map", devices)
    initial = create_train_state(gan, jax.random.PRNGKey(0))
    initial_leaves = [np.asarray(leaf) for leaf in jax.tree.leaves(initial)]
    state = compiled.put_state(initial)
    data = make_iterator("ring8", batch_size=BATCH, seed=7, process_index=process_index,
                         process_count=process_count)
    key = jax.random.PRNGKey(1)
    for i in range(STEPS):
        chunks = [next(data) for _ in range(N_CRITIC)]  # this process's rows of each global batch
        local = {"x": np.concatenate([c["x"] for c in chunks])}
        state, metrics = compiled(state, compiled.put_batch(local), step_key(key, i))
        assert bool(metrics["finite"])
    local_state = parallel.host_local_state(compiled.get_state(state))
    return [np.asarray(leaf) for leaf in jax.tree.leaves(local_state)], initial_leaves


def _worker(out_path: str) -> None:
    from jaxgan import parallel

    assert parallel.initialize_distributed()  # from $JAX_COORDINATOR_ADDRESS etc.
    import jax

    assert jax.process_count() == PROCESSES and jax.device_count() == PROCESSES * \
        DEVICES_PER_PROCESS
    leaves, _ = _train(jax.devices(), jax.process_index(), jax.process_count())
    np.savez(out_path, *leaves)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process_with_the_global_batch(tmp_path):
    import jax

    root = Path(__file__).resolve().parents[1]
    port = _free_port()
    procs = []
    for pid in range(PROCESSES):
        env = dict(os.environ, JAX_PLATFORMS="cpu", JAX_NUM_CPU_DEVICES=str(DEVICES_PER_PROCESS),
                   JAX_COORDINATOR_ADDRESS=f"localhost:{port}", JAX_NUM_PROCESSES=str(PROCESSES),
                   JAX_PROCESS_ID=str(pid),
                   PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
        procs.append(subprocess.Popen(
            [sys.executable, __file__, str(tmp_path / f"state{pid}.npz")], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    # the reference meanwhile: one process, 4 of the 8 simulated devices, the whole batches
    reference, initial = _train(jax.devices()[:PROCESSES * DEVICES_PER_PROCESS], 0, 1)
    try:
        outputs = [p.communicate(timeout=300)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, output in zip(procs, outputs):
        assert p.returncode == 0, output[-3000:]
    states = []
    for pid in range(PROCESSES):
        with np.load(tmp_path / f"state{pid}.npz") as f:
            states.append([f[f"arr_{i}"] for i in range(len(f.files))])
    assert len(states[0]) == len(reference)
    for leaf0, leaf1, ref in zip(states[0], states[1], reference):
        np.testing.assert_array_equal(leaf0, leaf1)  # replicas agree exactly
        np.testing.assert_allclose(leaf0, ref, rtol=RTOL, atol=ATOL)
    # STEPS steps were taken and moved the state (not two copies of the initial state)
    assert int(states[0][0]) == STEPS  # GANState.step is the first leaf
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(states[0], initial)) > 1e-4


if __name__ == "__main__":
    _worker(sys.argv[1])
