"""Per-layer speed of the DCGAN 4x4 stride-2 layers in each impl, and of BatchNorm.

For every layer shape of DCGAN-32 (and DCGAN-64 with --resolution 64) and every impl of
jaxgan.models.layers, times the jitted forward and the jitted forward+backward (gradients with
respect to the input and the kernel of <layer(x, k), g>). Implementations are run round-robin,
`--reps` times each, and the minimum is reported, both wall-clock and process CPU time (the sum
over threads, steadier than wall time on a shared machine). BatchNorm (flax, training mode) is timed
the same way on the same activations.

  python benchmarks/layer_speed.py [--batch 64] [--resolution 32] [--reps 7] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxgan.models import layers  # noqa: E402


def _shapes(resolution: int, channels: int, width: int) -> dict[str, list[tuple[int, int, int]]]:
    """(input size, in channels, out channels) of every stride-2 layer of DCGAN-`resolution`."""
    n = {16: 2, 32: 3, 64: 4}[resolution]
    g_feats = [width * 2 ** (n - 1 - i) for i in range(n)] + [channels]
    up = [(4 * 2 ** i, g_feats[i], g_feats[i + 1]) for i in range(n)]
    d_feats = [channels] + [width * 2 ** i for i in range(n)]
    down = [(resolution // 2 ** i, d_feats[i], d_feats[i + 1]) for i in range(n)]
    return {"ConvTranspose4x4S2": up, "Conv4x4S2": down}


PARTS = ("fwd", "dx", "dk")  # forward; gradient w.r.t. the input; w.r.t. the kernel (BN: scale, bias)


def _timer(fn: Callable, args: tuple) -> Callable[[], tuple[float, float]]:
    jax.block_until_ready(fn(*args))  # compile

    def once() -> tuple[float, float]:
        w, c = time.perf_counter(), time.process_time()
        jax.block_until_ready(fn(*args))
        return time.perf_counter() - w, time.process_time() - c
    return once


def _layer_cases(batch: int, layer: str, size: int, c: int, f: int, key: jax.Array):
    registry = {"ConvTranspose4x4S2": layers.CONV_TRANSPOSE_4X4_S2,
                "Conv4x4S2": layers.CONV_4X4_S2}[layer]
    kx, kk, kg = jax.random.split(key, 3)
    x = jax.random.normal(kx, (batch, size, size, c))
    k = 0.02 * jax.random.normal(kk, (4, 4, c, f))
    out = jax.eval_shape(layers.conv_4x4_s2_xla if layer == "Conv4x4S2"
                         else layers.conv_transpose_4x4_s2_xla, x, k)
    g = jax.random.normal(kg, out.shape)
    cases = {}
    for impl, fn in registry.items():
        loss = lambda x, k, g, fn=fn: jnp.vdot(fn(x, k), g)
        cases[impl] = {"fwd": _timer(jax.jit(fn), (x, k)),
                       "dx": _timer(jax.jit(jax.grad(loss, argnums=0)), (x, k, g)),
                       "dk": _timer(jax.jit(jax.grad(loss, argnums=1)), (x, k, g))}
    # BatchNorm on this layer's output, as in the models (training mode, batch statistics).
    bn = nn.BatchNorm(use_running_average=False, momentum=0.9, epsilon=1e-5)
    y = jax.random.normal(kg, out.shape)
    variables = bn.init(key, y)

    def bn_apply(params, y):
        out, _ = bn.apply({"params": params, "batch_stats": variables["batch_stats"]}, y,
                          mutable=["batch_stats"])
        return out
    bn_loss = lambda p, y, g: jnp.vdot(bn_apply(p, y), g)
    cases["batchnorm"] = {"fwd": _timer(jax.jit(bn_apply), (variables["params"], y)),
                          "dx": _timer(jax.jit(jax.grad(bn_loss, argnums=1)),
                                       (variables["params"], y, g)),
                          "dk": _timer(jax.jit(jax.grad(bn_loss, argnums=0)),
                                       (variables["params"], y, g))}
    flops = 2 * batch * (size * size * 16 * c * f if layer == "ConvTranspose4x4S2"
                         else (size // 2) ** 2 * 16 * c * f)
    return cases, flops


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--resolution", type=int, default=32, choices=(16, 32, 64))
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--json", action="store_true", help="also print one JSON object per row")
    a = p.parse_args(argv)
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}; load average "
          f"{os.getloadavg()[0]:.1f}; XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r}")
    print(f"{'layer':<20}{'in':>12}{'out':>6}{'impl':>16}{'GFLOP':>7}"
          + "".join(f"{part + ' ms':>9}{'(cpu)':>8}" for part in PARTS))
    key = jax.random.key(0)
    for layer, shapes in _shapes(a.resolution, a.channels, a.width).items():
        for size, c, f in shapes:
            cases, flops = _layer_cases(a.batch, layer, size, c, f, key)
            best = {(impl, part): (float("inf"), float("inf")) for impl in cases
                    for part in PARTS}
            for _ in range(a.reps):  # round-robin, so load spikes hit every impl alike
                for impl, parts in cases.items():
                    for part, once in parts.items():
                        w, cpu = once()
                        bw, bc = best[impl, part]
                        best[impl, part] = (min(bw, w), min(bc, cpu))
            for impl in cases:
                gf = 0.0 if impl == "batchnorm" else flops / 1e9
                times = "".join(f"{best[impl, part][0] * 1e3:>9.2f}{best[impl, part][1] * 1e3:>8.2f}"
                                for part in PARTS)
                print(f"{layer:<20}{f'{size}x{size}x{c}':>12}{f:>6}{impl:>16}{gf:>7.2f}{times}")
                if a.json:
                    print(json.dumps({"layer": layer, "size": size, "in": c, "out": f,
                                      "impl": impl, "gflop_fwd": gf, **{
                                          f"{part}_{kind}_ms": best[impl, part][i] * 1e3
                                          for part in PARTS
                                          for i, kind in enumerate(("wall", "cpu"))}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
