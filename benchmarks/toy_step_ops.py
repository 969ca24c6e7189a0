"""Operation count and CPU cost of the fused toy step for variants of its whole-tree statistics,
compiled side by side in one process (issue 21 session 8).

Each variant swaps one helper of jaxgan.core.step while `jit_train_loop` (K steps in one
`lax.scan`, batches drawn on the device, as `jaxgan train` runs the toy experiments) is traced and
compiled with `.lower().compile()`; the executables then run in alternating rounds from the same
state and keys. Variants:

  per_leaf_finite  the finiteness check leaf by leaf (the step before session 8)
  shipped          the step as it is (tree_stats.all_finite: one fused check)
  concat_norm      shipped + both gradient norms from one concatenated vector (not shipped: it
                   changes the rounding of the 10-seed vmapped step's state)

Reported per variant: the scan body's HLO ops by kind (fusion, copy, dot, ...; XLA's CPU runtime
runs each fusion, copy and dot as one thunk), the median and minimum CPU µs per step over the
rounds, the median wall µs, and whether the final state equals the first variant's bit for bit.
Usage:
  PYTHONPATH=$PWD nice -n 10 python benchmarks/toy_step_ops.py --config grid25 [--rounds 6]
  NPROC=1 PYTHONPATH=$PWD nice -n 10 python benchmarks/toy_step_ops.py   # one XLA worker thread
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan import data
from jaxgan.config import build_gan
from jaxgan.core import step as core_step
from jaxgan.training.run import draw_step_batch
from jaxgan.training.run import data_options, init_state
from jaxgan.training.run_config import load_experiment


def _per_leaf_finite(tree):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def _concat_norm(tree):
    flat = jnp.concatenate([jnp.ravel(leaf) for leaf in jax.tree.leaves(tree)])
    return jnp.sqrt(jnp.sum(jnp.square(flat)))


class _Optax:
    """core_step's `optax` with `tree.norm` replaced (the rest passed through)."""

    def __init__(self, norm):
        import optax
        self._optax, self.tree = optax, type("tree", (), {"norm": staticmethod(norm)})

    def __getattr__(self, name):
        return getattr(self._optax, name)


VARIANTS = {
    "per_leaf_finite": {"all_finite": _per_leaf_finite},
    "shipped": {},
    "concat_norm": {"optax": _Optax(_concat_norm)},
}


@contextlib.contextmanager
def patched(names: dict):
    old = {name: getattr(core_step, name) for name in names}
    for name, value in names.items():
        setattr(core_step, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(core_step, name, value)


def body_op_counts(hlo: str) -> collections.Counter:
    """Ops by kind in the largest `while` body of compiled HLO text (the scan's step)."""
    bodies, name = {}, None
    for line in hlo.splitlines():
        if line and not line.startswith(" ") and line.rstrip().endswith("{"):
            name = re.match(r"^(?:ENTRY )?%?([\w.\-]+)", line).group(1)
            bodies[name] = []
        elif name and " = " in line:
            rhs = line.split(" = ", 1)[1]
            match = (re.search(r"[\]\})] ([a-z][\w\-]*)\(", rhs)
                     or re.match(r"\S+ ([a-z][\w\-]*)\(", rhs))
            bodies[name].append(match.group(1) if match else "?")
    loops = re.findall(r"while\(.*?body=%?([\w.\-]+)", hlo)
    body = max(loops, key=lambda b: len(bodies.get(b, [])))
    counts = collections.Counter(bodies[body])
    for skip in ("get-tuple-element", "tuple", "parameter", "constant", "bitcast"):
        counts.pop(skip, None)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="ring8")
    parser.add_argument("--steps", type=int, default=1000, help="K: steps per timed scan")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)
    config = load_experiment(args.config)
    iterator = data.make_iterator(config.dataset, batch_size=config.batch_size, seed=0,
                                  **data_options(config))
    gan = build_gan(config, iterator.spec.shape, iterator.spec.num_classes)
    key, num = jax.random.PRNGKey(0), args.steps
    device_data = iterator.device_batches()
    plans = iterator.take_plans(num).reshape(num, 1, 3)
    state0 = init_state(gan, key)
    compiled = {}
    for variant in args.variants.split(","):
        with patched(VARIANTS[variant]):
            fused = core_step.jit_train_loop(gan, draw_step_batch(device_data.draw, 1))
            cpu = time.process_time()
            compiled[variant] = fused.lower(state0, plans, key, 0, device_data.arrays).compile()
            ops = body_op_counts(compiled[variant].as_text())
        print(f"{variant}: compiled in {time.process_time() - cpu:.1f} CPU-s; scan body "
              f"{sum(ops.values())} ops: {dict(ops.most_common())}", flush=True)

    def fresh():
        return jax.block_until_ready(jax.tree.map(lambda x: x.copy(), state0))

    times = {v: [] for v in compiled}
    finals = {}
    for _ in range(args.rounds):
        for variant, executable in compiled.items():
            state = fresh()
            wall, cpu = time.perf_counter(), time.process_time()
            finals[variant] = jax.block_until_ready(
                executable(state, plans, key, 0, device_data.arrays))[0]
            times[variant].append((time.process_time() - cpu, time.perf_counter() - wall))
    print(f"{args.config}, K = {num}, {args.rounds} rounds, NPROC "
          f"{os.environ.get('NPROC', 'unset')}, load average {os.getloadavg()[0]:.1f}")
    first = next(iter(compiled))
    for variant in compiled:
        cpu = [c for c, _ in times[variant]]
        same = all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(finals[variant]),
                                                        jax.tree.leaves(finals[first])))
        print(f"{variant:16s} CPU µs/step median {statistics.median(cpu) * 1e6 / num:7.1f} "
              f"min {min(cpu) * 1e6 / num:7.1f}; wall median "
              f"{statistics.median(w for _, w in times[variant]) * 1e6 / num:7.1f}; state "
              f"bit-identical to {first}: {same}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
