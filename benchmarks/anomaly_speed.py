"""Queries/s of the GAN anomaly detectors on this machine (issue 18's speed goals: f-AnoGAN
≥ 1,000 queries/s and AnoGAN with Γ = 500 ≥ 20 queries/s on 2 cores at 16×16).

    python benchmarks/anomaly_speed.py RUN [--queries 2048] [--anogan_queries 512] [--repeats 3]

RUN: a trained run with an f-AnoGAN encoder (e.g. WORKROOT/digit3_seed0 of
benchmarks/anomaly_digits.py; a class-conditional run is scored over its normal classes: AnoGAN
then runs one search per class). Scores the run's test images, tiled to --queries rows, with
jaxgan.anomaly.workflow.score_images (batch 256, compiled once ahead of time and not timed), and
reports per method and repeat: wall-clock queries/s, the process's CPU seconds (user + sys, all
threads) and queries per CPU-second, with the 1-minute load average before and after. On a shared
machine the wall-clock rate depends on the other jobs; queries per CPU-second does not (much):
at full use of c idle cores the wall rate would be about c × that number if XLA's threads scale.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from jaxgan.anomaly import workflow


def load1() -> float:
    return os.getloadavg()[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("--queries", type=int, default=2048)
    parser.add_argument("--anogan_queries", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--anogan_keep_classes", type=int, default=1,
                        help="a conditional run: prune AnoGAN's search to each query's K best "
                             "classes after --anogan_prune_after steps (0: every class)")
    parser.add_argument("--anogan_prune_after", type=int, default=50)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    run = workflow.open_run(args.run)
    test, _ = workflow.run_images(run, "test")
    settings = workflow.AnoGANSettings(keep_classes=args.anogan_keep_classes,
                                       prune_after=args.anogan_prune_after)
    rows = []
    for method, num in (("fanogan", args.queries), ("discriminator", args.queries),
                        ("anogan", args.anogan_queries)):
        images = np.resize(test, (num, *test.shape[1:])).astype(np.float32)
        for repeat in range(args.repeats):
            before = load1()
            timing = workflow.score_images(run, method, images, batch_size=256,
                                           anogan_settings=settings)["timing"]
            row = {"method": method, "repeat": repeat, "queries": num,
                   "anogan_keep_classes": settings.keep_classes if method == "anogan" else None,
                   "queries_per_s": num / timing["wall_s"], "cpu_s": timing["cpu_s"],
                   "wall_s": timing["wall_s"], "queries_per_cpu_s": num / timing["cpu_s"],
                   "compile_s": timing["compile_s"], "load1_before": before,
                   "load1_after": load1(), "cpu_count": os.cpu_count()}
            rows.append(row)
            print(json.dumps({k: round(v, 2) if isinstance(v, float) else v
                              for k, v in row.items()}), flush=True)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(rows, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
