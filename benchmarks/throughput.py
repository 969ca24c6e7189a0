"""Throughput of jaxgan's jitted training step: ms/step, images/s, FLOPs and the matmul peak.

Builds the GAN from `jaxgan.config.base_config()` with the chosen architecture, resolution,
channels, batch, loss and parallel mode (jaxgan.config.build_gan, jaxgan.training.parallel), runs
the compiled step on a fixed random batch, and times it after warm-up: each step is synchronised
(`jax.block_until_ready` on the new state and metrics), the median over `--steps` is reported
(minimum and process CPU time too: on a shared machine they show how much of the wall time was
waiting for a core).

--arch resnet / biggan benchmark the SNGAN / BigGAN networks of experiments/sngan_cifar10.py and
biggan_cifar10.py (jaxgan.config.presets; BigGAN class-conditional, random labels of 10 classes);
their 3×3 convolutions are XLA's, so for them the two FLOP counts below are the same.
--arch stylegan2 benchmarks experiments/stylegan2_cifar10.py (the ADA `cifar` config,
class-conditional, ADA on at p = 0.5, the StyleGAN2 step of jaxgan.core.stylegan_step; the median
step mixes the steps with and without the lazy R1 in their 15:1 ratio only over ≥ 16 steps, so one
step with the lazy R1 is also timed on its own, `r1_step_ms`, and `amortized_ms_per_step` =
(r1_step + 15·median)/16) and also times G alone: one forward pass of the generator
(`g_ms_per_batch`, `g_images_per_s`, `g_flops_per_batch`, the first call with its compilation
`g_first_call_s`). `--channel-max N` narrows the StyleGAN2 networks (every width min(32768 / res,
N)). `compile_s` / `compile_cpu_s` are the wall / CPU seconds of the first step, compilation
included.

FLOPs per step come from XLA's cost analysis of the lowered step:
  flops_per_step           the direct-convolution count: the same step lowered with
                           conv_impl='matmul', where every convolution is an explicit matrix
                           product that XLA counts exactly (the algorithm-independent work;
                           what "achieved GFLOP/s" and the fraction of peak use);
  executed_flops_per_step  the step as it runs (fewer with the Winograd forms, which do 9
                           multiplications where the direct form does 16).
The matmul peak is the best GFLOP/s of a float32 [n, n] x [n, n] product measured in the same
run. With --torch, the PyTorch reference step (benchmarks/torch_reference.py) runs interleaved,
step for step, so both see the same machine load.

With --steps-per-call K the timed unit is one compiled call of K fused steps
(jaxgan.core.step.jit_train_loop, the loop `config.steps_per_call` uses), on K staged batches;
times, FLOPs are reported per step. With --memory, peak_memory_bytes is XLA's memory analysis of
one compiled call (arguments + outputs + temporaries − donated buffers).

  python benchmarks/throughput.py --arch dcgan --resolution 32 --channels 3 --batch 64 \\
      --steps 20 [--conv-impl auto] [--parallel jit] [--compute-dtype bfloat16] \\
      [--steps-per-call 10] [--torch [--torch-device cuda]] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from jaxgan.config import base_config, build_gan, presets  # noqa: E402
from jaxgan.core.losses import LOSSES  # noqa: E402
from jaxgan.core.state import create_train_state  # noqa: E402
from jaxgan.core.step import jit_train_loop, step_key  # noqa: E402
from jaxgan.models import MODELS  # noqa: E402
from jaxgan.models.layers import MODEL_CONV_IMPLS  # noqa: E402
from jaxgan.training import parallel  # noqa: E402
from jaxgan.training.run_config import load_experiment  # noqa: E402

PARALLEL_CHOICES = ("jit", "pmap", "shard_map")


def matmul_peak_gflops(n: int = 2048, reps: int = 5) -> float:
    """Best GFLOP/s of a jitted float32 [n, n] @ [n, n] (2n³ FLOPs) over `reps` runs."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    mm = jax.jit(jnp.dot)
    mm(a, b).block_until_ready()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        mm(a, b).block_until_ready()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


# The ResNet families are benchmarked as their CIFAR experiments build them (widths, attention,
# spectral norm, class-conditional BatchNorm; jaxgan.config.presets), with 10 classes.
RESNET_PRESETS = {"resnet": presets.sngan_images, "biggan": presets.biggan_images}
STYLEGAN2_EXPERIMENT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                    "experiments", "stylegan2_cifar10.py")
NUM_CLASSES = 10


def _config(a: argparse.Namespace, conv_impl: str):
    if a.arch == "stylegan2":
        c = load_experiment(STYLEGAN2_EXPERIMENT)
        c.ada_p_init = 0.5
        if a.channel_max:
            c.channel_max = a.channel_max
    else:
        c = (RESNET_PRESETS[a.arch]("cifar10", a.resolution, a.channels)
             if a.arch in RESNET_PRESETS else base_config())
    c.model, c.loss, c.batch_size, c.n_critic = a.arch, a.loss, a.batch, a.n_critic
    c.resolution, c.channels, c.conv_impl = a.resolution, a.channels, conv_impl
    c.compute_dtype = a.compute_dtype
    return c


def _data_shape(a: argparse.Namespace) -> tuple[int, ...]:
    return (2,) if a.arch == "mlp" else (a.resolution, a.resolution, a.channels)


def _num_classes(config) -> int:
    return NUM_CLASSES if config.get("conditioning", "none") != "none" else 0


def _lowered_flops(compiled: parallel.CompiledStep, state, batch, key) -> float | None:
    """XLA's FLOP count of the lowered step over all devices; None where unavailable."""
    try:
        cost = compiled.step.lower(state, batch, key).cost_analysis()
    except Exception:  # noqa: BLE001 - cost analysis is optional
        return None
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    if not cost or "flops" not in cost:
        return None
    # pmap and shard_map lower the per-device program.
    per_program = compiled.num_devices if compiled.mode in ("pmap", "shard_map") else 1
    return float(cost["flops"]) * per_program


def _build(a: argparse.Namespace, conv_impl: str, devices: list):
    mode = a.parallel
    config = _config(a, conv_impl)
    gan = build_gan(config, _data_shape(a), num_classes=_num_classes(config),
                    axis_name=parallel.step_axis_name(mode))
    compiled = parallel.compile_train_step(gan, mode, devices)
    state = compiled.put_state(create_train_state(gan, jax.random.key(a.seed)))
    rows = a.n_critic * a.batch
    rng = np.random.default_rng(a.seed)
    batch = {"x": rng.uniform(-1, 1, (rows,) + _data_shape(a)).astype(np.float32)}
    if gan.num_classes:
        batch["label"] = rng.integers(0, gan.num_classes, rows).astype(np.int32)
    if a.steps_per_call > 1:  # K steps fused in one lax.scan call, K batches staged at once
        loop = jit_train_loop(gan)
        stacked = jax.device_put(jax.tree.map(lambda v: np.stack([v] * a.steps_per_call), batch),
                                 devices[0])
        return FusedSteps(loop, a.steps_per_call), state, stacked
    return compiled, state, compiled.put_batch(batch)


class FusedSteps:
    """K training steps per call (jaxgan.core.step.jit_train_loop), called like one step:
    `(state, stacked_batches, key) -> (state, metrics)`; the key is the step key of the call's
    first step, and step i of the call uses fold_in(key, i) (the timing does not depend on it)."""

    mode, num_devices = "jit", 1

    def __init__(self, loop, k: int):
        self.loop, self.k = loop, k
        self.step = self  # what _lowered_flops lowers

    def __call__(self, state, batches, key):
        return self.loop(state, batches, key, jnp.int32(0))

    def lower(self, state, batches, key):
        return self.loop.lower(state, batches, key, jnp.int32(0))


def _step_flops(a: argparse.Namespace, conv_impl: str, devices: list, key) -> float | None:
    """FLOPs of one step, lowered from a K = 1 build: XLA's cost analysis counts a while loop's
    body once, not once per trip, so a fused K-step call's count is not K steps' count."""
    one = argparse.Namespace(**{**vars(a), "steps_per_call": 1})
    compiled, state, batch = _build(one, conv_impl, devices)
    return _lowered_flops(compiled, state, batch, key)


def _peak_memory_bytes(compiled, state, batch, key) -> int | None:
    """XLA's memory analysis of the compiled call: arguments + outputs + temporaries − aliased
    (donated) bytes, the device memory one call holds at its peak; None where unavailable."""
    try:
        m = compiled.step.lower(state, batch, key).compile().memory_analysis()
    except Exception:  # noqa: BLE001 - memory analysis is optional (backend-dependent)
        return None
    m = m[0] if isinstance(m, (list, tuple)) else m
    if m is None:
        return None
    return int(m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
               - m.alias_size_in_bytes)

def generator_throughput(a: argparse.Namespace) -> dict:
    """G alone: median wall ms of one jitted forward pass (eval mode) of a batch, and its FLOPs."""
    config = _config(a, a.conv_impl)
    gan = build_gan(config, _data_shape(a), num_classes=_num_classes(config))
    state = create_train_state(gan, jax.random.key(a.seed))
    z = jax.random.normal(jax.random.key(a.seed + 2), (a.batch, gan.latent_dim))
    labels = jnp.arange(a.batch) % gan.num_classes if gan.num_classes else None
    variables = state.sampling_variables()
    forward = jax.jit(lambda v, z, y: gan.apply_generator(v, z, y, train=False))
    cost = forward.lower(variables, z, labels).cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    first_wall, first_cpu = _timed(lambda: jax.block_until_ready(forward(variables, z, labels)))
    times = [_timed(lambda: jax.block_until_ready(forward(variables, z, labels)))
             for _ in range(a.steps)]
    ms = statistics.median(w for w, _ in times) * 1e3
    return {"g_first_call_s": first_wall, "g_first_call_cpu_s": first_cpu,
            "g_ms_per_batch": ms,
            "g_cpu_ms_per_batch": statistics.median(c for _, c in times) * 1e3,
            "g_images_per_s": a.batch / ms * 1e3,
            "g_flops_per_batch": float(cost["flops"]) if cost and "flops" in cost else None}


def _lazy_step_times(a: argparse.Namespace, compiled, box: dict, batch, base_key) -> dict:
    """One step of the StyleGAN2 step whose number is a multiple of r1_interval (the lazy R1 runs
    in it; the timed steps 1, 2, ... do not have it below 16 steps): its wall and CPU ms."""
    config = _config(a, a.conv_impl)
    interval = config.r1_interval if config.r1_gamma > 0 else 0
    if interval <= 0 or a.steps_per_call > 1:
        return {}
    step = int(box["state"].step)
    target = -(-step // interval) * interval
    # the new step number computed from the committed one (a fresh host array would be an
    # uncommitted argument and make jit compile the step again)
    box["state"] = box["state"].replace(step=box["state"].step + (target - step))

    def one() -> None:
        box["state"], box["metrics"] = compiled(box["state"], batch, step_key(base_key, target))
        jax.block_until_ready((box["state"], box["metrics"]))

    wall, cpu = _timed(one)
    penalty = float(np.mean(np.asarray(box["metrics"]["penalty"])))  # > 0: the R1 phase ran
    return {"r1_interval": interval, "r1_step_ms": wall * 1e3, "r1_step_cpu_ms": cpu * 1e3,
            "r1_penalty": penalty}


def _timed(fn: Callable[[], None]) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


def run(a: argparse.Namespace) -> dict:
    devices = jax.devices()[:a.devices] if a.devices else jax.devices()
    if a.parallel == "jit":
        devices = devices[:1]
    compiled, state, batch = _build(a, a.conv_impl, devices)
    base_key = jax.random.key(a.seed + 1)
    k = a.steps_per_call  # steps per compiled call: times, FLOPs and memory are per step
    flops = (_lowered_flops(compiled, state, batch, step_key(base_key, 0)) if k == 1
             else _step_flops(a, a.conv_impl, devices, step_key(base_key, 0)))
    memory = (_peak_memory_bytes(compiled, state, batch, step_key(base_key, 0)) if a.memory
              else None)
    model_flops = flops
    if a.arch == "dcgan":
        model_flops = _step_flops(a, "matmul", devices, step_key(base_key, 0))

    box = {"state": state}

    def jax_step(i: int) -> None:
        box["state"], metrics = compiled(box["state"], batch, step_key(base_key, i))
        jax.block_until_ready((box["state"], metrics))

    compile_s, compile_cpu_s = _timed(lambda: jax_step(0))  # compile + the first step
    for i in range(1, a.warmup):
        jax_step(i)

    torch_step = None
    if a.torch:
        import torch_reference  # benchmarks/torch_reference.py
        if torch_reference.torch is None:
            raise SystemExit(f"throughput.py --torch: {torch_reference.MISSING}")
        if a.arch != "dcgan":
            raise SystemExit("throughput.py --torch: the PyTorch reference is the DCGAN step; "
                             "use --arch dcgan")
        torch_step = torch_reference.make_step(a.resolution, a.channels, a.batch,
                                               threads=a.torch_threads, seed=a.seed,
                                               device=a.torch_device)
        for _ in range(a.warmup):
            torch_step()

    jax_times, torch_times = [], []
    for i in range(a.steps):  # interleaved, so both see the same load
        wall, cpu = _timed(lambda: jax_step(a.warmup + i))
        jax_times.append((wall / k, cpu / k))
        if torch_step is not None:
            torch_times.append(_timed(torch_step))

    lazy = _lazy_step_times(a, compiled, box, batch, base_key) if a.arch == "stylegan2" else {}
    print(f"throughput.py: compile + first step {compile_s:.1f} s ({compile_cpu_s:.1f} CPU-s), "
          f"steps (wall s, CPU s) {[(round(w, 2), round(c, 2)) for w, c in jax_times]}, {lazy}",
          file=sys.stderr, flush=True)  # the step's numbers before G is measured
    peak = matmul_peak_gflops(a.peak_size)
    ms = statistics.median(w for w, _ in jax_times) * 1e3
    row = {
        "arch": a.arch, "resolution": a.resolution, "channels": a.channels, "batch": a.batch,
        "loss": a.loss, "n_critic": a.n_critic, "parallel": compiled.mode,
        "num_devices": compiled.num_devices, "conv_impl": a.conv_impl,
        "device": f"{jax.devices()[0].platform}:{jax.devices()[0].device_kind}",
        "jax": jax.__version__, "steps": a.steps * k, "steps_per_call": k,
        "compute_dtype": a.compute_dtype, "compile_s": compile_s, "compile_cpu_s": compile_cpu_s,
        "peak_memory_bytes": memory,
        "ms_per_step": ms, "ms_per_step_min": min(w for w, _ in jax_times) * 1e3,
        "cpu_ms_per_step": statistics.median(c for _, c in jax_times) * 1e3,
        "images_per_s": a.batch * a.n_critic / ms * 1e3,
        "flops_per_step": model_flops, "executed_flops_per_step": flops,
        "gflops_per_s": None if model_flops is None else model_flops / ms / 1e6,
        "executed_gflops_per_s": None if flops is None else flops / ms / 1e6,
        "peak_gflops_per_s": peak,
        "load_average": os.getloadavg()[0], "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
    if a.arch == "stylegan2":
        row.update(lazy)
        if lazy:  # one lazy-R1 step per r1_interval steps
            n = lazy["r1_interval"]
            row["amortized_ms_per_step"] = (lazy["r1_step_ms"] + (n - 1) * ms) / n
            row["amortized_images_per_s"] = a.batch / row["amortized_ms_per_step"] * 1e3
        row.update(generator_throughput(a))
        flops = row["g_flops_per_batch"]
        row["g_fraction_of_peak"] = (None if flops is None
                                     else flops / row["g_ms_per_batch"] / 1e6 / peak)
    row["fraction_of_peak"] = (None if row["gflops_per_s"] is None
                               else row["gflops_per_s"] / peak)
    row["executed_fraction_of_peak"] = (None if row["executed_gflops_per_s"] is None
                                        else row["executed_gflops_per_s"] / peak)
    if torch_times:
        t_ms = statistics.median(w for w, _ in torch_times) * 1e3
        row.update({"torch_ms_per_step": t_ms,
                    "torch_ms_per_step_min": min(w for w, _ in torch_times) * 1e3,
                    "torch_images_per_s": a.batch / t_ms * 1e3,
                    "jax_over_torch": ms / t_ms})
    return row


def _fmt(v, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def a_batch_rate(row: dict) -> float:
    """images/s of the lazy-R1 step alone."""
    return row["batch"] / row["r1_step_ms"] * 1e3


def print_table(row: dict) -> None:
    print(f"{row['arch']}-{row['resolution']} x{row['channels']}, batch {row['batch']}, "
          f"loss {row['loss']}, n_critic {row['n_critic']}, {row['parallel']} on "
          f"{row['num_devices']} {row['device']}, conv_impl {row['conv_impl']}, jax "
          f"{row['jax']}, load average {row['load_average']:.1f}, compile + first step "
          f"{row['compile_s']:.1f} s "
          f"({row['compile_cpu_s']:.1f} CPU-s)")
    head = (f"{'':<8}{'ms/step':>9}{'min':>8}{'cpu ms':>8}{'images/s':>10}{'GFLOP/step':>12}"
            f"{'GFLOP/s':>9}{'peak':>8}{'of peak':>9}")
    print(head)
    print(f"{'jax':<8}{row['ms_per_step']:>9.1f}{row['ms_per_step_min']:>8.1f}"
          f"{row['cpu_ms_per_step']:>8.1f}{row['images_per_s']:>10.0f}"
          f"{_fmt(row['flops_per_step'] and row['flops_per_step'] / 1e9, '.2f'):>12}"
          f"{_fmt(row['gflops_per_s'], '.1f'):>9}{row['peak_gflops_per_s']:>8.1f}"
          f"{_fmt(row['fraction_of_peak'], '.1%'):>9}")
    if row.get("executed_flops_per_step") is not None:
        print(f"{'  (executed)':<43}{row['executed_flops_per_step'] / 1e9:>12.2f}"
              f"{row['executed_gflops_per_s']:>9.1f}{'':>8}"
              f"{row['executed_fraction_of_peak']:>9.1%}")
    if "r1_step_ms" in row:
        print(f"{'R1 step':<8}{row['r1_step_ms']:>9.1f}{'':>8}{row['r1_step_cpu_ms']:>8.1f}"
              f"{a_batch_rate(row):>10.0f}   amortized over {row['r1_interval']} steps: "
              f"{row['amortized_ms_per_step']:.1f} ms/step, "
              f"{row['amortized_images_per_s']:.1f} images/s (R1 penalty {row['r1_penalty']:.3g})")
    if "g_ms_per_batch" in row:
        print(f"{'G alone':<8}{row['g_ms_per_batch']:>9.1f}{'':>8}"
              f"{row['g_cpu_ms_per_batch']:>8.1f}{row['g_images_per_s']:>10.0f}"
              f"{_fmt(row['g_flops_per_batch'] and row['g_flops_per_batch'] / 1e9, '.2f'):>12}"
              f"{'':>17}{_fmt(row['g_fraction_of_peak'], '.1%'):>9}")
    if "torch_ms_per_step" in row:
        print(f"{'torch':<8}{row['torch_ms_per_step']:>9.1f}{row['torch_ms_per_step_min']:>8.1f}"
              f"{'':>8}{row['torch_images_per_s']:>10.0f}   jax/torch = "
              f"{row['jax_over_torch']:.2f}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", default="dcgan", choices=sorted(MODELS))
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--batch", type=int, default=64, help="images per D (and G) update")
    p.add_argument("--loss", default="non_saturating", choices=sorted(LOSSES))
    p.add_argument("--n-critic", type=int, default=1)
    p.add_argument("--parallel", default="jit", help=f"one of {', '.join(PARALLEL_CHOICES)}")
    p.add_argument("--devices", type=int, default=0, help="devices for pmap/shard_map (0: all)")
    p.add_argument("--conv-impl", default="auto", choices=MODEL_CONV_IMPLS)
    p.add_argument("--channel-max", type=int, default=0,
                   help="--arch stylegan2: channel_max of the networks (0: the CIFAR config's 512)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3, help="untimed steps; the first compiles")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--peak-size", type=int, default=2048, help="n of the n x n peak matmul")
    p.add_argument("--torch", action="store_true", help="interleave the PyTorch reference step")
    p.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    p.add_argument("--torch-device", default="cpu", help="cpu | cuda (the PyTorch step's device)")
    p.add_argument("--compute-dtype", default="float32", choices=("float32", "bfloat16"),
                   help="the networks' compute dtype (config.compute_dtype)")
    p.add_argument("--memory", action="store_true",
                   help="report XLA's memory analysis of the compiled call (compiles it once "
                        "more: minutes for the large CPU models)")
    p.add_argument("--steps-per-call", type=int, default=1,
                   help="K > 1: K steps fused in one compiled lax.scan call (jit only); "
                        "times are per step")
    p.add_argument("--json", action="store_true", help="last line: one JSON object")
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line checked (argparse exits 2 with one line on a bad combination)."""
    p = build_parser()
    a = p.parse_args(argv)
    if a.parallel not in PARALLEL_CHOICES:
        p.error(f"--parallel must be one of {', '.join(PARALLEL_CHOICES)}, got {a.parallel!r}")
    if a.parallel not in parallel.PARALLEL_MODES:
        p.error(f"--parallel {a.parallel} is not available in this jaxgan "
                f"(jaxgan.training.parallel has {', '.join(sorted(parallel.PARALLEL_MODES))})")
    if a.steps_per_call > 1 and a.parallel != "jit":
        p.error("--steps-per-call > 1 runs on one device: use --parallel jit")
    if a.steps < 1 or a.warmup < 1 or a.batch < 1 or a.n_critic < 1 or a.steps_per_call < 1:
        p.error("--steps, --warmup, --batch, --n-critic and --steps-per-call must be >= 1")
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    try:
        row = run(a)
    except ValueError as e:  # bad model/data combination, e.g. an unsupported resolution
        print(f"throughput.py: {e}", file=sys.stderr)
        return 2
    print_table(row)
    if a.json:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
