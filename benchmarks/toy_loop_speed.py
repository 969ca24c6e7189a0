"""Toy training steps/s of the three loops of `jaxgan train`, side by side in one process.

The shipped toy experiment (experiments/ring8.py or grid25.py: logs, failure monitor, checkpoints
and sample grids as shipped) is trained through `jaxgan.training.loop.train_and_evaluate` three
ways, which end in bit-identical states (tests/test_resume.py, tests/test_device_data.py):

  per_step     steps_per_call = 1: one compiled call per step, its batch staged from the host
               (the loop before issue 21);
  fused_host   steps_per_call = K: K steps in one lax.scan, the K batches drawn on the host and
               copied in at once (device-resident data switched off);
  fused_device steps_per_call = K: K steps in one lax.scan, batches drawn inside the scan from the
               data's on-device definition (jaxgan.data.iterators.DeviceBatches): only the plans
               (key, batch index) leave the host.

Each way is timed twice, for --short and --long steps, and the rate is (long − short) / (time
difference), so set-up, compilation and the final checkpoint cancel out. Reported: steps/s from
wall time and from this process's CPU time (the machine is shared: CPU time is the steadier
figure), and each way's ratio to per_step. Usage:
  PYTHONPATH=$PWD nice -n 10 python benchmarks/toy_loop_speed.py --config ring8 --steps_per_call 1000
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time

from jaxgan.data import iterators
from jaxgan.training import loop
from jaxgan.training.run_config import load_experiment

WAYS = ("per_step", "fused_host", "fused_device")


def _train(config_name: str, way: str, steps: int, steps_per_call: int) -> tuple[float, float]:
    config = load_experiment(config_name)
    config.steps = steps
    config.steps_per_call = 1 if way == "per_step" else steps_per_call
    original = iterators.BatchIterator.device_batches
    if way == "fused_host":
        iterators.BatchIterator.device_batches = lambda self, max_bytes=0: None
    try:
        with tempfile.TemporaryDirectory() as workdir:
            wall, cpu = time.perf_counter(), time.process_time()
            loop.train_and_evaluate(config, workdir, handle_signals=False, stream=io.StringIO())
            return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        iterators.BatchIterator.device_batches = original


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="ring8", help="ring8 | grid25 (experiments/)")
    parser.add_argument("--steps_per_call", type=int, default=1000)
    parser.add_argument("--short", type=int, default=2000, help="steps of the short run")
    parser.add_argument("--long", type=int, default=12000, help="steps of the long run")
    parser.add_argument("--per_step_long", type=int, default=4000,
                        help="steps of per_step's long run (it is the slow one)")
    args = parser.parse_args(argv)
    rates = {}
    print(f"{args.config}, steps_per_call {args.steps_per_call}, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    for way in WAYS:
        long = args.per_step_long if way == "per_step" else args.long
        wall_s, cpu_s = _train(args.config, way, args.short, args.steps_per_call)
        wall_l, cpu_l = _train(args.config, way, long, args.steps_per_call)
        steps = long - args.short
        rates[way] = (steps / (wall_l - wall_s), steps / (cpu_l - cpu_s))
        print(f"{way:13s} {rates[way][0]:8.0f} steps/s wall  {rates[way][1]:8.0f} steps/s CPU  "
              f"({steps} steps: {wall_l - wall_s:.1f} s wall, {cpu_l - cpu_s:.1f} s CPU; "
              f"runs of {args.short}/{long} steps: {cpu_s:.1f}/{cpu_l:.1f} s CPU)", flush=True)
    base = rates["per_step"]
    for way in WAYS[1:]:
        print(f"{way} / per_step: {rates[way][0] / base[0]:.1f}x wall, "
              f"{rates[way][1] / base[1]:.1f}x CPU")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
