"""The `jaxgan` command: train, sample, eval.

    jaxgan train  [--config NAME|FILE] --workdir DIR [--config.KEY=VALUE ...]
    jaxgan sample --workdir DIR --out FILE.npy|FILE.png [--num N] [--seed S] [--label K]
    jaxgan eval   --workdir DIR [--num N] [--seed S]
    jaxgan interpolate --workdir DIR --out FILE.png [--rows R] [--steps S] [--label K]
    jaxgan prepare SOURCE --name NAME [--data_dir D] [--resolution N] [--channels 1|3] ...
    jaxgan anomaly fit|score|eval --workdir DIR ...  (jaxgan.anomaly.cli: AnoGAN, f-AnoGAN)

Every expected failure ends with one line on stderr naming the file or setting and what to do
(`run_command`, the one error boundary; `--debug` shows the traceback instead): bad input (unknown
config key, loss, data set; a value of the wrong type or out of range; an unusable path; a workdir
another `jaxgan train` holds; a resume with another experiment; a corrupt data file; an experiment
file that raises) exits 2; an I/O failure (any OSError: a full disk, a read-only or vanished
folder) exits 1. A run stopped by SIGTERM checkpoints and exits 0, by SIGINT exits 130 after
checkpointing; a diverged run (NaN/Inf metrics) exits 1.

Room `cli`, the top: may import every room (it does so inside the commands, `jaxgan train` only
after jax.distributed is set up); nothing in jaxgan imports it.
"""
from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import pathlib
import sys
import traceback
import warnings
from collections.abc import Callable, MutableMapping, Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
OVERRIDE_PREFIX = "--config."
SAMPLE_FORMATS = (".npy", ".png")


class UsageError(ValueError):
    """A command-line mistake found after argparse (bad override syntax, output format)."""


# --- argument parsing -----------------------------------------------------------------------------

def _config_keys_help() -> str:
    from jaxgan.config import base_config
    from jaxgan.training import run_config

    config = base_config()
    lines = ["config keys (defaults of jaxgan.config.base_config(); experiments override some),",
             "with their valid values:"]
    for key, value in config.items():
        if key in run_config.NAME_CHECKS:
            valid = "one of " + ", ".join(sorted(run_config.NAME_CHECKS[key]()))
        elif key in run_config.RANGE_CHECKS:
            valid = run_config.RANGE_CHECKS[key][1]
        else:
            valid = run_config.KEY_NOTES.get(key, "")
        lines.append(f"  {key + ' = ' + repr(value):<40} {valid}".rstrip())
    return "\n".join(lines)


TRAIN_DESCRIPTION = """\
Train a GAN. The experiment config is a Python file whose get_config() returns an
ml_collections.ConfigDict (experiments/NAME.py); any field can be overridden with
--config.KEY=VALUE (or --config.KEY VALUE), parsed to the field's type. When DIR already holds
checkpoints the run resumes from the latest one ("resuming from step N"); without --config it then
reuses DIR/config.json. SIGTERM/SIGINT save a checkpoint after the current step and stop.

DIR receives: checkpoints/, config.json (the resolved config), data_spec.json, metrics.jsonl,
tensorboard/ (tensorboard --logdir DIR), samples/step_NNNNNNN.png (a fixed latent batch every
sample_every steps) and training_curves.png (losses, D accuracy on real/fake) at the end.

examples:
  jaxgan train --workdir runs/digits
  jaxgan train --config experiments/ring8.py --workdir runs/ring8 --config.loss=hinge
  jaxgan train --config ring8 --workdir runs/r --config.steps=2000 --config.seed=3
"""


def _add_truncation(parser: argparse.ArgumentParser) -> None:
    """The --truncation option of the commands that draw from G (sample, interpolate, eval)."""
    parser.add_argument("--truncation", metavar="PSI", type=float, default=1.0,
                        help="StyleGAN2 truncation psi: w_avg + psi (w - w_avg) (default 1: none; "
                             "0.7 is the usual)")


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    parser = argparse.ArgumentParser(
        prog="jaxgan", allow_abbrev=False,
        description="Train, sample and evaluate GANs in JAX (jaxgan).",
        epilog="Run `jaxgan COMMAND --help` for the options of each command.")
    # A subcommand's defaults overwrite the main parser's, hence a separate dest.
    parser.add_argument("--debug", dest="debug_all", action="store_true",
                        help="show the full traceback of an error instead of one line")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser(
        "train", parents=[common], allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="train a GAN in a workdir (resumes automatically)",
        description=TRAIN_DESCRIPTION, epilog=_config_keys_help())
    train.add_argument("--config", metavar="NAME|FILE", default=None,
                       help="experiment config: a file path (experiments/ring8.py) or a name found "
                            "in ./experiments (ring8); default: dcgan_digits, or DIR/config.json "
                            "when resuming")
    train.add_argument("--workdir", metavar="DIR", required=True,
                       help="run directory for checkpoints, logs and images (created if needed)")
    distributed = train.add_argument_group(
        "several processes (one per host; each feeds its share of every batch, process 0 writes "
        "logs and images)")
    distributed.add_argument("--coordinator_address", metavar="HOST:PORT", default=None,
                             help="address of process 0 (default $JAX_COORDINATOR_ADDRESS); "
                                  "starts jax.distributed")
    distributed.add_argument("--num_processes", metavar="N", type=int, default=None,
                             help="number of processes (default $JAX_NUM_PROCESSES)")
    distributed.add_argument("--process_id", metavar="I", type=int, default=None,
                             help="this process's index in [0, N) (default $JAX_PROCESS_ID)")
    train.add_argument("--allow_config_change", action="store_true",
                       help="resume a workdir even when the config differs from its checkpoint's "
                            "in keys that change the run (loss, data set, learning rates, ...); "
                            "recorded in DIR/config_changes.jsonl. Without it such a resume exits "
                            "2 listing the keys (steps, intervals and monitors may always change)")
    train.add_argument("--config.KEY", metavar="VALUE", dest="_override_help",
                       help="override config field KEY (repeatable), e.g. --config.steps=500 "
                            "--config.loss=hinge --config.mlp_g_hidden=256,256")

    sample = commands.add_parser(
        "sample", parents=[common], allow_abbrev=False,
        help="draw samples from the latest checkpoint of a workdir",
        description="Draw N samples from the latest checkpoint of DIR. FILE.npy receives the raw "
                    "float32 array in data space (N x 2 points for toy data, N x H x W x C images "
                    "in [-1, 1]); FILE.png an image grid, or for 2-D data a scatter plot of the "
                    "samples over real data.")
    _add_truncation(sample)
    sample.add_argument("--workdir", metavar="DIR", required=True, help="a run's workdir")
    sample.add_argument("--num", metavar="N", type=int, default=64,
                        help="number of samples (default 64)")
    sample.add_argument("--seed", metavar="S", type=int, default=0,
                        help="seed of the latent draws (default 0)")
    sample.add_argument("--out", metavar="FILE", required=True,
                        help="output file: .npy (raw array) or .png (picture)")
    sample.add_argument("--step", metavar="STEP", type=int, default=None,
                        help="checkpoint step to use (default: the latest)")
    sample.add_argument("--no-ema", action="store_true",
                        help="use the generator's raw parameters even when an EMA is kept")
    sample.add_argument("--label", metavar="K", default=None,
                        help="class of every sample (class-conditional runs): its index, or its "
                             "name for data sets that name their classes (`jaxgan prepare "
                             "--labels folders`: the folder name); without it a "
                             "conditional run draws ceil(N/classes) samples per class, in class "
                             "order, and its PNG has one row per class")

    interpolate = commands.add_parser(
        "interpolate", parents=[common], allow_abbrev=False,
        help="pictures of G along spherical interpolations between latent points",
        description="Draw R random pairs of latent points z0, z1 ~ N(0, I) and decode S points of "
                    "the spherical interpolation (slerp) between each pair: one row of images per "
                    "path, or for 2-D data the paths drawn as lines of points over the real data. "
                    "Rows of a class-conditional run keep one class each (row r: class r, or "
                    "--label K).")
    _add_truncation(interpolate)
    interpolate.add_argument("--workdir", metavar="DIR", required=True, help="a run's workdir")
    interpolate.add_argument("--out", metavar="FILE", required=True, help="output .png file")
    interpolate.add_argument("--rows", metavar="R", type=int, default=None,
                             help="number of paths (default: one per class for conditional "
                                  "runs, else 8)")
    interpolate.add_argument("--steps", metavar="S", type=int, default=10,
                             help="points per path, both ends included (default 10)")
    interpolate.add_argument("--method", choices=("slerp", "lerp"), default="slerp",
                             help="spherical (default) or linear interpolation")
    interpolate.add_argument("--label", metavar="K", default=None,
                             help="class of every row (class-conditional runs): index or name")
    interpolate.add_argument("--seed", metavar="S", type=int, default=0,
                             help="seed of the end points (default 0)")
    interpolate.add_argument("--step", metavar="STEP", type=int, default=None,
                             help="checkpoint step to use (default: the latest)")
    interpolate.add_argument("--no-ema", action="store_true",
                             help="use the generator's raw parameters even when an EMA is kept")

    add_prepare_parser(commands, common)
    add_translate_parser(commands, common)

    evaluate = commands.add_parser(
        "eval", parents=[common], allow_abbrev=False,
        help="compute the metrics that fit the data set; write DIR/eval.json",
        description="Compute the metrics that fit the run's data on N samples of the latest "
                    "checkpoint: for ring8/grid25 the PacGAN mode metrics (modes captured, %% high "
                    "quality, reverse KL); for images FID, KID, Inception Score, precision/recall/"
                    "density/coverage against real training images, with the digits classifier's "
                    "features for digits (plus class coverage) and FID Inception-v3 features "
                    "otherwise. Writes DIR/eval.json and prints it as the last line (one JSON "
                    "object, with the protocol of the image scores). On a multi-seed workdir "
                    "(num_seeds > 1) every DIR/seed_<k> is evaluated (each gets its eval.json) "
                    "and DIR/eval.json holds {\"seeds\": ..., \"summary\": mean, std, min, "
                    "max of each metric over the seeds}.")
    _add_truncation(evaluate)
    evaluate.add_argument("--workdir", metavar="DIR", required=True, help="a run's workdir")
    evaluate.add_argument("--num", metavar="N", type=int, default=None,
                          help="number of generated samples (default 2500 points, as in PacGAN; "
                               "10000 images, as FID needs); FID needs N above the feature "
                               "dimension (64 digits, 2048 Inception)")
    evaluate.add_argument("--weights", metavar="FILE", default=None,
                          help="weights of the feature network (default: the shipped digits "
                               "classifier; for other images $JAXGAN_INCEPTION_WEIGHTS, the "
                               "pytorch-fid Inception .pth)")
    evaluate.add_argument("--seed", metavar="S", type=int, default=0,
                          help="seed of the latent draws (default 0)")
    evaluate.add_argument("--features", choices=("digits", "inception"), default=None,
                          help="feature network of the image scores (default: digits for the "
                               "digits data set, else inception); digits fits any set of "
                               "handwritten-digit images, e.g. one made by `jaxgan prepare`")
    evaluate.add_argument("--step", metavar="STEP", type=int, default=None,
                          help="checkpoint step to evaluate (default: the latest)")
    # listed for --help only: main() hands `jaxgan anomaly ...` to jaxgan.anomaly.cli
    commands.add_parser("anomaly", add_help=False,
                        help="anomaly detection with a trained GAN: fit | score | eval "
                             "(jaxgan anomaly --help)")
    return parser


def split_overrides(extras: Sequence[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Pulls `--config.KEY=VALUE` / `--config.KEY VALUE` out of argparse's leftovers."""
    overrides, rest = [], []
    i = 0
    while i < len(extras):
        arg = extras[i]
        if arg.startswith(OVERRIDE_PREFIX):
            name = arg[len(OVERRIDE_PREFIX):]
            if "=" in name:
                key, value = name.split("=", 1)
            elif i + 1 < len(extras) and not extras[i + 1].startswith("--"):
                key, value = name, extras[i + 1]
                i += 1
            else:
                raise UsageError(f"{arg} needs a value: {arg}=VALUE")
            if not key:
                raise UsageError(f"{arg}: name the field, e.g. --config.steps=1000")
            overrides.append((key, value))
        else:
            rest.append(arg)
        i += 1
    return overrides, rest


# --- commands -------------------------------------------------------------------------------------

def _saved_run_config(workdir: pathlib.Path) -> tuple[dict | None, str | None]:
    """(config, note) of the run already in `workdir` when resuming without --config: its
    config.json; a multi-seed run's; or, when config.json is missing or damaged, the copy saved
    with its latest checkpoint. (None, None) for a workdir without a run."""
    from jaxgan.training import seed_runs
    from jaxgan.training.checkpoint import Checkpointer
    from jaxgan.training.workdir import CHECKPOINT_DIR, CONFIG_FILE, WorkdirError, has_checkpoints

    saved = workdir / CONFIG_FILE
    problem = None
    if saved.is_file():
        try:
            values = json.loads(saved.read_text())
            if not isinstance(values, dict):
                raise ValueError(f"a JSON {type(values).__name__}, not an object")
            return values, f"using the config saved in {saved}"
        except (OSError, ValueError) as err:
            problem = f"{saved} is damaged ({type(err).__name__}: {err})"
    multi = seed_runs.saved_multi_seed_config(workdir)
    if multi is not None:
        return multi, (f"using the config of the {multi['num_seeds']} seeds in {workdir}")
    if has_checkpoints(workdir):
        checkpointer = Checkpointer(workdir / CHECKPOINT_DIR)
        try:
            values = checkpointer.saved_config()
        finally:
            checkpointer.close()
        if values:
            why = problem or f"{saved} is missing"
            return values, f"{why}; using the config saved with the latest checkpoint"
    if problem is not None:
        raise WorkdirError(f"{problem}; pass --config with the experiment the run was trained "
                           f"with, or move that file away")
    return None, None


def resolve_train_config(config_spec: str | None, workdir: str,
                         overrides: Sequence[tuple[str, str]]):
    """The config of a train command: the experiment (or, resuming without --config, the run's
    saved config: `_saved_run_config`; or the default experiment), then the overrides,
    validated."""
    from jaxgan.training import run_config

    notes = []
    values = None
    if config_spec is None:
        values, note = _saved_run_config(pathlib.Path(workdir).expanduser())
    if values is not None:
        config = run_config.config_from_dict(values)
        notes.append(note)
    else:
        config = run_config.load_experiment(config_spec or run_config.DEFAULT_EXPERIMENT)
    run_config.apply_overrides(config, overrides)
    return run_config.validate_config(config), notes


def set_xla_cpu_threads(threads: int, environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """`config.xla_cpu_threads` > 0: NPROC = threads for this process, unless the user set NPROC.

    XLA's CPU client sizes its worker thread pools by NPROC (`DefaultThreadPoolSize`, XLA's
    xla/pjrt/utils.cc; otherwise the CPU count), read once when JAX creates the client, so this
    runs before anything computes. The toy experiments set 1 (`presets.toy_mixture`): their fused
    step is ~1,000 tiny thunks that, handed between two cores' threads, cost ~35% more CPU than
    on one (benchmarks/README.md, "#21 session 8"); results are bit-identical. Returns the notes
    to print (a setting that could not take effect)."""
    if threads <= 0 or "NPROC" in environ:
        return []
    from jax._src import xla_bridge  # noqa: PLC0415 (whether the client exists: no public API)

    if xla_bridge.backends_are_initialized():
        return [f"config.xla_cpu_threads={threads} not applied: JAX's CPU client already exists"]
    environ["NPROC"] = str(threads)
    return []


def run_train(args: argparse.Namespace) -> int:
    from jaxgan.training import parallel

    # before anything touches a device
    parallel.initialize_distributed(args.coordinator_address, args.num_processes, args.process_id)
    from jaxgan.training import loop

    config, notes = resolve_train_config(args.config, args.workdir, args.overrides)
    notes.extend(set_xla_cpu_threads(config.xla_cpu_threads))
    for note in notes if parallel.is_main_process() else ():
        print(note, flush=True)
    try:
        summary = loop.train_and_evaluate(config, args.workdir,
                                          allow_config_change=args.allow_config_change)
    except loop.TrainingStopped as err:
        print(f"jaxgan: {err}", file=sys.stderr)
        return EXIT_FAILED
    if summary.stopped_by == "SIGINT":
        return EXIT_INTERRUPTED
    if summary.stopped_by is None and parallel.is_main_process():
        print(f"trained to step {summary.step} in {summary.seconds:.0f} s; outputs in "
              f"{summary.workdir}", flush=True)
    return EXIT_OK


def _writable_output(path: str, formats: Sequence[str] = SAMPLE_FORMATS) -> pathlib.Path:
    out = pathlib.Path(path).expanduser()
    if out.is_dir():
        raise UsageError(f"--out {path!r} is a directory: name a file in it, e.g. "
                         f"{out / ('samples' + formats[0])}")
    if out.suffix.lower() not in formats:
        raise UsageError(f"--out {path!r}: the file name must end in one of "
                         f"{', '.join(formats)}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create the folder of --out {path!r} ({err.strerror or err})") \
            from None
    if not os.access(out.parent, os.W_OK):
        raise UsageError(f"cannot write --out {path!r}: its folder is not writable")
    return out


def class_index(label: str | None, spec) -> int | None:
    """--label K: an integer class index, or a class name of the data set (spec.class_names)."""
    if label is None:
        return None
    names = list(getattr(spec, "class_names", ()) or ())
    if label in names:
        return names.index(label)
    try:
        return int(label)
    except ValueError:
        known = f"one of {', '.join(names)}" if names else "an integer class index"
        raise UsageError(f"--label {label!r} is not a class of '{spec.name}'; use {known}") \
            from None


def run_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from jaxgan import data, visualize
    from jaxgan.core import class_samples
    from jaxgan.tools import trained

    out = _writable_output(args.out)
    if args.num < 1:
        raise UsageError(f"--num must be >= 1, got {args.num}")
    run = _load_generator_run(args, "sample")
    args.label = class_index(args.label, run.spec)
    labels, columns = class_samples.sampling_labels(run.gan, args.num, args.label)
    num = args.num if labels is None else len(labels)
    samples = trained.generate_samples(run, num, args.seed, use_ema=not args.no_ema,
                                       labels=labels)
    trained.check_finite_samples(run, samples)
    if out.suffix.lower() == ".npy":
        np.save(out, samples)
    elif run.spec.kind == "points":
        real = data.sample_real(run.spec.name, 1000, args.seed)
        visualize.save_png(visualize.scatter_picture(
            samples, real, run.spec.mode_centers,
            title=f"{run.spec.name}, step {run.step}, {num} samples"), out)
    else:
        visualize.save_png(visualize.image_grid(
            samples, columns=columns, scale=visualize.display_scale(samples.shape[1])), out)
    print(f"wrote {num} samples of step {run.step} to {out}", flush=True)
    return EXIT_OK


def _load_generator_run(args: argparse.Namespace, command: str):
    """The trained run of `args.workdir` at `args.step`, truncated by `args.truncation`.

    A CycleGAN run has no latent space: it is refused with a line naming `jaxgan translate`.
    """
    from jaxgan.tools import trained
    from jaxgan.tools.translate import is_cyclegan_workdir

    if is_cyclegan_workdir(args.workdir):
        raise UsageError(f"{args.workdir} is a CycleGAN run, which translates images instead of "
                         f"sampling them: use `jaxgan translate --workdir {args.workdir} "
                         f"--direction a2b|b2a --input ... --out ...` (not `jaxgan {command}`)")
    return trained.load_run(args.workdir, step=args.step, truncation=args.truncation)


def add_translate_parser(commands, common: argparse.ArgumentParser) -> None:
    translate = commands.add_parser(
        "translate", parents=[common], allow_abbrev=False,
        help="translate images with a trained CycleGAN (A to B or B to A)",
        description="Translate images with the latest checkpoint of a CycleGAN run (task "
                    "cyclegan): a2b applies G (domain A to B), b2a applies F. --input is a .npy "
                    "array (float in [-1, 1] or uint8, N x R x R x C) or a folder of image files "
                    "(decoded as `jaxgan prepare` does: centre crop, resize to the run's "
                    "resolution and channels). FILE.npy receives the translations (float32 in "
                    "[-1, 1]); FILE.png a picture with the inputs in the first row and their "
                    "translations below.")
    translate.add_argument("--workdir", metavar="DIR", required=True, help="a CycleGAN run")
    translate.add_argument("--direction", choices=("a2b", "b2a"), required=True,
                           help="a2b: G, domain A to B; b2a: F, domain B to A")
    translate.add_argument("--input", metavar="FILE.npy|FOLDER", required=True,
                           help="images to translate")
    translate.add_argument("--out", metavar="FILE", required=True,
                           help="output file: .npy (array) or .png (picture)")
    translate.add_argument("--step", metavar="STEP", type=int, default=None,
                           help="checkpoint step to use (default: the latest)")


def run_translate(args: argparse.Namespace) -> int:
    import numpy as np

    from jaxgan import visualize
    from jaxgan.tools import translate

    out = _writable_output(args.out)
    run = translate.load_cyclegan_run(args.workdir, step=args.step)
    shape = run.cg.shape_a if args.direction == "a2b" else run.cg.shape_b
    images = translate.read_images(args.input, shape)
    result = translate.translate_images(run, images, args.direction)
    if not np.all(np.isfinite(result)):
        raise ValueError(f"the translations of step {run.step} hold NaN/Inf; use an earlier "
                         f"--step")
    if out.suffix.lower() == ".npy":
        np.save(out, result)
    else:
        columns = min(len(images), 16)
        rows = []
        for start in range(0, len(images), columns):
            pair = [images[start:start + columns], result[start:start + columns]]
            channels = max(p.shape[-1] for p in pair)
            pair = [np.repeat(p, channels // p.shape[-1], axis=-1) for p in pair]
            pad = columns - len(pair[0])
            rows += [np.concatenate([p, np.full((pad,) + p.shape[1:], -1.0, np.float32)])
                     for p in pair]
        visualize.save_png(visualize.image_grid(np.concatenate(rows), columns=columns,
                                                scale=visualize.display_scale(shape[0])), out)
    print(f"translated {len(images)} images ({args.direction}) with step {run.step} to {out}",
          flush=True)
    return EXIT_OK


def run_eval(args: argparse.Namespace) -> int:
    from jaxgan.tools import evaluate, trained
    from jaxgan.tools import translate as cyclegan_tools

    if cyclegan_tools.is_cyclegan_workdir(args.workdir):  # the CycleGAN metrics
        run = cyclegan_tools.load_cyclegan_run(args.workdir, step=args.step)
        line = json.dumps(cyclegan_tools.evaluate_cyclegan(run))
        (run.workdir / cyclegan_tools.EVAL_FILE).write_text(line + "\n")
        print(line, flush=True)
        return EXIT_OK

    if args.num is not None and args.num < 1:
        raise UsageError(f"--num must be >= 1, got {args.num}")
    seeds = trained.seed_workdirs(args.workdir)
    if seeds:  # a multi-seed run: every seed, then the summary over seeds
        results = {}
        for seed_dir in seeds:
            run = trained.load_run(seed_dir, step=args.step, truncation=args.truncation)
            results[seed_dir.name] = evaluate.evaluate_run(run, num=args.num, seed=args.seed,
                                                           weights=args.weights,
                                                           features=args.features)
            (seed_dir / evaluate.EVAL_FILE).write_text(json.dumps(results[seed_dir.name]) + "\n")
        line = json.dumps({"seeds": results, "summary": evaluate.summarise_seeds(results)})
        (pathlib.Path(args.workdir).expanduser() / evaluate.EVAL_FILE).write_text(line + "\n")
        print(line, flush=True)
        return EXIT_OK
    run = trained.load_run(args.workdir, step=args.step, truncation=args.truncation)
    result = evaluate.evaluate_run(run, num=args.num, seed=args.seed, weights=args.weights,
                                   features=args.features)
    line = json.dumps(result)
    (run.workdir / evaluate.EVAL_FILE).write_text(line + "\n")
    print(line, flush=True)
    return EXIT_OK


def run_interpolate(args: argparse.Namespace) -> int:
    import jax

    from jaxgan import data, visualize
    from jaxgan.core import class_samples
    from jaxgan.tools import interpolate, trained

    out = _writable_output(args.out, (".png",))
    if args.steps < 2:
        raise UsageError(f"--steps must be >= 2, got {args.steps}")
    if args.rows is not None and args.rows < 1:
        raise UsageError(f"--rows must be >= 1, got {args.rows}")
    run = _load_generator_run(args, "interpolate")
    args.label = class_index(args.label, run.spec)
    rows = args.rows
    if rows is None:
        rows = (run.gan.num_classes if class_samples.is_conditional(run.gan)
                and args.label is None else 8)
    samples = interpolate.interpolation_samples(run.gan, run.state, jax.random.key(args.seed),
                                                rows, args.steps, args.method, args.label,
                                                use_ema=not args.no_ema)
    trained.check_finite_samples(run, samples)
    real = data.sample_real(run.spec.name, 1000, args.seed) if run.spec.kind == "points" else None
    visualize.save_png(interpolate.interpolation_picture(
        samples, real, run.spec.mode_centers,
        title=f"{run.spec.name}, step {run.step}: {rows} {args.method} paths"), out)
    print(f"wrote {rows} interpolations of {args.steps} steps (step {run.step}) to {out}",
          flush=True)
    return EXIT_OK


# --- jaxgan prepare (issue 15: your own images) --------------------------------------------------

PREPARE_DESCRIPTION = """\
Make a TFDS data set (array_record, no TensorFlow, no network) from your own images: a folder
(searched recursively), a .zip of images, or a .npz/.npy array (x: [N, H, W(, C)] uint8 0..255 or
float 0..1; optional y: integer labels). Then train on it like on a catalog set:
  jaxgan train --config.dataset=NAME --config.data_dir=D --config.resolution=N --config.channels=3

Every Pillow format and mode is read; alpha is composited on --background (default black),
16-bit grey is scaled to 8 bits (not clipped), EXIF orientation applied; non-square images are
centre-cropped (--crop center) or padded with the background (--crop none); resizing uses BOX
(area) when shrinking and LANCZOS when enlarging. Files are taken in sorted order, so two
preparations are byte-identical; the content hash (sha256 of labels and pixels) is kept in the
set's metadata and every run's config.json. Unreadable files are skipped and counted (--strict:
stop at the first). The set is written into a temporary folder and renamed when complete.

examples:
  jaxgan prepare photos/ --name my_photos --resolution 64
  jaxgan prepare pets.zip --name pets --resolution 64 --labels folders --workers 4
  jaxgan prepare faces.npz --name faces --channels 1 --data_dir /data/tfds
"""


def add_prepare_parser(commands, common: argparse.ArgumentParser) -> None:
    prepare = commands.add_parser(
        "prepare", parents=[common], allow_abbrev=False,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        help="make a data set from a folder, zip or array of your own images",
        description=PREPARE_DESCRIPTION)
    prepare.add_argument("source", metavar="SOURCE", help="a folder, a .zip, or a .npz/.npy file")
    prepare.add_argument("--name", metavar="NAME", required=True,
                         help="data set name: lower-case letters, digits and _ (my_photos)")
    prepare.add_argument("--data_dir", metavar="D", default=None,
                         help="TFDS data directory (default $TFDS_DATA_DIR or "
                              "~/tensorflow_datasets)")
    prepare.add_argument("--resolution", metavar="N", type=int, default=None,
                         help="store N x N images (default: keep the size, which must then be "
                              "the same for all)")
    prepare.add_argument("--channels", type=int, choices=(1, 3), default=3,
                         help="1: grey (ITU-R 601-2 luma), 3: RGB (default)")
    prepare.add_argument("--crop", choices=("center", "none"), default="center",
                         help="non-square images: centre square crop (default) or none (pad "
                              "with the background to a square)")
    prepare.add_argument("--labels", choices=("folders", "none"), default=None,
                         help="folders: the sorted first-level subfolders are the classes; none "
                              "(default for folders/zips; arrays use y when present)")
    prepare.add_argument("--background", metavar="V", type=int, default=0,
                         help="grey level 0..255 under transparent pixels and in padding "
                              "(default 0, black)")
    prepare.add_argument("--workers", metavar="W", type=int, default=None,
                         help="decoding processes (default: the number of CPUs)")
    prepare.add_argument("--strict", action="store_true",
                         help="stop at the first unreadable file instead of skipping it")
    prepare.add_argument("--overwrite", action="store_true",
                         help="replace a data set NAME already prepared in D")


def run_prepare(args: argparse.Namespace) -> int:
    from jaxgan.data.prepare_images import prepare_images

    try:
        prepared = prepare_images(args.source, args.name, data_dir=args.data_dir,
                                  resolution=args.resolution, channels=args.channels,
                                  crop=args.crop, labels=args.labels, background=args.background,
                                  workers=args.workers, strict=args.strict,
                                  overwrite=args.overwrite, progress=sys.stderr)
    except OSError as err:  # a disk that fills up, a file that vanishes: I/O, not bad input
        if args.debug:
            traceback.print_exc()
        print(f"jaxgan prepare: I/O error, nothing was written: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(prepared.summary(), flush=True)
    return EXIT_OK


COMMANDS = {"train": run_train, "sample": run_sample, "eval": run_eval,
            "translate": run_translate,
            "interpolate": run_interpolate, "prepare": run_prepare}


class _DropMessages(logging.Filter):
    """Drops log records containing any of `fragments` (third-party advice that needs no action)."""

    def __init__(self, *fragments: str):
        super().__init__()
        self.fragments = fragments

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(fragment in message for fragment in self.fragments)


# TFDS advises installing OpenCV on every image decode; jaxgan decodes with PIL on purpose.
QUIET_LOGS = {"absl": ("OpenCV is not installed",)}


class _DropOrbaxErrors(logging.Filter):
    """Drops Orbax's ERROR records (a failed background write logs its traceback from each of its
    threads): the failure itself reaches the command as CheckpointWriteError, reported in one line
    (`--debug` keeps them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno >= logging.ERROR and "orbax" in record.pathname)


# --- the error boundary ---------------------------------------------------------------------------

OS_ERROR_ADVICE = {
    errno.ENOSPC: "free space on that disk (or use a folder on another one), then run the same "
                  "command again; a training run resumes from its latest checkpoint",
    errno.EDQUOT: "free space within your quota, then run the same command again",
    errno.EACCES: "make it writable for you or choose another path",
    errno.EPERM: "make it writable for you or choose another path",
    errno.EROFS: "that file system is read-only: choose a path on a writable one",
    errno.ENOENT: "check that the path exists (it may have been moved or deleted meanwhile)",
    errno.EISDIR: "name a file, not a directory",
    errno.ENOTDIR: "a part of the path is a file, not a directory: check the path",
    errno.EIO: "the disk or network file system failed: check it, then run the command again",
}


def os_error_line(err: OSError) -> str:
    """One line for an OSError: the path, the reason and what to do."""
    from jaxgan.training.checkpoint import CheckpointWriteError

    if isinstance(err, CheckpointWriteError):
        return err.strerror or str(err)
    reason = err.strerror or str(err) or type(err).__name__
    where = f"{err.filename}: " if err.filename else ""
    if err.filename2:
        where = f"{err.filename} -> {err.filename2}: "
    advice = OS_ERROR_ADVICE.get(err.errno, "check the path and the disk, then run the command "
                                            "again")
    return f"{where}{reason}; {advice}"


def _resource_exhausted(err: BaseException) -> bool:
    """An accelerator (or XLA host) out-of-memory error."""
    return type(err).__name__ in ("XlaRuntimeError", "JaxRuntimeError") and \
        "RESOURCE_EXHAUSTED" in str(err)


def run_command(command: str, args: argparse.Namespace,
                function: Callable[[argparse.Namespace], int] | None = None) -> int:
    """Runs `function(args)` (default COMMANDS[command]) inside the CLI's one error boundary, for
    every command including `jaxgan anomaly ...`: each expected failure is one line on stderr and
    an exit status (ValueError: bad input, 2; OSError, out of memory: 1); `args.debug` prints the
    traceback first. Anything else is a bug and keeps its traceback."""
    function = COMMANDS[command] if function is None else function
    def fail(status: int, text: str) -> int:
        if args.debug:
            traceback.print_exc()
        print(f"jaxgan {command}: error: {text}", file=sys.stderr)
        return status

    quiet = _DropOrbaxErrors()
    absl_logger = logging.getLogger("absl")
    previous_hook = sys.unraisablehook

    def drop_closed_loop_echoes(unraisable):
        # a failed Orbax write or read leaves TensorStore callbacks for its closed event loop
        value = unraisable.exc_value
        if not (isinstance(value, RuntimeError) and str(value) == "Event loop is closed"):
            previous_hook(unraisable)

    if not args.debug:
        absl_logger.addFilter(quiet)
        sys.unraisablehook = drop_closed_loop_echoes
    failed = True
    try:
        with warnings.catch_warnings():
            # the log line of a skipped corrupt checkpoint says it once; the warning would repeat
            # it with a source line
            from jaxgan.training.checkpoint import CorruptCheckpointWarning

            warnings.simplefilter("ignore", CorruptCheckpointWarning)
            status = function(args)
        failed = False
        return status
    except ValueError as err:  # every bad-input error type of jaxgan is a ValueError
        return fail(EXIT_USAGE, " ".join(str(err).split()))
    except OSError as err:
        return fail(EXIT_FAILED, os_error_line(err))
    except MemoryError:
        return fail(EXIT_FAILED, "out of host memory: lower batch_size (or --num), or free "
                                 "memory")
    except KeyboardInterrupt:
        print("jaxgan: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # noqa: BLE001 - only device out-of-memory is expected here
        if _resource_exhausted(err):
            return fail(EXIT_FAILED, "out of accelerator memory: lower batch_size or the model "
                                     "widths (--debug shows XLA's report)")
        raise
    finally:
        # after a failure, Orbax's threads and TensorStore's callbacks may still report it while
        # the process exits: the filters stay until then
        if not failed:
            absl_logger.removeFilter(quiet)
            sys.unraisablehook = previous_hook


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["anomaly"]:  # its own parser and commands (AnoGAN, f-AnoGAN)
        from jaxgan.anomaly import cli as anomaly_cli

        anomaly_parser = anomaly_cli.build_parser()
        args = anomaly_parser.parse_args(argv[1:])
        if args.command is None:
            anomaly_parser.print_help(sys.stderr)
            return EXIT_USAGE
        return run_command(f"anomaly {args.command}", args, anomaly_cli.COMMANDS[args.command])
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        overrides, rest = split_overrides(extras)
    except UsageError as err:
        parser.error(str(err))
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if overrides and args.command != "train":
        parser.error(f"--config.KEY overrides apply to `jaxgan train` only, got "
                     f"{OVERRIDE_PREFIX}{overrides[0][0]}")
    args.overrides = overrides
    for name, fragments in QUIET_LOGS.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropMessages) for f in logger.filters):
            logger.addFilter(_DropMessages(*fragments))
    args.debug = args.debug or args.debug_all
    return run_command(args.command, args)


if __name__ == "__main__":
    sys.exit(main())
