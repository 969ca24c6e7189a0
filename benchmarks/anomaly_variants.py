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
  shell       izi_f with E(x) projected onto the sphere ‖z‖ = √d where N(0, I_d) concentrates
              (G never saw latents off that shell)
  feat_knn5   mean distance of f(x) to its 5 nearest f(train) (D's feature space, no G; a check
              of how much the feature space alone separates)
  feat_gauss  Mahalanobis distance² of f(x) under a Gaussian (Ledoit-Wolf) fit on f(train)
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


def first_layer_features(run):
    """x -> D's first-layer features (LeakyReLU 0.2 of its first conv) [B, F0], via Flax's
    capture_intermediates (DCGAN D: the 'SpectralNorm_0' or 'Conv_0' call); None if absent."""
    gan, state = run.trained.gan, run.trained.state

    def f0(x):
        _, sown = gan.discriminator.apply(state.discriminator.variables(), x, None, train=False,
                                          mutable=["intermediates"], capture_intermediates=True)
        inter = sown["intermediates"]
        layer = inter.get("SpectralNorm_0", inter.get("Conv_0"))
        return jax.nn.leaky_relu(layer["__call__"][0], 0.2).reshape(x.shape[0], -1)
    return f0


def components(run, apply_e, images: np.ndarray, batch: int = 256) -> dict[str, np.ndarray]:
    f0 = first_layer_features(run)

    @jax.jit
    def fn(x):
        z = apply_e(x)
        gex = run.generator(z)
        fx, fg = run.features(x), run.features(gex)
        pool = lambda a: a.reshape(a.shape[0], a.shape[1] // 2, 2, a.shape[2] // 2, 2,
                                   a.shape[3]).mean(axis=(2, 4))
        flat = lambda a: a.reshape(a.shape[0], -1)
        zs = z * jnp.sqrt(z.shape[1]) / jnp.linalg.norm(z, axis=1, keepdims=True)
        gs = run.generator(zs)
        return {"pixel": jnp.mean(flat(jnp.square(x - gex)), 1),
                "shell": jnp.mean(flat(jnp.square(x - gs)), 1)
                + jnp.mean(flat(jnp.square(fx - run.features(gs))), 1),
                "feature": jnp.mean(flat(jnp.square(fx - fg)), 1),
                "pixel8": jnp.mean(flat(jnp.square(pool(x) - pool(gex))), 1),
                "pixel_l1": jnp.mean(flat(jnp.abs(x - gex)), 1),
                "znorm": jnp.sum(jnp.square(z), 1), "fx": flat(fx),
                "rpix": flat(x - gex), "rfeat": flat(fx - fg), "rfeat0": f0(x) - f0(gex),
                "feature0": jnp.mean(jnp.square(f0(x) - f0(gex)), 1),
                "rfeat_unit": flat(fx) / (jnp.linalg.norm(flat(fx), axis=1, keepdims=True) + 1e-8)
                - flat(fg) / (jnp.linalg.norm(flat(fg), axis=1, keepdims=True) + 1e-8)}
    parts = [jax.device_get(fn(jnp.asarray(images[i:i + batch])))
             for i in range(0, len(images), batch)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def feature_gaussian(calib: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Mahalanobis distance² of D's features f(x) to a Gaussian fit on the normal training
    images' features (the shipped `jaxgan anomaly ... feature_gaussian` method,
    scores.feature_gaussian_scores): per query O(F²), independent of the training-set size."""
    return scores.feature_gaussian_scores(calib, query)


def standardised_variants(calib: dict, query: dict) -> dict[str, np.ndarray]:
    """Scores whose residuals are standardised on normal calibration images `calib` (here: the
    normal training images; a departure from f-AnoGAN, which sums raw mean squares):
      feature_std   mean_j ((r_j − μ_j)/σ_j)², r = f(x) − f(G(E(x))), μ_j/σ_j: mean/std of r_j
                    on `calib` (a diagonal Mahalanobis distance of the feature residual)
      pixel_std     the same for the pixel residual x − G(E(x))
      izif_std      pixel_std + feature_std (each ≈ 1 on normals: equal weight)
      izif_terms    pixel/σ_pixel + feature/σ_feature: the shipped two terms, each divided by its
                    spread over `calib` (scalar reweighting only)
      feature_unit  mean((f/‖f‖ − f(G)/‖f(G)‖)²): the feature residual of unit-norm features
      feature0      mean((f0(x) − f0(G(E(x))))²), f0 = D's first layer (several layers of D)
      izif_2layers  pixel + feature + feature0 (raw); izif_std_2layers: the standardised sum
      feature0_std  feature0 standardised like feature_std"""
    def diag_mahalanobis(key):
        mu, sd = calib[key].mean(0), calib[key].std(0) + 1e-6
        return np.mean(np.square((query[key] - mu) / sd), axis=1)
    out = {"feature_std": diag_mahalanobis("rfeat"), "pixel_std": diag_mahalanobis("rpix")}
    out["izif_std"] = out["feature_std"] + out["pixel_std"]
    out["izif_terms"] = (query["pixel"] / calib["pixel"].std()
                         + query["feature"] / calib["feature"].std())
    out["feature_unit"] = np.mean(np.square(query["rfeat_unit"]), axis=1)
    out["feature0"] = query["feature0"]
    out["izif_2layers"] = query["pixel"] + query["feature"] + query["feature0"]
    out["feature0_std"] = diag_mahalanobis("rfeat0")
    out["izif_std_2layers"] = out["izif_std"] + out["feature0_std"]
    return out


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
                **{k: te[k] for k in ("pixel", "feature", "pixel8", "pixel_l1", "znorm",
                                      "shell")},
                "feat_knn5": knn.kneighbors(te["fx"])[0].mean(1),
                "feat_gauss": feature_gaussian(tr["fx"], te["fx"])}
    variants.update(standardised_variants(tr, te))
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
