"""One 3×3 64→64 convolution on [32, 32, 32, 64]: forward, kernel gradient and input gradient, at
top level and inside lax.cond, best CPU seconds of 3 runs (benchmarks/README.md "#17 session 6");
`--canonical` uses jaxgan.models.canonical_conv instead of lax.conv_general_dilated.

    python benchmarks/cond_conv.py fwd,fwd_cond,grad,grad_cond,gradx,gradx_cond [--canonical]
"""
import os
import time, resource, jax, jax.numpy as jnp, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
def cpu(): r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
x = jax.random.normal(jax.random.key(0), (32, 32, 32, 64)); w = jax.random.normal(jax.random.key(1), (3, 3, 64, 64))
if "--canonical" in sys.argv:
    from jaxgan.models.canonical_conv import conv2d as conv
else:
    conv = lambda x, w: jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"))
def loss(w, x): return jnp.sum(jnp.tanh(conv(x, w)))
fns = {
 "fwd": lambda w, x, p: conv(x, w),
 "fwd_cond": lambda w, x, p: jax.lax.cond(p, lambda w: conv(x, w), lambda w: jnp.zeros((32, 32, 32, 64)), w),
 "grad": lambda w, x, p: jax.grad(loss)(w, x),
 "grad_cond": lambda w, x, p: jax.lax.cond(p, lambda w: jax.grad(loss)(w, x), jnp.zeros_like, w),
 "gradx": lambda w, x, p: jax.grad(loss, 1)(w, x),
 "gradx_cond": lambda w, x, p: jax.lax.cond(p, lambda w: jax.grad(loss, 1)(w, x), lambda w: jnp.zeros_like(x), w),
}
for name in sys.argv[1].split(","):
    f = jax.jit(fns[name]); jax.block_until_ready(f(w, x, True))
    best = 1e9
    for _ in range(3):
        a, c = time.perf_counter(), cpu(); jax.block_until_ready(f(w, x, True)); best = min(best, cpu() - c)
    print(name, "cpu_s", round(best, 3), flush=True)
    if "dump" in sys.argv: print(f.lower(w, x, True).compile().as_text()[:20000])
