"""The `jaxgan` command: train, sample, eval.

    jaxgan train  [--config NAME|FILE] --workdir DIR [--config.KEY=VALUE ...]
    jaxgan sample --workdir DIR --out FILE.npy|FILE.png [--num N] [--seed S] [--label K]
    jaxgan eval   --workdir DIR [--num N] [--seed S]
    jaxgan interpolate --workdir DIR --out FILE.png [--rows R] [--steps S] [--label K]
    jaxgan anomaly fit|score|eval --workdir DIR ...  (jaxgan.anomaly.cli: AnoGAN, f-AnoGAN)

Bad input (unknown config key, loss, data set; a value of the wrong type or out of range; a workdir
that cannot be written) ends with one line on stderr and exit status 2; `--debug` shows the
traceback instead. A run stopped by SIGTERM checkpoints and exits 0, by SIGINT exits 130 after
checkpointing; a diverged run (NaN/Inf metrics) exits 1.

Room `cli`, the top: may import every room (it does so inside the commands, `jaxgan train` only
after jax.distributed is set up); nothing in jaxgan imports it.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import sys
import traceback
from collections.abc import Sequence

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
    sample.add_argument("--label", metavar="K", type=int, default=None,
                        help="class of every sample (class-conditional runs); without it a "
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
    interpolate.add_argument("--workdir", metavar="DIR", required=True, help="a run's workdir")
    interpolate.add_argument("--out", metavar="FILE", required=True, help="output .png file")
    interpolate.add_argument("--rows", metavar="R", type=int, default=None,
                             help="number of paths (default: one per class for conditional "
                                  "runs, else 8)")
    interpolate.add_argument("--steps", metavar="S", type=int, default=10,
                             help="points per path, both ends included (default 10)")
    interpolate.add_argument("--method", choices=("slerp", "lerp"), default="slerp",
                             help="spherical (default) or linear interpolation")
    interpolate.add_argument("--label", metavar="K", type=int, default=None,
                             help="class of every row (class-conditional runs)")
    interpolate.add_argument("--seed", metavar="S", type=int, default=0,
                             help="seed of the end points (default 0)")
    interpolate.add_argument("--step", metavar="STEP", type=int, default=None,
                             help="checkpoint step to use (default: the latest)")
    interpolate.add_argument("--no-ema", action="store_true",
                             help="use the generator's raw parameters even when an EMA is kept")

    evaluate = commands.add_parser(
        "eval", parents=[common], allow_abbrev=False,
        help="compute the metrics that fit the data set; write DIR/eval.json",
        description="Compute the metrics that fit the run's data on N samples of the latest "
                    "checkpoint: for ring8/grid25 the PacGAN mode metrics (modes captured, %% high "
                    "quality, reverse KL); for images FID, KID, Inception Score, precision/recall/"
                    "density/coverage against real training images, with the digits classifier's "
                    "features for digits (plus class coverage) and FID Inception-v3 features "
                    "otherwise. Writes DIR/eval.json and prints it as the last line (one JSON "
                    "object, with the protocol of the image scores).")
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

def resolve_train_config(config_spec: str | None, workdir: str,
                         overrides: Sequence[tuple[str, str]]):
    """The config of a train command: the experiment (or DIR/config.json when resuming without
    --config, or the default experiment), then the overrides, validated."""
    from jaxgan.training import run_config
    from jaxgan.training.workdir import CONFIG_FILE

    saved = pathlib.Path(workdir).expanduser() / CONFIG_FILE
    notes = []
    if config_spec is None and saved.is_file():
        config = run_config.config_from_dict(json.loads(saved.read_text()))
        notes.append(f"using the config saved in {saved}")
    else:
        config = run_config.load_experiment(config_spec or run_config.DEFAULT_EXPERIMENT)
    run_config.apply_overrides(config, overrides)
    return run_config.validate_config(config), notes


def run_train(args: argparse.Namespace) -> int:
    from jaxgan.training import parallel

    # before anything touches a device
    parallel.initialize_distributed(args.coordinator_address, args.num_processes, args.process_id)
    from jaxgan.training import loop

    config, notes = resolve_train_config(args.config, args.workdir, args.overrides)
    for note in notes if parallel.is_main_process() else ():
        print(note, flush=True)
    try:
        summary = loop.train_and_evaluate(config, args.workdir)
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


def run_sample(args: argparse.Namespace) -> int:
    import numpy as np

    from jaxgan import data, visualize
    from jaxgan.core import class_samples
    from jaxgan.tools import trained

    out = _writable_output(args.out)
    if args.num < 1:
        raise UsageError(f"--num must be >= 1, got {args.num}")
    run = trained.load_run(args.workdir, step=args.step)
    labels, columns = class_samples.sampling_labels(run.gan, args.num, args.label)
    num = args.num if labels is None else len(labels)
    samples = trained.generate_samples(run, num, args.seed, use_ema=not args.no_ema,
                                       labels=labels)
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


def run_eval(args: argparse.Namespace) -> int:
    from jaxgan.tools import evaluate, trained

    if args.num is not None and args.num < 1:
        raise UsageError(f"--num must be >= 1, got {args.num}")
    run = trained.load_run(args.workdir, step=args.step)
    result = evaluate.evaluate_run(run, num=args.num, seed=args.seed, weights=args.weights)
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
    run = trained.load_run(args.workdir, step=args.step)
    rows = args.rows or (run.gan.num_classes if class_samples.is_conditional(run.gan)
                         and args.label is None else 8)
    samples = interpolate.interpolation_samples(run.gan, run.state, jax.random.key(args.seed),
                                                rows, args.steps, args.method, args.label,
                                                use_ema=not args.no_ema)
    real = data.sample_real(run.spec.name, 1000, args.seed) if run.spec.kind == "points" else None
    visualize.save_png(interpolate.interpolation_picture(
        samples, real, run.spec.mode_centers,
        title=f"{run.spec.name}, step {run.step}: {rows} {args.method} paths"), out)
    print(f"wrote {rows} interpolations of {args.steps} steps (step {run.step}) to {out}",
          flush=True)
    return EXIT_OK


COMMANDS = {"train": run_train, "sample": run_sample, "eval": run_eval,
            "interpolate": run_interpolate}


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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["anomaly"]:  # its own parser and commands (AnoGAN, f-AnoGAN)
        from jaxgan.anomaly import cli as anomaly_cli

        return anomaly_cli.main(argv[1:])
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
    try:
        return COMMANDS[args.command](args)
    except ValueError as err:  # every bad-input error type of jaxgan is a ValueError
        if args.debug:
            traceback.print_exc()
        print(f"jaxgan {args.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("jaxgan: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
