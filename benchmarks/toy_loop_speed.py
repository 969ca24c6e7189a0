"""Toy training steps/s of the three loops of `jaxgan train`, side by side in one process.

The shipped toy experiment (experiments/ring8.py or grid25.py: logs, failure monitor, sample
monitor, checkpoints and sample grids as shipped) is trained through
`jaxgan.training.loop.train_and_evaluate` three ways, which end in bit-identical states
(tests/test_resume.py, tests/test_device_data.py):

  per_step     steps_per_call = 1: one compiled call per step, its batch staged from the host
               (the loop before issue 21);
  fused_host   steps_per_call = K: K steps in one lax.scan, the K batches drawn on the host and
               copied in at once (device-resident data switched off);
  fused_device steps_per_call = K: K steps in one lax.scan, batches drawn inside the scan from the
               data's on-device definition (jaxgan.data.iterators.DeviceBatches): only the plans
               (key, batch index) leave the host.

How the rate is measured (issue 21 session 7): a monitor passed to `train_and_evaluate` reads the
wall clock and this process's CPU clock when the loop hands it step s for every s that is a
multiple of K; the rate of a run is (s₂ − s₁) / (t₂ − t₁) between the first such step after
--warmup steps and the last, so set-up, compilation, the first call and the final checkpoint stay
outside the window (everything the loop does per step or per call, the sample monitor every 1,000
steps included, stays inside). The three ways are run in turn, --rounds times, and each round's
ratios to per_step are taken between runs minutes apart at most: on the shared machine the load
moves by several-fold within minutes, and the median of the per-round ratios is the figure to
read (the former short-run/long-run difference method could be thrown off by a load change
between its two runs: it reported per_step at 6,329 steps/s wall and 2,682 per CPU-second idle,
2.4 cores on a 2-core machine, for a loop whose compiled step alone takes ~0.75 ms).
Reported: steps/s from wall time and per CPU-second, per round and their medians.
--xla_threads N sets the environment variable NPROC=N before JAX's CPU client exists (unless
NPROC is already set). XLA sizes the CPU client's thread pools by it (`DefaultThreadPoolSize` in
XLA's xla/pjrt/utils.cc; otherwise the CPU count). With N = 1 each compiled toy step's ~1,000
small thunks run on one worker thread instead of being handed between the two cores (issue 21
session 8: ~35% less CPU per fused step, like `taskset -c 1`, without pinning the Python
thread). It is the process's setting, so it applies to all three ways alike; it slows the
per-step way (benchmarks/README.md, "#21 session 8").
--as_shipped runs each (round, way) in its own fresh process with the XLA threads `jaxgan train`
would give it: per_step as today's loop (`--config.steps_per_call=1 --config.xla_cpu_threads=0`,
NPROC unset: XLA's default pools), the fused ways with the experiment's `xla_cpu_threads` (the
toy presets: 1, NPROC=1). The rounds still alternate, so the ratios are side by side; each child
times its own window as above (its CPU clock is its own process's).
Usage:
  PYTHONPATH=$PWD nice -n 10 python benchmarks/toy_loop_speed.py --config ring8 --steps_per_call 1000
  PYTHONPATH=$PWD nice -n 10 python benchmarks/toy_loop_speed.py --as_shipped
  PYTHONPATH=$PWD nice -n 10 python benchmarks/toy_loop_speed.py --xla_threads 1
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from jaxgan.data import iterators
from jaxgan.training import loop
from jaxgan.training.run_config import load_experiment

WAYS = ("per_step", "fused_host", "fused_device")


class Clock:
    """Monitor: (wall, CPU) clock readings at the steps that are multiples of `every`."""

    def __init__(self, every: int, warmup: int):
        self.every, self.warmup, self.marks = every, warmup, []

    def __call__(self, step: int, metrics) -> None:
        del metrics
        if step >= self.warmup and step % self.every == 0:
            self.marks.append((step, time.perf_counter(), time.process_time()))

    def rates(self) -> tuple[float, float, int]:
        """(steps/s wall, steps per CPU-second, steps) between the first and the last mark."""
        if len(self.marks) < 2:
            raise ValueError("the run is too short for a window: raise --steps or lower --warmup")
        (s1, w1, c1), (s2, w2, c2) = self.marks[0], self.marks[-1]
        return (s2 - s1) / (w2 - w1), (s2 - s1) / (c2 - c1), s2 - s1


def train_rates(config_name: str, way: str, steps: int, steps_per_call: int,
                warmup: int) -> tuple[float, float, int]:
    """Trains the experiment `steps` steps one `way` and returns its `Clock.rates()`."""
    config = load_experiment(config_name)
    config.steps = steps
    config.steps_per_call = 1 if way == "per_step" else steps_per_call
    clock = Clock(steps_per_call, warmup)
    original = iterators.BatchIterator.device_batches
    if way == "fused_host":
        iterators.BatchIterator.device_batches = lambda self, max_bytes=0: None
    try:
        with tempfile.TemporaryDirectory() as workdir:
            loop.train_and_evaluate(config, workdir, monitors=[clock], handle_signals=False,
                                    stream=io.StringIO())
    finally:
        iterators.BatchIterator.device_batches = original
    return clock.rates()


def child_rates(args: argparse.Namespace, way: str) -> tuple[float, float, int]:
    """`train_rates` of one way in a fresh process with the threads `jaxgan train` gives it."""
    threads = 0 if way == "per_step" else load_experiment(args.config).xla_cpu_threads
    env = {k: v for k, v in os.environ.items() if k != "NPROC"}
    if threads > 0:
        env["NPROC"] = str(threads)
    steps = args.per_step_steps if way == "per_step" else args.steps
    out = subprocess.run(
        [sys.executable, __file__, "--child", way, "--config", args.config, "--steps", str(steps),
         "--steps_per_call", str(args.steps_per_call), "--warmup", str(args.warmup)],
        env=env, capture_output=True, text=True, check=True)
    wall, cpu, window = json.loads(out.stdout.strip().splitlines()[-1])
    return wall, cpu, window


def set_xla_threads(threads: int) -> None:
    """NPROC = `threads` for the CPU client not yet created (a value already set is kept)."""
    from jax._src import xla_bridge  # noqa: PLC0415 (whether the backends exist: no public API)

    if xla_bridge.backends_are_initialized():
        raise ValueError("JAX's backends already exist: set NPROC before the first computation")
    os.environ.setdefault("NPROC", str(threads))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="ring8", help="ring8 | grid25 (experiments/)")
    parser.add_argument("--steps_per_call", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=8000, help="steps of each fused run")
    parser.add_argument("--per_step_steps", type=int, default=4000,
                        help="steps of each per_step run (it is the slow one)")
    parser.add_argument("--warmup", type=int, default=2000,
                        help="the window starts at the first multiple of K from this step")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--xla_threads", type=int, default=0,
                        help="set NPROC to this before JAX's CPU client starts (0: leave it)")
    parser.add_argument("--as_shipped", action="store_true",
                        help="each run in a fresh process with the threads jaxgan train uses")
    parser.add_argument("--child", choices=WAYS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(train_rates(args.config, args.child, args.steps, args.steps_per_call,
                                     args.warmup)))
        return 0
    if args.xla_threads > 0:
        set_xla_threads(args.xla_threads)
    nproc = "as shipped, per way" if args.as_shipped else os.environ.get("NPROC", "unset")
    print(f"{args.config}, steps_per_call {args.steps_per_call}, NPROC {nproc}, load average {os.getloadavg()[0]:.1f}", flush=True)
    rates: dict[str, list[tuple[float, float]]] = {way: [] for way in WAYS}
    for r in range(args.rounds):
        for way in WAYS:
            steps = args.per_step_steps if way == "per_step" else args.steps
            wall, cpu, window = (child_rates(args, way) if args.as_shipped else train_rates(
                args.config, way, steps, args.steps_per_call, args.warmup))
            rates[way].append((wall, cpu))
            print(f"round {r + 1} {way:13s} {wall:7.0f} steps/s wall {cpu:7.0f} steps/CPU-s "
                  f"({window} steps; load average {os.getloadavg()[0]:.1f})", flush=True)
    print("medians over rounds (ratios: median of the per-round ratios to per_step):")
    for way in WAYS:
        wall = statistics.median(w for w, _ in rates[way])
        cpu = statistics.median(c for _, c in rates[way])
        ratio_wall = [w / b for (w, _), (b, _) in zip(rates[way], rates["per_step"])]
        ratio_cpu = [c / b for (_, c), (_, b) in zip(rates[way], rates["per_step"])]
        print(f"{way:13s} {wall:7.0f} steps/s wall {cpu:7.0f} steps/CPU-s   x per_step: wall "
              f"{statistics.median(ratio_wall):.2f} [{min(ratio_wall):.2f}-{max(ratio_wall):.2f}]"
              f", CPU {statistics.median(ratio_cpu):.2f} "
              f"[{min(ratio_cpu):.2f}-{max(ratio_cpu):.2f}]")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
