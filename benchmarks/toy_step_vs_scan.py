"""The toy step's compiled cost alone: one jitted step called K times against K steps in one
`lax.scan` (the fused loop's body, batches drawn on the device), in one process, round robin.

Nothing of the training loop's host side (logs, monitors, host batches) is timed: this isolates
what XLA's CPU runtime costs per step in the entry computation of a one-step executable and in a
while-loop body (issue 21 session 7). Both runs start from the same state and use the same keys
(the scan's are step_key(base, t) as jit_train_loop's; the single steps get the same keys made
before the clock starts, and one fixed host batch). Reported per way: the median and minimum CPU
µs per step over the rounds, the median wall µs, and the median per-round CPU ratio.
Usage:
  PYTHONPATH=$PWD nice -n 10 python benchmarks/toy_step_vs_scan.py --config ring8 [--batch 10]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp

from jaxgan import data
from jaxgan.config import build_gan
from jaxgan.core import step as core_step
from jaxgan.training.run import draw_step_batch
from jaxgan.training.run import data_options, init_state
from jaxgan.training.run_config import load_experiment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="ring8")
    parser.add_argument("--steps", type=int, default=1000, help="K: steps per timed run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=0, help="batch size (0: the experiment's)")
    args = parser.parse_args(argv)
    config = load_experiment(args.config)
    if args.batch:
        config.batch_size = args.batch
    iterator = data.make_iterator(config.dataset, batch_size=config.batch_size, seed=0,
                                  **data_options(config))
    gan = build_gan(config, iterator.spec.shape, iterator.spec.num_classes)
    base_key, num = jax.random.PRNGKey(0), args.steps
    device_data = iterator.device_batches()
    plans = iterator.take_plans(num).reshape(num, 1, 3)
    batch = jax.device_put(next(iterator))
    keys = [core_step.step_key(base_key, t) for t in range(num)]
    state0 = init_state(gan, base_key)
    step = core_step.jit_train_step(gan)
    fused = core_step.jit_train_loop(gan, draw_step_batch(device_data.draw, 1))

    def fresh():
        return jax.block_until_ready(jax.tree.map(lambda x: x.copy(), state0))

    def run_steps(state):
        for t in range(num):
            state, _ = step(state, batch, keys[t])
        return state

    def run_scan(state):
        return fused(state, plans, base_key, 0, device_data.arrays)[0]

    ways = {"one step per call": run_steps, "lax.scan of K": run_scan}
    for name, fn in ways.items():  # compile
        cpu = time.process_time()
        jax.block_until_ready(fn(fresh()))
        print(f"{name}: first call (compile + run) {time.process_time() - cpu:.2f} s CPU",
              flush=True)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, fn in ways.items():
            state = fresh()
            wall, cpu = time.perf_counter(), time.process_time()
            jax.block_until_ready(fn(state))
            times[name].append((time.process_time() - cpu, time.perf_counter() - wall))
    first = next(iter(ways))
    print(f"{args.config}, batch {config.batch_size}, K = {num}, {args.rounds} rounds, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name in ways:
        cpu = [c for c, _ in times[name]]
        ratio = [b[0] / t[0] for t, b in zip(times[name], times[first])]
        print(f"{name:18s} CPU µs/step median {statistics.median(cpu) * 1e6 / num:7.1f} "
              f"min {min(cpu) * 1e6 / num:7.1f}; wall median "
              f"{statistics.median(w for _, w in times[name]) * 1e6 / num:7.1f}; "
              f"speed-up per CPU-s over '{first}': {statistics.median(ratio):.2f} "
              f"[{min(ratio):.2f}-{max(ratio):.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
