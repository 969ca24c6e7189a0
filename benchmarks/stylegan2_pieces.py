"""Compile and run cost of the pieces of the StyleGAN2-ADA step (issue 17, benchmarks/README.md
"#17 session 6"): the `stylegan2_cifar10` config with channel_max CH, batch $B (32), ADA on at
p = 0.5; each piece jitted, lowered (StableHLO size), compiled (optimised HLO size, op counts),
run once with and N - 1 times after compilation; one JSON line per piece (wall s, CPU s).

    python benchmarks/stylegan2_pieces.py CH PIECE[,PIECE...] [N]

Pieces: G, D, Dgrad, Ggrad, ada, adagrad, r1, r1_noada (p = 0), r1_fwd, r1_fwd_noada, r1_cond
(R1's gradient inside lax.cond(True)), r1_cond_false, step, step_nor1 (r1_gamma 0), step_noada,
step_nor1_noada (the whole jaxgan.core.step.train_step at step 0, an R1 step).
"""
import os, sys, time, re, json, collections, resource
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jax, jax.numpy as jnp, numpy as np
from jaxgan.config import build_gan
from jaxgan.core.state import create_train_state
from jaxgan.core.step import jit_train_step, step_key
from jaxgan.training.run_config import load_experiment

ch = int(sys.argv[1]); pieces = sys.argv[2].split(","); nrun = int(sys.argv[3]) if len(sys.argv) > 3 else 1
B = int(os.environ.get("B", 32))

def cfg(**kw):
    c = load_experiment(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "experiments", "stylegan2_cifar10.py"))
    c.channel_max = ch; c.batch_size = B; c.ada_p_init = 0.5
    for k, v in kw.items(): setattr(c, k, v)
    return c

def cpu(): r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime

def ops(txt):
    cnt = collections.Counter(re.findall(r"= [a-z0-9\[\],{} ]*? ([a-z\-]+)\(", txt))
    return cnt

def measure(name, fn, *args):
    w0, c0 = time.perf_counter(), cpu()
    low = jax.jit(fn).lower(*args)
    txt = low.as_text()
    w1, c1 = time.perf_counter(), cpu()
    comp = low.compile()
    w2, c2 = time.perf_counter(), cpu()
    ctxt = comp.as_text()
    out = jax.block_until_ready(comp(*args))
    w3, c3 = time.perf_counter(), cpu()
    runs = []
    for _ in range(nrun - 1):
        a, b = time.perf_counter(), cpu(); jax.block_until_ready(comp(*args)); runs.append((time.perf_counter() - a, cpu() - b))
    oc = ops(ctxt)
    top = {k: oc[k] for k in ("convolution", "fusion", "gather", "scatter", "while", "conditional", "dot", "custom-call", "call")}
    try:
        fl = comp.cost_analysis(); fl = (fl[0] if isinstance(fl, (list, tuple)) else fl).get("flops")
    except Exception: fl = None
    row = dict(piece=name, ch=ch, B=B, lower_s=round(w1 - w0, 1), lower_cpu=round(c1 - c0, 1),
               compile_s=round(w2 - w1, 1), compile_cpu=round(c2 - c1, 1), first_run_s=round(w3 - w2, 2), first_run_cpu=round(c3 - c2, 2),
               runs=[(round(a, 2), round(b, 2)) for a, b in runs], stablehlo_chars=len(txt), hlo_chars=len(ctxt), ops=top,
               gflop=None if fl is None else round(fl / 1e9, 1), load=os.getloadavg()[0],
               rss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2))
    print(json.dumps(row), flush=True)
    return out

shape = (32, 32, 3)
rng = np.random.default_rng(0)
x = jnp.asarray(rng.uniform(-1, 1, (B,) + shape).astype(np.float32))
lab = jnp.asarray(rng.integers(0, 10, B).astype(np.int32))
for piece in pieces:
    kw = {}
    if piece in ("step_nor1", "step_nor1_noada"): kw["r1_gamma"] = 0.0
    if piece in ("step_noada", "step_nor1_noada"): kw.update(ada_target=0.0, ada_p_init=0.0)
    gan = build_gan(cfg(**kw), shape, num_classes=10)
    state = create_train_state(gan, jax.random.key(0))
    gv = {"params": state.generator.params, "batch_stats": state.generator.batch_stats}
    dv = {"params": state.discriminator.params}
    z = jax.random.normal(jax.random.key(1), (B, gan.latent_dim))
    if piece == "G":
        measure(piece, lambda v, z, y: gan.apply_generator(v, z, y, train=False), gv, z, lab)
    elif piece == "D":
        measure(piece, lambda v, x, y: gan.apply_discriminator(v, x, y, train=True), dv, x, lab)
    elif piece == "Dgrad":
        f = lambda p, x, y: jax.grad(lambda p: jnp.sum(gan.discriminator.apply({"params": p}, x, y, True)))(p)
        measure(piece, f, dv["params"], x, lab)
    elif piece == "Ggrad":
        f = lambda p, z, y: jax.grad(lambda p: jnp.sum(gan.generator.apply({"params": p, "batch_stats": gv["batch_stats"]}, z, y, False)))(p)
        measure(piece, f, gv["params"], z, lab)
    elif piece == "ada":
        pipe = gan.training.ada_pipeline
        measure(piece, lambda x, k: pipe(x, k, 0.5), x, jax.random.key(3))
    elif piece == "adagrad":
        pipe = gan.training.ada_pipeline
        measure(piece, lambda x, k: jax.grad(lambda x: jnp.sum(pipe(x, k, 0.5) ** 2))(x), x, jax.random.key(3))
    elif piece in ("r1", "r1_noada", "r1_fwd", "r1_fwd_noada"):
        from jaxgan.core.stylegan_step import r1_term
        tr = gan.training
        pp = 0.0 if "noada" in piece else 0.5
        def f(p, x, y, k):
            def loss(p):
                d_fn = lambda x: tr.run_d(gan, p, x, y, k, pp)
                return r1_term(d_fn, x, 0.01)[0]
            return jax.grad(loss)(p) if not piece.startswith("r1_fwd") else loss(p)
        measure(piece, f, dv["params"], x, lab, jax.random.key(4))
    elif piece in ("r1_cond", "r1_cond_false"):
        from jaxgan.core.stylegan_step import r1_term
        tr = gan.training
        def f(p, x, y, k, pred):
            def loss(p):
                d_fn = lambda x: tr.run_d(gan, p, x, y, k, 0.5)
                return r1_term(d_fn, x, 0.01)[0]
            return jax.lax.cond(pred, lambda p: jax.grad(loss)(p), lambda p: jax.tree.map(jnp.zeros_like, p), p)
        measure(piece, f, dv["params"], x, lab, jax.random.key(4), jnp.asarray(piece == "r1_cond"))
    elif piece.startswith("step"):
        batch = {"x": x, "label": lab}
        from jaxgan.core.step import train_step
        measure(piece, lambda s, b, k: train_step(gan, s, b, k), state, batch, step_key(jax.random.key(2), 1))
