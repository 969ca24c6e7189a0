"""Threefry on the CPU without a rolled loop: the same random bits, fewer kernel launches.

JAX lowers its threefry2x32 hash (Salmon et al. 2011, 20 rounds) to one straight-line function on
GPU and TPU but, on the CPU, to an XLA `while` loop of 5 iterations (to save compile time;
jax/_src/random/threefry2x32.py, `_threefry2x32_cpu_lowering_rule`, use_rolled_loops=True). Inside
a fused training loop (`lax.scan` over steps) every random draw then runs as a loop of small
kernels; for the tiny toy MLPs these loops are ~25% of a step (measured: 0.48 → 0.36 ms CPU per
fused ring8 step; benchmarks/README.md, issue 21). `use_unrolled_threefry_on_cpu()` registers the
unrolled lowering JAX itself uses elsewhere for the CPU too: the same integer operations in the
same order, so every key and every draw is bit-identical (tests/test_device_data.py), only the
compiled program differs. It acts on functions compiled after the call; it is idempotent, and it
does nothing where this JAX version lays its internals out otherwise.
"""
from __future__ import annotations

_DONE = False


def use_unrolled_threefry_on_cpu() -> bool:
    """Lowers threefry2x32 unrolled on the CPU from now on; True when it is (now or before)."""
    global _DONE
    if _DONE:
        return True
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as threefry
        mlir.register_lowering(threefry.threefry2x32_p, threefry._threefry2x32_lowering_rule,
                               platform="cpu")
    except (ImportError, AttributeError):  # another JAX layout: keep its own lowering
        return False
    _DONE = True
    return True


def use_rolled_threefry_on_cpu() -> bool:
    """JAX's own CPU lowering again (a rolled loop); for comparisons and tests."""
    global _DONE
    try:
        from jax._src.interpreters import mlir
        from jax._src.random import threefry2x32 as threefry
        mlir.register_lowering(threefry.threefry2x32_p,
                               threefry._threefry2x32_cpu_lowering_rule, platform="cpu")
    except (ImportError, AttributeError):
        return False
    _DONE = False
    return True
