"""What limits f-AnoGAN on the hard held-out digits (issue 18): score and encoder variants on runs
that benchmarks/anomaly_digits.py already trained (GAN + izi_f encoder in WORKROOT/digitD_seedS).

    python benchmarks/anomaly_variants.py --workroot /tmp/anomaly_runs --digits 3,9 --seed 0 \
        [--encoder_steps 0] [--encoder_lr 2e-3] [--encoder_features 32] [--out variants.json]

For each run, one forward pass of the saved encoder E (or, with --encoder_steps N > 0, of a fresh
encoder trained here for N steps, not saved) gives z = E(x), G(E(x)) and D's features, and the
AUROC (sklearn, held-out digit positive) of each score built from them:
  izif        mean((x − G(E(x)))²) + κ·mean((f(x) − f(G(E(x))))²), κ = 1 (the shipped score)
  izif_k0.1 / izif_k10   other weights κ of the feature term
  pixel       mean((x − G(E(x)))²) alone;  feature   mean((f(x) − f(G(E(x))))²) alone
  pixel8      the pixel term at the digits' native 8×8 (2×2 mean pooling of x and G(E(x)))
  pixel_l1    mean|x − G(E(x))|
  znorm       ‖E(x)‖² (where the encoder puts the query in latent space)
  feat_knn5   mean distance of f(x) to its 5 nearest f(train) (D's feature space, no G; a check
              of how much the feature space alone separates)
Also the mean of each term over normals and anomalies (how the κ = 1 sum is weighted in
practice) and the train/test reconstruction error of normals (encoder fit vs generalisation).
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxgan.anomaly import encoder, scores, workflow


def components(run, apply_e, images: np.ndarray, batch: int = 256) -> dict[str, np.ndarray]:
    @jax.jit
    def fn(x):
        z = apply_e(x)
        gex = run.generator(z)
        fx, fg = run.features(x), run.features(gex)
        pool = lambda a: a.reshape(a.shape[0], a.shape[1] // 2, 2, a.shape[2] // 2, 2,
                                   a.shape[3]).mean(axis=(2, 4))
        flat = lambda a: a.reshape(a.shape[0], -1)
        return {"pixel": jnp.mean(flat(jnp.square(x - gex)), 1),
                "feature": jnp.mean(flat(jnp.square(fx - fg)), 1),
                "pixel8": jnp.mean(flat(jnp.square(pool(x) - pool(gex))), 1),
                "pixel_l1": jnp.mean(flat(jnp.abs(x - gex)), 1),
                "znorm": jnp.sum(jnp.square(z), 1), "fx": flat(fx)}
    parts = [jax.device_get(fn(jnp.asarray(images[i:i + batch])))
             for i in range(0, len(images), batch)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def one(workdir: pathlib.Path, args) -> dict:
    run = workflow.open_run(workdir)
    test, labels = workflow.run_images(run, "test")
    train, _ = workflow.run_images(run, "train")
    truth = workflow.is_anomalous(run, labels)
    shape = tuple(run.trained.spec.shape)
    record = {}
    if args.encoder_steps > 0:
        settings = encoder.EncoderSettings(steps=args.encoder_steps, lr=args.encoder_lr,
                                           features=args.encoder_features, seed=args.seed)
        module = encoder.Encoder(latent_dim=run.trained.gan.latent_dim,
                                 features=settings.features)
        t, c = time.perf_counter(), time.process_time()
        params, curve = encoder.train_encoder(module, run.generator, run.features, train,
                                              jax.random.key(settings.seed), settings)
        record = {"encoder": vars(args) | {"trained_here": True}, "loss_curve_every_100": curve,
                  "encoder_wall_s": time.perf_counter() - t,
                  "encoder_cpu_s": time.process_time() - c}
    else:
        module, params, saved = encoder.load_encoder(workdir, run.trained.gan.latent_dim, shape)
        record = {"encoder": saved["settings"], "loss_curve_every_100":
                  saved["loss_curve_every_100"]}
    apply_e = lambda v: module.apply({"params": params}, v)
    te = components(run, apply_e, test)
    tr = components(run, apply_e, train)
    from sklearn.neighbors import NearestNeighbors

    knn = NearestNeighbors(n_neighbors=5).fit(tr["fx"])
    variants = {"izif": te["pixel"] + te["feature"],
                "izif_k0.1": te["pixel"] + 0.1 * te["feature"],
                "izif_k10": te["pixel"] + 10 * te["feature"],
                **{k: te[k] for k in ("pixel", "feature", "pixel8", "pixel_l1", "znorm")},
                "feat_knn5": knn.kneighbors(te["fx"])[0].mean(1)}
    normal = truth == 0
    record.update({
        "auroc": {k: scores.detection_metrics(v, truth)["auroc"] for k, v in variants.items()},
        "term_means": {k: {"normal": float(te[k][normal].mean()),
                           "anomalous": float(te[k][~normal].mean()),
                           "train": float(tr[k].mean())}
                       for k in ("pixel", "feature", "pixel8", "znorm")}})
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workroot", required=True)
    parser.add_argument("--digits", default="3,9")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encoder_steps", type=int, default=0,
                        help="> 0: train a fresh encoder for this many steps (not saved)")
    parser.add_argument("--encoder_lr", type=float, default=2e-3)
    parser.add_argument("--encoder_features", type=int, default=32)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    results = {}
    for d in [int(x) for x in args.digits.split(",")]:
        workdir = pathlib.Path(args.workroot) / f"digit{d}_seed{args.seed}"
        results[d] = one(workdir, args)
        print(f"digit {d}:", json.dumps({k: round(v, 3) for k, v in
                                         results[d]["auroc"].items()}), flush=True)
        print("  term means:", json.dumps(results[d]["term_means"]), flush=True)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
