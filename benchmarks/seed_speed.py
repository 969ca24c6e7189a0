"""Time S vmapped seeds against S sequential single-seed runs of the same training.

Three ways to train S seeds of one toy variant (benchmarks/compare_losses.py's config) for --steps
generator steps, each timed from building the GAN to the last step (compilation included):

  vmapped     S seeds in one run: jaxgan.training.seeds.make_multi_seed_loop (the step vmapped over
              seeds, batches drawn on device, `log_every` steps per call), as compare_losses.py
              trains.
  sequential  S separate runs one after another, each the ordinary single-seed path: the jitted step
              (jaxgan.core.step.jit_train_step) called once per step on a batch from the host
              iterator (jaxgan.data.make_iterator), compiled once per run as separate runs would
              be.
  sequential_fused
              S separate runs through the same fused loop as `vmapped` with S = 1 (batches on device,
              `log_every` steps per call), compiled once and reused by all runs: the fastest
              sequential baseline we have.

Prints wall and process CPU seconds (CPU time is less sensitive to other load on the machine) and
the load average. Usage:
  PYTHONPATH=$PWD python benchmarks/seed_speed.py --dataset grid25 --seeds 10 --steps 2000
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import compare_losses  # noqa: E402
from jaxgan.config import build_gan  # noqa: E402
from jaxgan.core.state import create_train_state  # noqa: E402
from jaxgan.core.step import jit_train_step, step_key  # noqa: E402
from jaxgan.data.toy_sampler import mixture_batch_sampler  # noqa: E402
from jaxgan.training import seeds  # noqa: E402
from jaxgan.training.run_config import apply_assignments  # noqa: E402


def _timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def run_vmapped(config, spec, num_seeds: int) -> None:
    gan = build_gan(config, spec.shape)
    draw = mixture_batch_sampler(spec.mode_centers, spec.mode_std,
                                 config.batch_size * config.n_critic)
    init_keys, data_keys, step_keys, _ = compare_losses._split_seed_keys(config.seed, num_seeds)
    states = seeds.create_seed_states(gan, init_keys)
    loop = seeds.make_multi_seed_loop(gan, lambda k: {"x": draw(k)["x"]}, config.log_every,
                                      seed_map=config.seed_map)
    for start in range(0, config.steps, config.log_every):
        states, _ = loop(states, data_keys, step_keys, start)
    jax.block_until_ready(states)


def run_sequential(config, spec, num_seeds: int) -> None:
    from jaxgan.data import make_iterator

    for i in range(num_seeds):
        gan = build_gan(config, spec.shape)
        state = create_train_state(gan, jax.random.PRNGKey(config.seed + i))
        base_key = jax.random.PRNGKey(10_000 + config.seed + i)
        step = jit_train_step(gan)
        batches = make_iterator(config.dataset, batch_size=config.batch_size * config.n_critic,
                                seed=config.seed + i)
        for t in range(config.steps):
            state, _ = step(state, {"x": next(batches)["x"]}, step_key(base_key, t))
        jax.block_until_ready(state)


def run_sequential_fused(config, spec, num_seeds: int) -> None:
    gan = build_gan(config, spec.shape)
    draw = mixture_batch_sampler(spec.mode_centers, spec.mode_std,
                                 config.batch_size * config.n_critic)
    init_keys, data_keys, step_keys, _ = compare_losses._split_seed_keys(config.seed, num_seeds)
    loop = seeds.make_multi_seed_loop(gan, lambda k: {"x": draw(k)["x"]}, config.log_every)
    for i in range(num_seeds):
        one = slice(i, i + 1)
        state = seeds.create_seed_states(gan, init_keys[one])
        for start in range(0, config.steps, config.log_every):
            state, _ = loop(state, data_keys[one], step_keys[one], start)
        jax.block_until_ready(state)


MODES = {"vmapped": run_vmapped, "sequential": run_sequential,
         "sequential_fused": run_sequential_fused}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="grid25")
    parser.add_argument("--variant", default="non_saturating")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    from jaxgan.data import get_spec

    base = compare_losses.CONFIGS[args.dataset](args.dataset)
    apply_assignments(base, args.set + [f"steps={args.steps}"])
    config = compare_losses.variant_config(base, args.variant)
    spec = get_spec(args.dataset)
    print(f"{args.dataset} {args.variant}: {args.seeds} seeds x {args.steps} steps, batch "
          f"{config.batch_size}, G {tuple(config.mlp_g_hidden)}, D {tuple(config.mlp_d_hidden)} "
          f"{config.mlp_d_activation}; {os.cpu_count()} CPUs, jax {jax.__version__}")
    for mode in args.modes.split(","):
        load = os.getloadavg()[0]
        wall, cpu = _timed(lambda: MODES[mode](config, spec, args.seeds))
        print(f"{mode:>17}: wall {wall:7.1f} s  cpu {cpu:7.1f} s  "
              f"(load average before {load:.1f}, after {os.getloadavg()[0]:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
