"""Compare GAN loss variants over many seeds, all seeds of a variant trained at once
(jaxgan.training.seeds).

For a data set and a list of loss variants (default: every loss of jaxgan.core.losses.LOSSES with
its usual penalty and n_critic), trains S seeds per variant with the same budget (the same number of
generator updates, batch size and architecture), evaluates every seed and writes to --out:

  results.md   per variant mean ± standard error over seeds of each metric, wall time (toy data:
               PacGAN Table 1 beside ours); per-seed numbers below it
  results.csv  the same, one row per variant;  seeds.csv: one row per (variant, seed)
  samples.png  toy: one scatter panel per variant (its median seed, true modes marked);
               images: a sample grid per variant
  losses.png   D and G loss curves per variant (mean over seeds, shaded ± standard error)

Usage (from the repository root):
  PYTHONPATH=$PWD python benchmarks/compare_losses.py --dataset grid25 --out results/grid25
  PYTHONPATH=$PWD python benchmarks/compare_losses.py --dataset ring8,grid25 --jobs 2 --out results/toy
  PYTHONPATH=$PWD python benchmarks/compare_losses.py --dataset ring8 --variants non_saturating,hinge \\
      --seeds 4 --set steps=2000 --set g_lr=1e-3
`--set key=value` overrides any field of the data set's config (toy_config / digits_config).
`--jobs N` runs every (data set, variant) in its own single-threaded process, N at a time, each
pinned to its own core, costliest first (the toy table's default: --jobs 2 on 2 cores).
Toy seed k is the run `jaxgan train --config.seed=k` (the same initial state, data stream and step
noise), scored as `jaxgan eval` scores it (train_toy_variant).
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import functools
import math
import os
import pathlib
import sys
import time
from typing import Any, Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxgan import visualize
from jaxgan.config import presets
from jaxgan.config import base_config, build_gan
from jaxgan.core.losses import LOSSES
from jaxgan.core.state import create_train_state
from jaxgan.core.registry import Registry
from jaxgan.training import seeds
from jaxgan.training.run_config import apply_assignments

# --- loss variants -------------------------------------------------------------------------------

VARIANTS: Registry[dict[str, Any]] = Registry("loss variant", {
    # Goodfellow et al. 2014: saturating and non-saturating generator.
    "minimax": {"loss": "minimax"},
    "non_saturating": {"loss": "non_saturating"},
    # Arjovsky et al. 2017: weight clipping 0.01, RMSProp 5e-5, 5 critic steps.
    "wgan_clip": {"loss": "wasserstein", "weight_clip": 0.01, "optimizer": "rmsprop",
                  "g_lr": 5e-5, "d_lr": 5e-5, "n_critic": 5},
    # Gulrajani et al. 2017: gradient penalty λ = 10, 5 critic steps, Adam β = (0.5, 0.9).
    # (and no BatchNorm in the critic: LayerNorm in the DCGAN critic; the MLP critic has none).
    "wgan_gp": {"loss": "wasserstein", "penalty": "wgan_gp", "penalty_weight": 10.0,
                "n_critic": 5, "b1": 0.5, "b2": 0.9, "d_norm": "layer"},
    "hinge": {"loss": "hinge"},  # Lim & Ye 2017
    "least_squares": {"loss": "least_squares"},  # Mao et al. 2017
    "relativistic": {"loss": "relativistic"},  # Jolicoeur-Martineau 2018
    "relativistic_average": {"loss": "relativistic_average"},
})

LOSS_VARIANTS: dict[str, tuple[str, ...]] = {"wasserstein": ("wgan_clip", "wgan_gp")}
"""Losses run as several variants; every other loss of LOSSES is the variant of its own name."""


def default_variants() -> list[str]:
    """Every loss in jaxgan.core.losses.LOSSES with its usual companion(s), in registry order."""
    return [v for name in LOSSES for v in LOSS_VARIANTS.get(name, (name,))]


# --- PacGAN Table 1 (Lin et al. 2018, arXiv:1712.04086; 400 epochs, 10 trials, ± s.e.) ----------

PACGAN_TABLE1: dict[str, list[tuple[str, float, float, float]]] = {
    "ring8": [("GAN", 6.3, 98.2, 0.45), ("PacGAN2", 7.9, 95.6, 0.07),
              ("PacGAN3", 7.8, 97.7, 0.10), ("PacGAN4", 7.8, 95.9, 0.07)],
    "grid25": [("GAN", 17.3, 94.8, 0.70), ("ALI", 24.1, 95.7, 0.14),
               ("PacGAN2", 23.8, 91.3, 0.13), ("PacGAN3", 24.6, 94.2, 0.06),
               ("PacGAN4", 24.8, 93.6, 0.04)],
}
"""(method, modes captured, % high quality, reverse KL) as published."""


# --- configs ---------------------------------------------------------------------------------------

TOY_STEPS = {"ring8": 20_000, "grid25": 60_000}
"""The toy benchmark's generator steps per variant and data set: what fits the whole two-set table
(8 variants × 10 seeds each) in 30 minutes on 2 idle cores, `--jobs 2` (benchmarks/README.md,
"#14 session 8": a 10-seed step is compute-bound, ~2.3 ms CPU for a plain loss, ~6.9 ms for
wgan_clip and ~10.9 ms for wgan_gp (5 critic steps), so both sets cost ~32 ms CPU per generator
step; ring8 reaches its targets by 20,000 steps, grid25 gets the rest)."""


def toy_config(dataset: str) -> ml_collections.ConfigDict:
    """The 2-D mode-collapse setup of PacGAN (Lin et al. 2018) cut down to a 2-core CPU budget:
    the shipped toy experiments' setup (`jaxgan.config.presets.toy_mixture`) with the benchmark's
    budget.

    PacGAN: G 4×400 ReLU + BatchNorm, D 3×200 maxout, z in R², Adam(1e-4, β1 0.8), batch 100,
    400 epochs of 100,000 samples (400,000 steps), 2,500 evaluation samples, 10 trials.
    Here: PacGAN2 (D judges packs of 2 samples, `pack`), the same depth, z, batch and evaluation,
    but G 4×64 ReLU without BatchNorm, D 3×64 LeakyReLU(0.2), Adam(2e-3, β1 0.5) decayed to 0 by a
    cosine over `steps` generator steps (TOY_STEPS), a fresh mixture sample every step, and G and D
    working on the mixture scaled into [-1, 1]² (the preset's config.point_scale, ring8 1, grid25
    4: G's output is multiplied by it, D's input divided; samples are scored in the data's units).
    benchmarks/README.md: how this was chosen and what it costs.
    """
    c = presets.toy_mixture(dataset, steps=TOY_STEPS[dataset])
    c.log_every = 1000
    c.eval_samples = 2500
    return c


def digits_config(dataset: str) -> ml_collections.ConfigDict:
    """A small DCGAN on the embedded digits at 16×16 (the budget of a CPU benchmark); metrics from
    the shipped digits classifier (jaxgan.metrics) on `eval_samples` samples per seed."""
    c = base_config()
    c.dataset = dataset
    c.resolution = 16
    c.channels = 1
    c.latent_dim = 32
    c.g_features = 32
    c.d_features = 32
    c.batch_size = 64
    c.steps = 1000
    c.log_every = 50
    c.eval_samples = 2000
    c.seed_map = "unroll"  # XLA CPU runs vmapped convolutions slowly (jaxgan/training/seeds.py)
    return c


CONFIGS: Registry[Callable[[str], ml_collections.ConfigDict]] = Registry(
    "benchmark data set", {"ring8": toy_config, "grid25": toy_config, "digits": digits_config})


def variant_config(base: ml_collections.ConfigDict, variant: str) -> ml_collections.ConfigDict:
    """The data set's config with the variant's loss, penalty, n_critic and optimizer fields."""
    config = ml_collections.ConfigDict(base.to_dict())
    config.update(VARIANTS[variant])
    return config


# --- one variant -------------------------------------------------------------------------------------

@dataclasses.dataclass
class VariantResult:
    """Everything measured for one variant: per-seed metrics, curves, samples and cost."""

    variant: str
    per_seed: list[dict[str, float]]
    curves: dict[str, np.ndarray]  # name -> [num_logs, S] (mean over each log interval)
    curve_steps: np.ndarray  # [num_logs] generator step at the end of each interval
    samples: np.ndarray  # [S, N, ...] evaluation samples
    wall_s: float
    cpu_s: float


def _split_seed_keys(seed: int, num_seeds: int) -> tuple[jax.Array, jax.Array, jax.Array,
                                                          jax.Array]:
    """Per seed i (key PRNGKey(seed + i)): init, data, step-noise and evaluation keys, each [S, 2]."""
    keys = jax.vmap(lambda k: jax.random.split(k, 4))(seeds.seed_keys(seed, num_seeds))
    return keys[:, 0], keys[:, 1], keys[:, 2], keys[:, 3]


@dataclasses.dataclass
class ToySeeds:
    """S single runs about to train together: seed i's data iterator (seeded seed + i), its initial
    state (row i of `states`) and its step-noise key (row i of `step_keys`), all as
    `jaxgan train --config.seed=<seed+i>` makes them (jaxgan.training.loop, jaxgan.training.run)."""

    iterators: list
    spec: Any
    gan: Any
    states: Any
    step_keys: jax.Array


def toy_seeds(config: ml_collections.ConfigDict, num_seeds: int, seed: int) -> ToySeeds:
    """The single runs of seeds seed, ..., seed + num_seeds − 1 at step 0: their iterators
    (`jaxgan.data.make_iterator`), GAN (`build_gan`), initial states (`init_state` of
    run_keys(seed + i).init) and step keys (run_keys(seed + i).train)."""
    from jaxgan import data
    from jaxgan.training.run import data_options, run_keys

    iterators = [data.make_iterator(config.dataset, batch_size=config.batch_size, seed=seed + i,
                                    **data_options(config)) for i in range(num_seeds)]
    spec = iterators[0].spec
    gan = build_gan(config, spec.shape, spec.num_classes)  # G, D work in x / config.point_scale
    keys = [run_keys(seed + i) for i in range(num_seeds)]
    return ToySeeds(iterators=iterators, spec=spec, gan=gan,
                    states=_initial_states(gan, [k.init for k in keys]),
                    step_keys=jnp.stack([k.train for k in keys]))


def train_toy_variant(config: ml_collections.ConfigDict, variant: str, num_seeds: int, seed: int,
                      eval_seed: int = 0) -> VariantResult:
    """Trains `num_seeds` seeds of one variant on a toy mixture at once and scores each seed.

    Seed i is the single run `jaxgan train --config.seed=<seed+i>` (`toy_seeds`: the same initial
    state, step noise and data stream; its own iterator's plans drawn on the device,
    `seeds.make_multi_seed_plan_loop`), and it is scored as `jaxgan eval --seed <eval_seed>`
    scores that run: `jaxgan.tools.trained.generate_samples` (z from key(eval_seed), the EMA
    generator where kept) and the data kind's evaluator (`jaxgan.tools.evaluate.EVALUATORS`, the
    PacGAN mode metrics). Results equal the single runs' to float rounding (the seeds' products
    are batched); rounding can grow where Adam divides near-zero gradients (the Wasserstein
    critic's, benchmarks/README.md "#14 session 8")."""
    from jaxgan.core.critic_schedule import critic_schedule
    from jaxgan.tools.evaluate import EVALUATORS
    from jaxgan.tools.trained import TrainedRun, generate_samples

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    if config.steps % config.log_every:
        raise ValueError(f"steps ({config.steps}) must be a multiple of log_every "
                         f"({config.log_every})")
    if critic_schedule(config).boost:
        raise ValueError("the toy benchmark runs a fixed n_critic; set n_critic_boost=0")
    runs = toy_seeds(config, num_seeds, seed)
    spec, gan, states = runs.spec, runs.gan, runs.states
    device = runs.iterators[0].device_batches()  # the draw is the same for every seed's plans
    loop = seeds.make_multi_seed_plan_loop(gan, device.draw, seed_map=config.seed_map)
    logged = []
    for start in range(0, config.steps, config.log_every):
        plans = np.stack([it.take_plans(config.log_every * config.n_critic).reshape(
            config.log_every, config.n_critic, -1) for it in runs.iterators], axis=1)
        states, metrics = loop(states, plans, runs.step_keys, start, device.arrays)
        logged.append({k: jnp.mean(metrics[k], axis=0) for k in ("d_loss", "g_loss", "penalty")})
    evaluator = EVALUATORS[spec.kind]
    samples, per_seed = [], []
    for i in range(num_seeds):
        run = TrainedRun(workdir=pathlib.Path("."), config=config, spec=spec, gan=gan,
                         state=seeds.unstack_state(states, i), step=config.steps)
        points = generate_samples(run, config.eval_samples, eval_seed)  # in the data's units
        samples.append(points)
        per_seed.append(_score_points(points, spec, lambda x: evaluator(run, x, eval_seed)))
    curves = {k: np.stack([np.asarray(entry[k]) for entry in logged]) for k in logged[0]}
    return VariantResult(
        variant=variant, per_seed=per_seed, curves=curves,
        curve_steps=np.arange(1, len(logged) + 1) * config.log_every, samples=np.stack(samples),
        wall_s=time.perf_counter() - start_wall, cpu_s=time.process_time() - start_cpu)


def _initial_states(gan, keys: list[jax.Array]):
    """The single runs' initial states (`jaxgan.training.run.init_state(gan, key)` for every key:
    create_train_state compiled without XLA's backend optimisations), compiled once, stacked."""
    init = jax.jit(functools.partial(create_train_state, gan)).lower(keys[0]).compile(
        {"xla_backend_optimization_level": 0})
    return seeds.stack_trees([init(key) for key in keys])


def train_image_variant(config: ml_collections.ConfigDict, variant: str, num_seeds: int,
                        seed: int, real: np.ndarray) -> VariantResult:
    """Trains `num_seeds` seeds of one variant on an image data set at once, seed i reading its own
    iterator (seed + i), and scores each seed with the digits classifier against `real`."""
    from jaxgan.data import make_iterator
    from jaxgan.metrics import evaluate_images

    start_wall, start_cpu = time.perf_counter(), time.process_time()
    rows = config.batch_size * config.n_critic
    iterators = [make_iterator(config.dataset, batch_size=rows, seed=seed + i,
                               resolution=config.resolution, channels=config.channels)
                 for i in range(num_seeds)]
    spec = iterators[0].spec
    gan = build_gan(config, spec.shape)
    init_keys, _, step_keys, eval_keys = _split_seed_keys(seed, num_seeds)
    states = seeds.create_seed_states(gan, init_keys)
    step = seeds.make_multi_seed_step(gan, seed_map=config.seed_map)
    logged, pending = [], []
    for t in range(config.steps):
        batch = {"x": np.stack([next(it)["x"] for it in iterators])}
        states, metrics = step(states, batch, seeds.multi_seed_step_keys(step_keys, t))
        pending.append({k: metrics[k] for k in ("d_loss", "g_loss", "penalty")})
        if (t + 1) % config.log_every == 0:
            logged.append({k: jnp.mean(jnp.stack([m[k] for m in pending]), axis=0)
                           for k in pending[0]})
            pending = []
    z = jax.vmap(lambda k: gan.sample_latent(k, config.eval_samples))(eval_keys)
    samples = _generate(gan, states, z, config.seed_map)
    per_seed = []
    for i in range(num_seeds):
        if not np.isfinite(samples[i]).all():
            per_seed.append({"fid": math.nan, "kid": math.nan, "classes_covered": 0.0,
                             "class_kl": math.nan, "diverged": 1.0})
            continue
        scores = evaluate_images(samples[i], real, "digits", seed=seed + i,
                                 reference_split=f"{config.dataset}:all")
        coverage = scores["class_coverage"]
        per_seed.append({"fid": scores["fid"], "kid": 1e3 * scores["kid_mean"],
                         "classes_covered": float(coverage["classes_covered"]),
                         "class_kl": coverage["kl_to_uniform"], "diverged": 0.0})
    curves = {k: np.stack([np.asarray(entry[k]) for entry in logged]) for k in logged[0]}
    return VariantResult(
        variant=variant, per_seed=per_seed, curves=curves,
        curve_steps=np.arange(1, len(logged) + 1) * config.log_every, samples=samples,
        wall_s=time.perf_counter() - start_wall, cpu_s=time.process_time() - start_cpu)


def _generate(gan, states, z: jax.Array, seed_map: str) -> np.ndarray:
    """Every seed's samples [S, N, ...] for its latents z [S, N, latent] (eval mode)."""
    return np.asarray(jax.jit(
        lambda s, z: seeds.generate_seeds(gan, s, z, seed_map=seed_map))(states, z))


def _score_points(samples: np.ndarray, spec, evaluate: Callable) -> dict[str, float]:
    """One seed's mode metrics, `evaluate(samples)` (`jaxgan eval`'s evaluator). The reverse KL of a
    seed with no high-quality sample (diverged, or all samples off the modes) is undefined; it
    counts as log K, the largest value KL(p̂ ‖ uniform) takes (all mass on one mode), so a failed
    seed cannot drop out of the mean and flatter it."""
    worst_kl = math.log(len(spec.mode_centers))
    if not np.isfinite(samples).all():  # a diverged seed: no mode, no high-quality sample
        return {"modes": 0.0, "high_quality_percent": 0.0, "reverse_kl": worst_kl,
                "diverged": 1.0}
    m = evaluate(samples)
    reverse_kl = m["reverse_kl"] if math.isfinite(m["reverse_kl"]) else worst_kl
    return {"modes": float(m["modes_captured"]), "high_quality_percent": m["high_quality_percent"],
            "reverse_kl": reverse_kl, "diverged": 0.0}


# --- summaries -----------------------------------------------------------------------------------

TOY_METRICS = (("modes", "modes"), ("high_quality_percent", "% high quality"),
               ("reverse_kl", "reverse KL"))


def mean_and_standard_error(values: list[float]) -> tuple[float, float, int]:
    """(mean, s.e. = std(ddof=1)/sqrt(n), n) over the finite values (nan, nan, 0 if none)."""
    finite = np.asarray([v for v in values if np.isfinite(v)], np.float64)
    if finite.size == 0:
        return math.nan, math.nan, 0
    se = float(np.std(finite, ddof=1) / np.sqrt(finite.size)) if finite.size > 1 else math.nan
    return float(np.mean(finite)), se, int(finite.size)


def summary_rows(results: list[VariantResult], metrics) -> list[dict[str, Any]]:
    """One dict per variant: `<metric>_mean`, `<metric>_se`, seeds, diverged, wall_s, cpu_s."""
    rows = []
    for r in results:
        row: dict[str, Any] = {"variant": r.variant, "seeds": len(r.per_seed)}
        for key, _ in metrics:
            mean, se, _ = mean_and_standard_error([s[key] for s in r.per_seed])
            row[f"{key}_mean"], row[f"{key}_se"] = mean, se
        row["diverged"] = int(sum(s.get("diverged", 0.0) for s in r.per_seed))
        row["wall_s"], row["cpu_s"] = round(r.wall_s, 1), round(r.cpu_s, 1)
        rows.append(row)
    return rows


def _fmt(mean: float, se: float, digits: int) -> str:
    if not np.isfinite(mean):
        return "n/a"
    return f"{mean:.{digits}f} ± {se:.{digits}f}" if np.isfinite(se) else f"{mean:.{digits}f}"


IMAGE_METRICS = (("fid", "classifier-FID"), ("kid", "KID ×10³"),
                 ("classes_covered", "classes covered"), ("class_kl", "class KL"))

DIGITS = {"modes": 1, "high_quality_percent": 1, "reverse_kl": 3, "fid": 2, "kid": 2,
          "classes_covered": 1, "class_kl": 3}


def markdown_table(dataset: str, rows: list[dict[str, Any]], metrics) -> str:
    """The results table; for toy data PacGAN Table 1 follows under its own heading rows."""
    header = ["variant"] + [label for _, label in metrics] + ["diverged", "wall s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row["variant"]] + [
            _fmt(row[f"{k}_mean"], row[f"{k}_se"], DIGITS.get(k, 3)) for k, _ in metrics]
        cells += [f"{row['diverged']}/{row['seeds']}", f"{row['wall_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    for method, modes, hq, rkl in PACGAN_TABLE1.get(dataset, []):
        cells = [f"*PacGAN Table 1: {method}*", f"{modes:.1f}", f"{hq:.1f}", f"{rkl:.2f}", "",
                 "400 epochs"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_csv(path: pathlib.Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def representative_seed(result: VariantResult, key: str = "reverse_kl") -> int:
    """The seed with the median `key` (lower is better; diverged or nan seeds rank last)."""
    kl = np.asarray([s[key] for s in result.per_seed], np.float64)
    order = np.argsort(np.where(np.isfinite(kl), kl, np.inf), kind="stable")
    return int(order[(len(order) - 1) // 2])


# --- figures -------------------------------------------------------------------------------------

def _grid(n: int) -> tuple[int, int]:
    cols = min(n, 4)
    return math.ceil(n / cols), cols


def save_variant_panels(path: pathlib.Path, results: list[VariantResult],
                        panel_size: tuple[float, float], title: str,
                        draw_panel: Callable[[Any, VariantResult], None]) -> None:
    """One figure with a panel per variant (4 per row, unused panels blank), saved as a PNG;
    `draw_panel(ax, result)` fills one panel, whose axes start hidden."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols = _grid(len(results))
    width, height = panel_size
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, r in zip(axes.ravel(), results):
        draw_panel(ax, r)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_toy_samples(path: pathlib.Path, dataset: str, results: list[VariantResult],
                     centers: np.ndarray) -> None:
    span = np.abs(centers).max() * 1.35

    def draw(ax, r: VariantResult) -> None:
        i = representative_seed(r)
        s = r.per_seed[i]
        pts = r.samples[i]
        pts = pts[np.isfinite(pts).all(axis=1)]
        ax.axis("on")
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4, color="tab:blue", linewidths=0)
        ax.scatter(centers[:, 0], centers[:, 1], marker="x", s=25, color="tab:red")
        ax.set_xlim(-span, span)
        ax.set_ylim(-span, span)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{r.variant} (seed {i})\nmodes {s['modes']:.0f}, HQ "
                     f"{s['high_quality_percent']:.1f}%, rKL {s['reverse_kl']:.3f}", fontsize=8)

    save_variant_panels(path, results, (3.2, 3.2),
                        f"{dataset}: a median seed per variant (x: true modes)", draw)


def plot_image_samples(path: pathlib.Path, dataset: str, results: list[VariantResult],
                       num: int = 36) -> None:
    side = int(math.sqrt(num))

    def draw(ax, r: VariantResult) -> None:
        i = representative_seed(r, "fid")
        grid = visualize.image_grid(np.nan_to_num(r.samples[i][:side * side]), columns=side,
                                    padding=0)
        ax.imshow(grid[..., 0] if grid.shape[-1] == 1 else grid, cmap="gray", vmin=0, vmax=255)
        s = r.per_seed[i]
        ax.set_title(f"{r.variant} (seed {i})\nFID {s['fid']:.2f}, "
                     f"{s['classes_covered']:.0f} classes", fontsize=8)

    save_variant_panels(path, results, (3.0, 3.3),
                        f"{dataset}: samples of a median-FID seed per variant", draw)


def plot_losses(path: pathlib.Path, dataset: str, results: list[VariantResult]) -> None:
    def draw(ax, r: VariantResult) -> None:
        ax.axis("on")
        for name, color in (("d_loss", "tab:red"), ("g_loss", "tab:blue")):
            values = r.curves[name]  # [T, S]
            mean = np.nanmean(values, axis=1)
            se = np.nanstd(values, axis=1) / np.sqrt(values.shape[1])
            ax.plot(r.curve_steps, mean, color=color, label=name, lw=1)
            ax.fill_between(r.curve_steps, mean - se, mean + se, color=color, alpha=0.25)
        ax.set_title(r.variant, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("generator step", fontsize=7)
        if r is results[0]:
            ax.legend(fontsize=7)

    save_variant_panels(path, results, (3.4, 2.6),
                        f"{dataset}: losses, mean over seeds ± s.e.", draw)


# --- driver ----------------------------------------------------------------------------------------

def dataset_config(dataset: str, overrides: list[str]) -> ml_collections.ConfigDict:
    """The data set's benchmark config (CONFIGS) with the --set overrides applied."""
    base = CONFIGS[dataset](dataset)
    apply_assignments(base, overrides)
    return base


def train_variants(dataset: str, variants: list[str], num_seeds: int, seed: int,
                   overrides: list[str], log=print) -> list[VariantResult]:
    """Trains and scores every variant on `dataset`, one after the other."""
    from jaxgan.data import get_spec, sample_real

    base = dataset_config(dataset, overrides)
    points = base.model == "mlp"
    metrics = TOY_METRICS if points else IMAGE_METRICS
    if points:
        train = lambda config, variant: train_toy_variant(  # noqa: E731
            config, variant, num_seeds, seed)
    else:
        spec = get_spec(dataset, resolution=base.resolution, channels=base.channels)
        real = sample_real(dataset, spec.num_examples, seed, resolution=base.resolution,
                           channels=base.channels)
        train = lambda config, variant: train_image_variant(  # noqa: E731
            config, variant, num_seeds, seed, real)
    results = []
    for variant in variants:
        result = train(variant_config(base, variant), variant)
        row = summary_rows([result], metrics)[0]
        log(f"[{dataset}] {variant}: " + ", ".join(
            f"{label} {_fmt(row[k + '_mean'], row[k + '_se'], DIGITS[k])}"
            for k, label in metrics) + f", wall {result.wall_s:.1f}s, cpu {result.cpu_s:.1f}s")
        results.append(result)
    return results


def write_dataset_outputs(dataset: str, results: list[VariantResult], num_seeds: int, seed: int,
                          overrides: list[str], out: pathlib.Path) -> list[dict[str, Any]]:
    """results.md/.csv, seeds.csv, samples.png and losses.png of one data set under `out`;
    returns the summary rows."""
    from jaxgan.data import get_spec

    base = dataset_config(dataset, overrides)
    points = base.model == "mlp"
    metrics = TOY_METRICS if points else IMAGE_METRICS
    out.mkdir(parents=True, exist_ok=True)
    rows = summary_rows(results, metrics)
    write_csv(out / "results.csv", [{"dataset": dataset, **r} for r in rows])
    write_csv(out / "seeds.csv", [
        {"dataset": dataset, "variant": r.variant, "seed": seed + i, **s}
        for r in results for i, s in enumerate(r.per_seed)])
    if points:
        plot_toy_samples(out / "samples.png", dataset, results, get_spec(dataset).mode_centers)
    else:
        plot_image_samples(out / "samples.png", dataset, results)
    plot_losses(out / "losses.png", dataset, results)
    seeds_text = (f"seeds {seed} ... {seed + num_seeds - 1} (each the single run "
                  f"`jaxgan train --config.seed=k`, scored as `jaxgan eval`)" if points else
                  f"PRNGKey({seed}) ... PRNGKey({seed + num_seeds - 1})")
    budget = (f"{base.steps} generator steps of batch {base.batch_size}, {num_seeds} seeds "
              f"({seeds_text}), {base.eval_samples} evaluation samples per seed; "
              f"CPU s: {sum(r.cpu_s for r in results):.0f} in all")
    text = [f"# {dataset}: loss variants, mean ± standard error over seeds", "", budget, "",
            markdown_table(dataset, rows, metrics), "",
            "Config: " + ", ".join(f"{k}={base[k]}" for k in sorted(base)), ""]
    (out / "results.md").write_text("\n".join(text))
    return rows


def run_dataset(dataset: str, variants: list[str], num_seeds: int, seed: int,
                overrides: list[str], out: pathlib.Path, log=print) -> list[dict[str, Any]]:
    """Runs every variant on `dataset`, writes the outputs under `out`, returns the summary rows."""
    results = train_variants(dataset, variants, num_seeds, seed, overrides, log)
    return write_dataset_outputs(dataset, results, num_seeds, seed, overrides, out)


SINGLE_THREAD_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
PARTS_DIR = "parts"  # where the worker processes leave each variant's result (pickle)


def unit_cost(dataset: str, variant: str, overrides: list[str]) -> float:
    """A variant's relative cost for scheduling: steps × (n_critic + 1) (one G and n D updates)."""
    config = variant_config(dataset_config(dataset, overrides), variant)
    return config.steps * (config.n_critic + 1)


def schedule_units(datasets: list[str], variants: list[str],
                   overrides: list[str]) -> list[tuple[str, str]]:
    """Every (data set, variant), the costliest first (longest-processing-time-first: with one
    worker per core the busiest core ends near the total cost / cores)."""
    units = [(d, v) for d in datasets for v in variants]
    return sorted(units, key=lambda u: -unit_cost(u[0], u[1], overrides))


def dataset_out(out: pathlib.Path, dataset: str, datasets: list[str]) -> pathlib.Path:
    """Where a data set's outputs go: --out itself for one data set, --out/<dataset> for several."""
    return out if len(datasets) == 1 else out / dataset


def _pin_to(core: int | None):
    if core is None or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {core})


def _run_in_processes(datasets: list[str], variants: list[str], args: argparse.Namespace,
                      out: pathlib.Path) -> None:
    """Every (data set, variant) in its own single-threaded process, `args.jobs` at a time, each
    pinned to its own CPU core (pinning one process per core: −18% CPU per step, benchmarks/
    README.md "#21 session 7"); the costliest first. A worker leaves its variant's result in
    out/<dataset>/parts/; the tables and figures are written once a data set's variants are done."""
    import pickle
    import subprocess

    env = {**os.environ, "XLA_FLAGS": (os.environ.get("XLA_FLAGS", "") + " "
                                       + SINGLE_THREAD_XLA_FLAGS).strip()}
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    free = [cores[j] if len(cores) >= args.jobs else None for j in range(args.jobs)]
    pending, running = schedule_units(datasets, variants, args.set), []
    while pending or running:
        while pending and free:
            (dataset, variant), core = pending.pop(0), free.pop(0)
            cmd = [sys.executable, os.path.abspath(__file__), "--dataset", dataset,
                   "--variants", variant, "--seeds", str(args.seeds), "--seed", str(args.seed),
                   "--out", str(dataset_out(out, dataset, datasets) / PARTS_DIR), "--part"]
            cmd += [a for assignment in args.set for a in ("--set", assignment)]
            running.append((dataset, variant, core,
                            subprocess.Popen(cmd, env=env, preexec_fn=_pin_to(core))))
        time.sleep(0.5)
        for unit in list(running):
            dataset, variant, core, proc = unit
            if proc.poll() is not None:
                running.remove(unit)
                free.append(core)
                if proc.returncode:
                    for *_, other in running:
                        other.kill()
                    raise ValueError(f"the {dataset} {variant} run failed "
                                     f"(exit status {proc.returncode})")
    for dataset in datasets:
        results = []
        for variant in variants:
            with open(dataset_out(out, dataset, datasets) / PARTS_DIR / f"{variant}.pkl",
                      "rb") as f:
                results.append(VariantResult(**pickle.load(f)))
        write_dataset_outputs(dataset, results, args.seeds, args.seed, args.set,
                              dataset_out(out, dataset, datasets))


def _save_part(dataset: str, variants: list[str], args: argparse.Namespace,
               out: pathlib.Path) -> None:
    """--part: train the variants and leave each result in out/<variant>.pkl (no tables)."""
    import pickle

    out.mkdir(parents=True, exist_ok=True)
    for result in train_variants(dataset, variants, args.seeds, args.seed, args.set):
        with open(out / f"{result.variant}.pkl", "wb") as f:
            pickle.dump(dataclasses.asdict(result), f)  # a dict: readable whoever __main__ is


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="grid25",
                        help=f"comma-separated, from: {', '.join(CONFIGS)}")
    parser.add_argument("--variants", default=",".join(default_variants()),
                        help=f"comma-separated, from: {', '.join(VARIANTS)}")
    parser.add_argument("--seeds", type=int, default=10, help="seeds per variant")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed i is the run with seed + i (toy: `jaxgan train --config.seed`)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config field (repeatable)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="(data set, variant) runs at once, each in its own single-threaded "
                             "process pinned to its own core (use the number of cores)")
    parser.add_argument("--part", action="store_true", help=argparse.SUPPRESS)  # a --jobs worker
    parser.add_argument("--out", default="benchmark_results", help="output folder")
    args = parser.parse_args(argv)
    try:
        datasets = [d for d in args.dataset.split(",") if d]
        variants = [v for v in args.variants.split(",") if v]
        for d in datasets:
            CONFIGS[d]
        for v in variants:
            VARIANTS[v]
        if args.seeds < 1 or args.jobs < 1:
            raise ValueError(f"--seeds and --jobs must be >= 1, got {args.seeds}, {args.jobs}")
        start = time.perf_counter()
        out = pathlib.Path(args.out)
        if args.part:
            _save_part(datasets[0], variants, args, out)
            return 0
        if args.jobs > 1 and len(datasets) * len(variants) > 1:
            _run_in_processes(datasets, variants, args, out)
        else:
            for dataset in datasets:
                run_dataset(dataset, variants, args.seeds, args.seed, args.set,
                            dataset_out(out, dataset, datasets))
        total = time.perf_counter() - start
        cpu = sum(float(row["cpu_s"]) for d in datasets
                  for row in csv.DictReader(open(dataset_out(out, d, datasets) / "results.csv")))
        if len(datasets) > 1:
            parts = [(out / d / "results.md").read_text() for d in datasets]
            (out / "results.md").write_text(
                "\n".join(parts) + f"\nTotal wall time: {total:.0f} s ({args.jobs} job(s)); "
                f"training and scoring CPU: {cpu:.0f} s.\n")
        print(f"total wall time {total:.1f}s, training and scoring CPU {cpu:.0f}s "
              f"({args.jobs} job(s)); results in {out}")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
