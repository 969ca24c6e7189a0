"""`jaxgan anomaly`: anomaly detection with a trained GAN (AnoGAN, f-AnoGAN, D's features).

    jaxgan anomaly fit   --workdir RUN [--steps N] [--lr LR] [--batch_size B] [--kappa K]
    jaxgan anomaly score --workdir RUN --method anogan|fanogan|discriminator|feature_gaussian
                         --input test|NAME[:SPLIT]|FILE.npy --out scores.csv
    jaxgan anomaly eval  --workdir RUN [--methods anogan,fanogan,...]

RUN is a `jaxgan train` workdir; for `test` inputs and `eval` it must have been trained on normal
classes only (--config.exclude_classes=7 or --config.train_classes=...), which holds out the
EGBAD test part. A class-conditional run (e.g. --config digits_default: projection D) is fit
with each normal image drawn as its own class and scored by the lowest f-AnoGAN score over the
normal classes (jaxgan.anomaly.encoder.encode_score_classes); AnoGAN searches z for every normal
class and scores the lowest (jaxgan.anomaly.anogan.anogan_search_classes); by default only each
query's best class goes on after 50 of the Γ steps (--anogan_keep_classes 0: every class, K times
the cost of an unconditional search). Bad input ends with one line on stderr and exit status 2; a
missing file or a full disk 1.
"""
from __future__ import annotations

import argparse
import json
import pathlib

EXIT_OK = 0


def _anogan_options(parser: argparse.ArgumentParser) -> None:
    from jaxgan.anomaly import anogan, scores

    group = parser.add_argument_group("AnoGAN (Schlegl et al. 2017)")
    group.add_argument("--anogan_steps", metavar="Γ", type=int, default=anogan.ANOGAN_STEPS,
                       help=f"Adam steps on z per query (default {anogan.ANOGAN_STEPS})")
    group.add_argument("--anogan_lr", metavar="LR", type=float, default=anogan.ANOGAN_LR,
                       help=f"Adam step size on z (default {anogan.ANOGAN_LR})")
    group.add_argument("--lam", metavar="λ", type=float, default=scores.ANOGAN_LAMBDA,
                       help=f"weight of the feature term (default {scores.ANOGAN_LAMBDA})")
    group.add_argument("--seed", metavar="S", type=int, default=0,
                       help="seed of the starting points z0 ~ N(0, I) (default 0)")
    group.add_argument("--anogan_keep_classes", metavar="K", type=int,
                       default=anogan.ANOGAN_KEEP_CLASSES,
                       help="a class-conditional run: after --anogan_prune_after steps go on "
                            f"with each query's K best classes only (default "
                            f"{anogan.ANOGAN_KEEP_CLASSES}; 0: every class for all Γ steps)")
    group.add_argument("--anogan_prune_after", metavar="S", type=int,
                       default=anogan.ANOGAN_PRUNE_AFTER,
                       help=f"steps before the classes are pruned (default "
                            f"{anogan.ANOGAN_PRUNE_AFTER}; >= Γ: never)")
    parser.add_argument("--batch_size", metavar="B", type=int, default=256,
                        help="queries scored per compiled call (default 256)")


def build_parser() -> argparse.ArgumentParser:
    from jaxgan.anomaly import encoder, workflow

    parser = argparse.ArgumentParser(prog="jaxgan anomaly", allow_abbrev=False,
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    defaults = encoder.EncoderSettings()

    fit = commands.add_parser("fit", allow_abbrev=False,
                              help="train the f-AnoGAN encoder (izi_f) of a run; G and D frozen")
    fit.add_argument("--workdir", metavar="RUN", required=True)
    fit.add_argument("--steps", type=int, default=defaults.steps,
                     help=f"encoder training steps (default {defaults.steps})")
    fit.add_argument("--lr", type=float, default=defaults.lr,
                     help=f"Adam learning rate (default {defaults.lr})")
    fit.add_argument("--batch_size", type=int, default=defaults.batch_size)
    fit.add_argument("--kappa", metavar="κ", type=float, default=defaults.kappa,
                     help=f"weight of the feature term (default {defaults.kappa})")
    fit.add_argument("--features", type=int, default=defaults.features,
                     help=f"encoder base width (default {defaults.features})")
    fit.add_argument("--seed", type=int, default=0, help="seed of init and batches (default 0)")
    fit.add_argument("--debug", action="store_true", help="show the traceback of an error")

    score = commands.add_parser("score", allow_abbrev=False,
                                help="score images; write index,label,score rows to a CSV")
    score.add_argument("--workdir", metavar="RUN", required=True)
    score.add_argument("--method", choices=workflow.METHODS, required=True)
    score.add_argument("--input", metavar="test|NAME|FILE.npy", default="test",
                       help="`test`: the run's test part; NAME or NAME:SPLIT: a prepared data set "
                            "at the run's resolution; FILE.npy: images [N, R, R, C] in [-1, 1]")
    score.add_argument("--out", metavar="FILE.csv", required=True)
    score.add_argument("--debug", action="store_true", help="show the traceback of an error")
    _anogan_options(score)

    evaluate = commands.add_parser(
        "eval", allow_abbrev=False,
        help="AUROC / AUPRC of each method on the run's test part; RUN/anomaly/eval.json and "
             "RUN/anomaly/ranking_METHOD.png")
    evaluate.add_argument("--workdir", metavar="RUN", required=True)
    evaluate.add_argument("--methods", default="",
                          help=f"comma-separated, of {', '.join(workflow.METHODS)} (default: "
                               f"every one the run supports: a class-conditional run has no "
                               f"anogan; fanogan needs `fit`)")
    evaluate.add_argument("--debug", action="store_true", help="show the traceback of an error")
    _anogan_options(evaluate)
    return parser


def _csv_output(path: str) -> pathlib.Path:
    out = pathlib.Path(path).expanduser()
    if out.suffix.lower() != ".csv":
        raise ValueError(f"--out {path!r}: the file name must end in .csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def run_fit(args) -> int:
    from jaxgan.anomaly import encoder, workflow

    settings = encoder.EncoderSettings(features=args.features, steps=args.steps, lr=args.lr,
                                       batch_size=args.batch_size, kappa=args.kappa,
                                       seed=args.seed)
    run = workflow.open_run(args.workdir)
    record = workflow.fit_encoder(run, settings, log=lambda step, loss: print(
        f"encoder step {step}/{settings.steps}  loss {loss:.5f}", flush=True)
        if step % 500 == 0 or step == settings.steps else None)
    print(f"trained the f-AnoGAN encoder for {settings.steps} steps in {record['seconds']:.0f} s "
          f"(loss {record['loss_curve_every_100'][-1]:.5f}); saved in "
          f"{run.workdir / encoder.ENCODER_DIR}", flush=True)
    return EXIT_OK


def _anogan_settings(args):
    from jaxgan.anomaly import workflow

    if args.anogan_steps < 0 or args.batch_size < 1 or not args.anogan_lr > 0:
        raise ValueError("--anogan_steps must be >= 0, --anogan_lr > 0 and --batch_size >= 1")
    if args.anogan_keep_classes < 0 or args.anogan_prune_after < 0:
        raise ValueError(f"--anogan_keep_classes and --anogan_prune_after must be >= 0, got "
                         f"{args.anogan_keep_classes} and {args.anogan_prune_after}")
    return workflow.AnoGANSettings(steps=args.anogan_steps, lr=args.anogan_lr, lam=args.lam,
                                   seed=args.seed, keep_classes=args.anogan_keep_classes,
                                   prune_after=args.anogan_prune_after)


def run_score(args) -> int:
    from jaxgan.anomaly import workflow

    out = _csv_output(args.out)
    settings = _anogan_settings(args)
    run = workflow.open_run(args.workdir)
    images, labels = workflow.resolve_input(run, args.input)
    result = workflow.score_images(run, args.method, images, anogan_settings=settings,
                                   batch_size=args.batch_size)
    workflow.write_scores_csv(out, result["score"], labels)
    print(f"wrote {len(images)} {args.method} scores to {out}", flush=True)
    return EXIT_OK


def run_eval(args) -> int:
    from jaxgan.anomaly import workflow

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in workflow.METHODS]
    if unknown or (args.methods.strip() and not methods):
        raise ValueError(f"--methods {args.methods!r}: use a comma-separated list of "
                         f"{', '.join(workflow.METHODS)}")
    run = workflow.open_run(args.workdir)
    methods = methods or list(run.methods())
    result = workflow.evaluate_run(run, methods, _anogan_settings(args), args.batch_size)
    for method, metrics in result["methods"].items():
        print(f"{method:<14} AUROC {metrics['auroc']:.4f}  AUPRC {metrics['auprc']:.4f}  "
              f"{metrics['queries_per_s']:.0f} queries/s", flush=True)
    print(json.dumps(result), flush=True)
    return EXIT_OK


# `jaxgan.cli.main` parses `jaxgan anomaly ...` with build_parser and runs these inside the CLI's
# one error boundary (`jaxgan.cli.run_command`)
COMMANDS = {"fit": run_fit, "score": run_score, "eval": run_eval}
