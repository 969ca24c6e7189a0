"""The truncation trick of a trained StyleGAN2 run as one picture: row r shows G at ψ = PSIS[r]
(w_avg + ψ(w − w_avg), jaxgan.models.stylegan2) for the same latent points (and, for a
class-conditional run, the same labels: column k is class k mod K), so rows differ only by ψ.

    python benchmarks/truncation_row.py RUN_DIR --out trunc.png [--psi 1,0.7,0.5,0] [--num 10]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from jaxgan import visualize  # noqa: E402
from jaxgan.tools import trained  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workdir")
    p.add_argument("--out", required=True)
    p.add_argument("--psi", default="1,0.7,0.5,0")
    p.add_argument("--num", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    rows = []
    for psi in (float(v) for v in a.psi.split(",")):
        run = trained.load_run(a.workdir, truncation=psi)
        labels = (np.arange(a.num) % run.gan.num_classes).astype(np.int32) \
            if run.gan.num_classes else None
        rows.append(trained.generate_samples(run, a.num, a.seed, labels=labels))
    samples = np.concatenate(rows)
    visualize.save_png(visualize.image_grid(
        samples, columns=a.num, scale=visualize.display_scale(samples.shape[1])), a.out)
    print(f"wrote {len(rows)} rows (psi {a.psi}) of {a.num} samples to {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
