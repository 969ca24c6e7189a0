"""The CycleGAN digits figure and numbers (issue 19): evaluates a `cyclegan_digits` run and draws
held-out translations.

    python benchmarks/cyclegan_digits.py RUN [--step S] [--out docs/cyclegan_digits.png]

Prints `jaxgan eval`'s metrics (jaxgan.tools.translate.evaluate_cyclegan) as one JSON line and
writes a picture of six rows on 10 held-out digits, one of each class (the first held-out image of
each digit in `digits_classifier.held_out_split` order): a, G(a), F(G(a)) (digits → photos →
digits), then b, F(b), G(F(b)) (photos → digits → photos).
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from jaxgan import visualize
from jaxgan.metrics import digits_classifier as dc
from jaxgan.tools import translate


def held_out_one_per_class(labels: np.ndarray) -> np.ndarray:
    _, held = dc.held_out_split()
    return np.array([held[labels[held] == k][0] for k in range(10)])


def picture(run: translate.CycleGANRun) -> np.ndarray:
    (a_all, b_all), labels = translate.digits_pair(run.config.resolution, run.config.channels,
                                                   run.config.dataset_b)
    pick = held_out_one_per_class(labels)
    a, b = a_all[pick], b_all[pick[::-1]]  # B: the same held-out images, digits 9 to 0
    fake_b = translate.translate_images(run, a, "a2b")
    fake_a = translate.translate_images(run, b, "b2a")
    rows = [a, fake_b, translate.translate_images(run, fake_b, "b2a"),
            b, fake_a, translate.translate_images(run, fake_a, "a2b")]
    return visualize.image_grid(np.concatenate(rows), columns=10, scale=4)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir")
    parser.add_argument("--step", type=int, default=None)
    parser.add_argument("--out", default="docs/cyclegan_digits.png")
    args = parser.parse_args(argv)
    run = translate.load_cyclegan_run(args.workdir, step=args.step)
    visualize.save_png(picture(run), args.out)
    print(json.dumps(translate.evaluate_cyclegan(run)), flush=True)


if __name__ == "__main__":
    main()
