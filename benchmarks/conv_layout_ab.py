"""Canonical-layout convolution gradients against plain lax ones, in one process, interleaved.

Builds the DCGAN training step of benchmarks/throughput.py (base config, random data) in each
variant LAYOUT:K:N of `--variants`: LAYOUT 'canonical' (every convolution through
jaxgan.models.canonical_conv, the default on CPU) or 'lax' (`canonical_conv.CANONICAL_BACKENDS =
()`: plain `lax.conv_general_dilated` with JAX's transpose rules, as before issue 21 session 7),
K steps per compiled call (K = 1: `jit_train_step`, else the fused `jit_train_loop` scan), N
critic steps per step. All variants are compiled first, then called in turn, one call each per
round, for `--calls` rounds after one warm-up round, so all see the same machine load. Prints one
JSON line per variant: median and minimum wall ms per training step, median process CPU ms per
step (all threads), compile wall / CPU seconds.

    python benchmarks/conv_layout_ab.py --variants canonical:1:1,lax:1:1,canonical:5:1 --calls 10
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxgan.config import base_config, build_gan  # noqa: E402
from jaxgan.core.state import create_train_state  # noqa: E402
from jaxgan.core.step import jit_train_loop, jit_train_step, step_key  # noqa: E402
from jaxgan.models import canonical_conv  # noqa: E402


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def build(a, layout: str, k: int, n_critic: int):
    """(compiled call, state, args, compile wall s, compile CPU s) of one variant."""
    saved = canonical_conv.CANONICAL_BACKENDS
    canonical_conv.CANONICAL_BACKENDS = {"canonical": saved, "lax": ()}[layout]
    try:
        c = base_config()
        c.model, c.resolution, c.channels = "dcgan", a.resolution, 3
        c.batch_size, c.n_critic = a.batch, n_critic
        gan = build_gan(c, (a.resolution, a.resolution, 3))
        state = create_train_state(gan, jax.random.key(0))
        rows = (n_critic * a.batch, a.resolution, a.resolution, 3)
        rng = np.random.default_rng(0)
        if k == 1:
            args = ({"x": rng.uniform(-1, 1, rows).astype(np.float32)},
                    step_key(jax.random.key(1), 0))
            fn = jit_train_step(gan)
        else:
            args = ({"x": rng.uniform(-1, 1, (k,) + rows).astype(np.float32)},
                    jax.random.key(1), 0)
            fn = jit_train_loop(gan)
        compiled, wall, cpu = _timed(lambda: fn.lower(state, *args).compile())
    finally:
        canonical_conv.CANONICAL_BACKENDS = saved
    return compiled, state, args, wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--variants", default="canonical:1:1,lax:1:1",
                   help="comma-separated LAYOUT:K:N_CRITIC, LAYOUT canonical | lax")
    p.add_argument("--calls", type=int, default=10, help="timed calls of each, in turn")
    a = p.parse_args()
    specs = [(lay, int(k), int(n)) for lay, k, n in (v.split(":") for v in a.variants.split(","))]
    variants = {spec: build(a, *spec) for spec in specs}
    boxes = {spec: v[1] for spec, v in variants.items()}
    times = {spec: [] for spec in variants}
    for i in range(a.calls + 1):  # the first round warms up
        for spec, (compiled, _, args, _, _) in variants.items():
            def call(spec=spec, compiled=compiled, args=args):
                boxes[spec], metrics = compiled(boxes[spec], *args)
                jax.block_until_ready((boxes[spec], metrics))
            _, wall, cpu = _timed(call)
            if i:
                times[spec].append((wall / spec[1], cpu / spec[1]))
    for spec, (_, _, _, cw, cc) in variants.items():
        print(json.dumps({
            "layout": spec[0], "steps_per_call": spec[1], "n_critic": spec[2],
            "resolution": a.resolution, "batch": a.batch, "calls": a.calls,
            "ms_per_step": statistics.median(w for w, _ in times[spec]) * 1e3,
            "min_ms_per_step": min(w for w, _ in times[spec]) * 1e3,
            "cpu_ms_per_step": statistics.median(c for _, c in times[spec]) * 1e3,
            "compile_s": cw, "compile_cpu_s": cc, "load_average": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
