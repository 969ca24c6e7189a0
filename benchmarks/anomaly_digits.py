"""Leave-one-digit-out anomaly detection on the embedded digits (issue 18).

    python benchmarks/anomaly_digits.py --workroot /tmp/anomaly_runs --out results.json \
        [--digits 0,1,...,9] [--seeds 0] [--gan_steps 2000] [--encoder_steps 1000] [--noise 0]
        [--latent_dim 0] [--dataset digits|digits_photo] [--gan unconditional|conditional]
        [--anogan_keep_classes 1] [--anogan_prune_after 50] [--reuse] [--table]

For each digit d and seed s: a GAN (presets.digits_dcgan: the unconditional 16×16 digits DCGAN,
spectral-norm D) is trained on the other nine digits with the EGBAD split (config
exclude_classes=d, split_seed=s: 80% of the normal images train; test = the other 20% + every d),
then each detector scores the test part and AUROC / AUPRC (sklearn.metrics, d = positive) are
recorded:
  anogan         Γ Adam steps on z (jaxgan.anomaly.anogan; λ 0.1),
  fanogan        the izi_f encoder trained on the training part (jaxgan.anomaly.encoder; κ 1),
  discriminator  −D(x) of the trained D,
  knn5           mean Euclidean pixel distance to the 5 nearest training images (sklearn),
  pca16          squared reconstruction error of PCA with 16 components fit on the training part.
With fanogan (unless --no_derived), scores derived from the same saved E, G, D (derived_scores):
  fanogan_std / fanogan_fstd  the izi_f residuals standardised per dimension on the training
                 normals (not the paper's score), and the feature half alone,
  feat_gauss     Mahalanobis distance of D's features f(x) to a Ledoit-Wolf Gaussian on f(train),
  feat_knn5      mean distance of f(x) to its 5 nearest f(train).
--gan conditional trains G and a projection D on the nine normal digits' labels
(presets.digits_default); f-AnoGAN's encoder is then fit with each training image drawn as its
own class and scores the lowest izi_f over the nine normal classes (encoder.encode_score_classes);
AnoGAN searches z for each of the nine classes from the same z₀ and scores the lowest
(anogan.anogan_search_classes; with --anogan_keep_classes 1, the default, only each query's
best class goes on after --anogan_prune_after steps; 0: nine full searches per query) and −D(x)
becomes −max over the normal classes.
--dataset digits_photo runs the same protocol on the digits blended over photo crops (RGB),
--dataset digits_shifted on the 8×8 digits at random places of the 16×16 canvas.
Queries/s: scoring wall time after compilation (jit-ed methods compile once, ahead of time; the
sklearn baselines' fit time excluded), on whatever the machine gives (see benchmarks/README.md).
--noise σ adds N(0, σ²) pixel noise (clipped to [-1, 1]) to the test queries only, from a fixed
key: a harder variant where a raw pixel distance sees the noise as much as the digit.
"""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import jax
import numpy as np

from jaxgan.anomaly import encoder, scores, workflow
from jaxgan.config import presets
from jaxgan.training import loop


def gan_config(digit: int, seed: int, steps: int, latent_dim: int = 0, dataset: str = "digits",
               gan: str = "unconditional"):
    """presets.digits_dcgan (gan 'unconditional'), or presets.digits_default ('conditional': G
    and a projection D conditioned on the nine normal digits' labels, hinge loss, R1, D at
    10× G's rate, mode-seeking term) or the latter with conditioning 'none' ('default_uncond':
    the control that separates the labels from the other settings)."""
    config = presets.digits_default() if gan in ("conditional", "default_uncond") else \
        presets.digits_dcgan()
    if gan == "default_uncond":
        config.conditioning = "none"
    config.dataset = dataset
    config.channels = 3 if dataset == "digits_photo" else 1
    if latent_dim:
        config.latent_dim = latent_dim
    config.exclude_classes = str(digit)
    config.split_seed = seed
    config.seed = seed
    config.steps = steps
    config.monitor_every = 0
    config.steps_per_call = 50
    config.sample_every = steps
    config.checkpoint_every = steps
    config.log_every = 500
    return config


def baseline_scores(train: np.ndarray, test: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """{name: (scores, queries/s)} of the pixel k-NN (k = 5) and PCA(16) baselines."""
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors

    a, b = train.reshape(len(train), -1), test.reshape(len(test), -1)
    out = {}
    knn = NearestNeighbors(n_neighbors=5).fit(a)
    t = time.perf_counter()
    distances, _ = knn.kneighbors(b)
    out["knn5"] = (distances.mean(axis=1), len(b) / (time.perf_counter() - t))
    pca = PCA(n_components=16, random_state=0).fit(a)
    t = time.perf_counter()
    recon = pca.inverse_transform(pca.transform(b))
    out["pca16"] = (np.sum((b - recon) ** 2, axis=1), len(b) / (time.perf_counter() - t))
    return out


def derived_scores(run, train: np.ndarray, test: np.ndarray, truth: np.ndarray) -> dict:
    """Scores built from the same saved E, G, D (benchmarks/anomaly_variants.py): the izi_f terms
    with each residual dimension standardised on the normal training images (departure from the
    paper: 'fanogan_std', 'fanogan_fstd' = its feature half alone), and the k-NN (k 5) in D's
    feature space to the training images ('feat_knn5', no G or E: a k-NN on GAN features), and
    the Mahalanobis distance of f(x) under a Gaussian fit on the training features ('feat_gauss',
    Ledoit-Wolf; no G or E; per-query cost independent of the training-set size)."""
    import anomaly_variants

    if run.conditional:  # only the detectors on D's features (no G or E)
        fn = jax.jit(run.features)
        features = [np.concatenate([np.asarray(fn(x[i:i + 256])) for i in range(0, len(x), 256)])
                    for x in (train, test)]
        return feature_scores(*features, truth)
    module, params, _ = encoder.load_encoder(run.workdir, run.trained.gan.latent_dim,
                                             tuple(run.trained.spec.shape))
    apply_e = lambda v: module.apply({"params": params}, v)
    c = time.process_time()
    tr = anomaly_variants.components(run, apply_e, train)
    fit_cpu = time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    te = anomaly_variants.components(run, apply_e, test)
    variants = anomaly_variants.standardised_variants(tr, te)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    out = {}
    for name, key in (("fanogan_std", "izif_std"), ("fanogan_fstd", "feature_std")):
        out[name] = {**scores.detection_metrics(variants[key], truth),
                     "queries_per_s": len(test) / wall, "queries_per_cpu_s": len(test) / cpu,
                     "calibration_cpu_s": fit_cpu, "note": "includes compilation"}
    return {**out, **feature_scores(tr["fx"], te["fx"], truth)}


def feature_scores(train_features: np.ndarray, test_features: np.ndarray,
                   truth: np.ndarray) -> dict:
    """'feat_gauss' (scores.feature_gaussian_scores, the fit timed with it) and 'feat_knn5' (the
    search timed alone) on D's features f(x) of the training and test images."""
    from sklearn.neighbors import NearestNeighbors

    t = time.perf_counter()
    gauss = scores.feature_gaussian_scores(train_features, test_features)
    out = {"feat_gauss": {**scores.detection_metrics(gauss, truth),
                          "queries_per_s": len(test_features) / (time.perf_counter() - t),
                          "note": "Ledoit-Wolf fit + Mahalanobis (features from the pass above)"}}
    knn = NearestNeighbors(n_neighbors=5).fit(train_features)
    t = time.perf_counter()
    distances = knn.kneighbors(test_features)[0].mean(1)
    out["feat_knn5"] = {**scores.detection_metrics(distances, truth),
                        "queries_per_s": len(test_features) / (time.perf_counter() - t),
                        "note": "k-NN time only (features from the pass above)"}
    return out


def one_run(digit: int, seed: int, args) -> dict:
    workdir = pathlib.Path(args.workroot) / f"digit{digit}_seed{seed}"
    t = time.perf_counter()
    reuse = args.reuse and (workdir / encoder.ENCODER_DIR).is_dir()
    if not reuse:  # (a finished run in the workdir resumes at its last step: nothing to train)
        with open(workdir.parent / f"digit{digit}_seed{seed}.log", "w") as log:
            loop.train_and_evaluate(gan_config(digit, seed, args.gan_steps, args.latent_dim,
                                               args.dataset, args.gan),
                                    workdir,
                                    stream=log, handle_signals=False)
    gan_seconds = time.perf_counter() - t
    run = workflow.open_run(workdir)
    t = time.perf_counter()
    if reuse:
        fit = encoder.load_encoder(workdir, run.trained.gan.latent_dim,
                                   tuple(run.trained.spec.shape))[2]
    else:
        fit = workflow.fit_encoder(run, encoder.EncoderSettings(steps=args.encoder_steps,
                                                                lr=args.encoder_lr, seed=seed))
    encoder_seconds = time.perf_counter() - t if not reuse else fit["seconds"]
    test, labels = workflow.run_images(run, "test")
    train, _ = workflow.run_images(run, "train")
    if args.noise > 0:
        rng = np.random.default_rng([18, digit, seed])
        test = np.clip(test + args.noise * rng.standard_normal(test.shape), -1, 1)
        test = test.astype(np.float32)
    truth = workflow.is_anomalous(run, labels)
    result = {"digit": digit, "seed": seed, "gan_seconds": gan_seconds,
              "encoder_seconds": encoder_seconds,
              "encoder_final_loss": fit["loss_curve_every_100"][-1],
              "num_test": len(test), "num_anomalous": int(truth.sum()), "methods": {}}
    settings = workflow.AnoGANSettings(steps=args.anogan_steps, lr=args.anogan_lr, seed=seed,
                                       keep_classes=args.anogan_keep_classes,
                                       prune_after=args.anogan_prune_after)
    chosen = {m.strip() for m in args.methods.split(",")} & set(run.methods())
    for method in [m for m in ("fanogan", "discriminator", "anogan") if m in chosen]:
        out = workflow.score_images(run, method, test, anogan_settings=settings,
                                    batch_size=args.batch_size)
        timing = out["timing"]
        result["methods"][method] = {
            **scores.detection_metrics(out["score"], truth),
            "queries_per_s": timing["num"] / timing["wall_s"],
            "queries_per_cpu_s": timing["num"] / timing["cpu_s"], "compile_s": timing["compile_s"]}
    if "fanogan" in chosen and not args.no_derived:
        result["methods"].update(derived_scores(run, train, test, truth))
    for name, (score, qps) in baseline_scores(train, test).items():
        result["methods"][name] = {**scores.detection_metrics(score, truth), "queries_per_s": qps}
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workroot", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--gan_steps", type=int, default=2000)
    parser.add_argument("--latent_dim", type=int, default=0,
                        help="G's latent size (0: the preset's, 100)")
    parser.add_argument("--encoder_steps", type=int, default=1000)
    parser.add_argument("--encoder_lr", type=float, default=2e-3)
    parser.add_argument("--anogan_steps", type=int, default=500)
    parser.add_argument("--anogan_lr", type=float, default=0.05)
    parser.add_argument("--anogan_keep_classes", type=int, default=1,
                        help="conditional: prune AnoGAN's search to each query's K best classes "
                             "after --anogan_prune_after steps (0: every class)")
    parser.add_argument("--anogan_prune_after", type=int, default=50)
    parser.add_argument("--batch_size", type=int, default=256)
    parser.add_argument("--noise", type=float, default=0.0)
    parser.add_argument("--dataset", default="digits",
                        choices=("digits", "digits_photo", "digits_shifted"),
                        help="digits_photo: the digits blended over photo crops (MNIST-M style, "
                             "RGB; jaxgan.data.digits_photo), a variant where pixel distances "
                             "see the background more than the digit; digits_shifted: the 8×8 "
                             "digits at random places of a 16×16 canvas (jaxgan.data."
                             "digits_shifted), where pixel distances see the place")
    parser.add_argument("--gan", default="unconditional",
                        choices=("unconditional", "conditional", "default_uncond"),
                        help="conditional: G and D conditioned on the normal digits' labels "
                             "(presets.digits_default); f-AnoGAN then scores the lowest izi_f "
                             "over the nine normal classes (benchmarks/README.md, '#18 session 8')")
    parser.add_argument("--no_derived", action="store_true",
                        help="skip the standardised / feature-k-NN scores derived from E, G, D")
    parser.add_argument("--methods", default="fanogan,discriminator,anogan",
                        help="GAN detectors to score (the two baselines always run)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the GAN and encoder already in --workroot (e.g. to score "
                             "a --noise variant of the same runs)")
    parser.add_argument("--table", action="store_true",
                        help="print the markdown table of --out's runs and stop")
    args = parser.parse_args(argv)
    if args.table:
        saved = json.loads(pathlib.Path(args.out).read_text())
        print(markdown_table(saved["runs"], saved.get("args", {}).get("gan", "unconditional")))
        return 0
    pathlib.Path(args.workroot).mkdir(parents=True, exist_ok=True)
    out = pathlib.Path(args.out)
    results = json.loads(out.read_text())["runs"] if out.exists() else []
    done = {(r["digit"], r["seed"]) for r in results}
    for seed in [int(s) for s in args.seeds.split(",")]:
        for digit in [int(d) for d in args.digits.split(",")]:
            if (digit, seed) in done:
                continue
            results.append(one_run(digit, seed, args))
            line = {m: round(v["auroc"], 3) for m, v in results[-1]["methods"].items()}
            done.add((digit, seed))
            print(f"digit {digit} seed {seed}: AUROC {line}", flush=True)
            out.write_text(json.dumps({"args": vars(args), "runs": results}, indent=1))
    summary = summarise(results)
    out.write_text(json.dumps({"args": vars(args), "runs": results, "summary": summary},
                              indent=1))
    print(json.dumps(summary, indent=1))
    return 0


def summarise(results: list[dict]) -> dict:
    """Per method: AUROC per digit (mean over seeds), mean ± std over digits (std over the ten
    digit means, and over seeds of the ten-digit mean when there are several), queries/s."""
    methods = [m for m in results[0]["methods"] if all(m in r["methods"] for r in results)]
    summary = {}
    for m in methods:
        digits = sorted({r["digit"] for r in results})
        per_digit = {d: float(np.mean([r["methods"][m]["auroc"] for r in results
                                       if r["digit"] == d])) for d in digits}
        seeds = sorted({r["seed"] for r in results})
        seed_means = [np.mean([r["methods"][m]["auroc"] for r in results if r["seed"] == s])
                      for s in seeds]
        summary[m] = {"auroc_per_digit": per_digit,
                      "auroc_mean": float(np.mean(list(per_digit.values()))),
                      "auroc_std_over_digits": float(np.std(list(per_digit.values()))),
                      "auroc_std_over_seeds": float(np.std(seed_means)),
                      "auprc_mean": float(np.mean([r["methods"][m]["auprc"] for r in results])),
                      "queries_per_s_median": float(np.median(
                          [r["methods"][m]["queries_per_s"] for r in results]))}
    return summary


NAMES = {"fanogan": "f-AnoGAN (izi_f, paper)",
         "fanogan_std": "f-AnoGAN, standardised residuals (not the paper's)",
         "fanogan_fstd": "f-AnoGAN, standardised feature residual only (not the paper's)",
         "feat_knn5": "k-NN (k 5) in D's feature space",
         "feat_gauss": "Gaussian on D's features (Mahalanobis)",
         "anogan": "AnoGAN (Γ 500)", "discriminator": "−D(x)",
         "knn5": "pixel k-NN (k 5)", "pca16": "PCA(16) error"}


def speed(method: str, row: dict) -> str:
    """The queries/s cell: the standardised f-AnoGAN scores cost one pass of E, G and D like
    f-AnoGAN (their timing in the JSON includes compilation, so it is not shown); the k-NN in
    D's feature space is timed on the k-NN search alone (+ one pass of D per query)."""
    if method in ("fanogan_std", "fanogan_fstd"):
        return "as f-AnoGAN"
    if method == "feat_gauss":
        return f"{row['queries_per_s_median']:,.0f} (incl. the fit)"
    if method == "feat_knn5":
        return f"{row['queries_per_s_median']:,.0f} (k-NN only)"
    return f"{row['queries_per_s_median']:,.0f}"


CONDITIONAL_NAMES = {"fanogan": "f-AnoGAN, conditional G (izi_f, min over the 9 normal classes)",
                     "anogan": "AnoGAN (Γ 500), conditional G (lowest of the normal classes)",
                     "discriminator": "−max over the normal classes c of D(x, c)",
                     "feat_gauss": "Gaussian on the conditional D's features (Mahalanobis)",
                     "feat_knn5": "k-NN (k 5) in the conditional D's feature space"}


def markdown_table(results: list[dict], gan: str = "unconditional") -> str:
    """AUROC per held-out digit (mean over seeds), mean ± std over digits, queries/s."""
    names = {**NAMES, **CONDITIONAL_NAMES} if gan == "conditional" else NAMES
    summary = summarise(results)
    digits = sorted({r["digit"] for r in results})
    seeds = sorted({r["seed"] for r in results})
    lines = ["| method | " + " | ".join(str(d) for d in digits) + " | mean ± std (digits) | "
             f"std over {len(seeds)} seed(s) | AUPRC mean | queries/s |",
             "|---|" + "---|" * (len(digits) + 4)]
    for m in ("fanogan", "fanogan_std", "fanogan_fstd", "feat_knn5", "feat_gauss", "anogan",
              "discriminator",
              "knn5", "pca16"):
        if m not in summary:
            continue
        row = summary[m]
        cells = [f"{row['auroc_per_digit'][d]:.3f}" for d in digits]
        lines.append(f"| {names[m]} | " + " | ".join(cells) +
                     f" | {row['auroc_mean']:.3f} ± {row['auroc_std_over_digits']:.3f} | "
                     f"{row['auroc_std_over_seeds']:.3f} | "
                     f"{row['auprc_mean']:.3f} | {speed(m, row)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
