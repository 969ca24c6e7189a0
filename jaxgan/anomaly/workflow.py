"""The run-level steps behind `jaxgan anomaly`: fit the encoder, score images, evaluate, picture.

A run trained on normal classes only (config train_classes / exclude_classes; jaxgan.data.classes)
has a test part: the held-out normal images and every image of the other classes. `fit_encoder`
trains f-AnoGAN's encoder on the run's training part and saves it in RUN/anomaly/encoder/;
`score_images` scores any images with AnoGAN (Γ Adam steps on z), f-AnoGAN (one pass), D's own
logit (−D(x): what D finds unreal is anomalous) or a Gaussian on D's features (feature_gaussian);
`evaluate_run` scores the test part with each method and reports AUROC / AUPRC (sklearn.metrics)
with the protocol, into RUN/anomaly/eval.json.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import pathlib
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from jaxgan import data, visualize
from jaxgan.anomaly import anogan, encoder, features, scores
from jaxgan.tools.trained import TrainedRun, load_run
from jaxgan.training.run import data_options

ANOMALY_DIR = "anomaly"
EVAL_FILE = "anomaly/eval.json"
PICTURE_FILE = "anomaly/ranking_{method}.png"


class AnomalyError(ValueError):
    """Bad input to an anomaly command; one line saying what and how to fix it."""


@dataclasses.dataclass(frozen=True)
class AnomalyRun:
    """A trained run with its networks as functions and its class split (None: no split)."""

    trained: TrainedRun
    class_split: data.ClassSplit | None
    generator: Callable
    features: Callable
    logits: Callable

    @property
    def workdir(self) -> pathlib.Path:
        return self.trained.workdir

    def normal_classes(self) -> tuple[int, ...] | None:
        if self.class_split is None:
            return None
        return self.class_split.normal_classes(self.trained.spec.num_classes)

    @property
    def conditional(self) -> bool:
        """Whether G and D take class labels (a run trained with config.conditioning)."""
        return features.is_conditional(self.trained.gan)

    def drawn_classes(self) -> np.ndarray:
        """The classes a conditional G is asked to draw a query as: the normal classes (every
        class when the run holds none out)."""
        normal = self.normal_classes()
        return np.asarray(normal if normal is not None else range(self.trained.spec.num_classes),
                          np.int32)

    def methods(self) -> tuple[str, ...]:
        """The scorers this run supports (every one: a conditional run's AnoGAN and f-AnoGAN
        score the lowest of the normal classes)."""
        return METHODS


def open_run(workdir: str | pathlib.Path, use_ema: bool = True) -> AnomalyRun:
    """The latest checkpoint of `workdir` as an AnomalyRun (needs an image GAN run: model dcgan,
    resnet or biggan, unconditional or with a D that takes the label only at its output)."""
    trained = load_run(workdir)
    if trained.spec.kind != "image":
        raise AnomalyError(f"run {trained.workdir} was trained on 2-D points; anomaly detection "
                           f"needs an image run")
    g, f, d = features.networks(trained.gan, trained.state, use_ema=use_ema)
    return AnomalyRun(trained, data.class_split_from_config(trained.config), g, f, d)


def run_images(run: AnomalyRun, part: str) -> tuple[np.ndarray, np.ndarray]:
    """The run's `part` ('train' or 'test') of its class split: (images [N, R, R, C], labels)."""
    if part == "test" and run.class_split is None:
        raise AnomalyError(f"run {run.workdir} has no test split: train it with "
                           f"--config.exclude_classes=K (or train_classes) to hold out anomalies")
    config = run.trained.config
    return data.load_images(config.dataset, part=part, **data_options(config))


def resolve_input(run: AnomalyRun, source: str) -> tuple[np.ndarray, np.ndarray | None]:
    """`test` (the run's test part), FILE.npy (images [N, R, R, C] in [-1, 1]) or a data set
    NAME / NAME:SPLIT at the run's resolution -> (images, labels or None)."""
    if source == "test":
        return run_images(run, "test")
    shape = tuple(run.trained.spec.shape)
    if source.lower().endswith(".npy"):
        path = pathlib.Path(source).expanduser()
        try:
            images = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise FileNotFoundError(f"cannot read --input {source}: {err}") from None
        if images.ndim == len(shape) and tuple(images.shape[1:]) == shape[:-1] and shape[-1] == 1:
            images = images[..., None]
        if images.ndim != 4 or tuple(images.shape[1:]) != shape:
            raise AnomalyError(f"--input {source} holds an array of shape {images.shape}; the run "
                               f"needs images [N, {', '.join(map(str, shape))}] in [-1, 1]")
        if not np.issubdtype(images.dtype, np.floating) or not np.all(np.isfinite(images)) or \
                np.abs(images).max() > 1.0 + 1e-6:
            raise AnomalyError(f"--input {source} must hold finite floats in [-1, 1] (data space "
                               f"of `jaxgan sample`); convert uint8 images with x / 127.5 - 1")
        return images.astype(np.float32), None
    name, _, split = source.partition(":")
    config = run.trained.config
    return data.load_images(name, split=split or "train", data_dir=config.data_dir or None,
                            resolution=shape[0], channels=shape[-1])


def is_anomalous(run: AnomalyRun, labels: np.ndarray) -> np.ndarray:
    """0/1: whether each label is outside the run's normal classes."""
    normal = run.normal_classes()
    if normal is None:
        raise AnomalyError("the run has no normal classes (no train_classes / exclude_classes)")
    return (~np.isin(labels, normal)).astype(np.int32)


# --- f-AnoGAN encoder -----------------------------------------------------------------------------

def fit_encoder(run: AnomalyRun, settings: encoder.EncoderSettings,
                log: Callable[[int, float], None] | None = None) -> dict:
    """Trains E on the run's training images (its class split's train part, or every image) and
    saves it in RUN/anomaly/encoder/; returns the saved record."""
    config = run.trained.config
    images, labels = data.load_images(config.dataset, part="train", **data_options(config))
    module = encoder.Encoder(latent_dim=run.trained.gan.latent_dim, features=settings.features)
    start = time.perf_counter()
    params, curve = encoder.train_encoder(module, run.generator, run.features, images,
                                          jax.random.key(settings.seed), settings, log=log,
                                          labels=labels if run.conditional else None)
    drawn = "G(E(x), y) with y the image's class" if run.conditional else "G(E(x))"
    record = {"settings": dataclasses.asdict(settings), "gan_step": run.trained.step,
              "num_train_images": int(len(images)), "loss_curve_every_100": curve,
              "seconds": time.perf_counter() - start, "conditional": run.conditional,
              "loss": "mean((x - G(E(x)))^2) + kappa * mean((f(x) - f(G(E(x))))^2), f-AnoGAN "
                      f"izi_f (Schlegl et al. 2019), G and D frozen; G(E(x)) = {drawn}"}
    encoder.save_encoder(run.workdir, params, record)
    return record


# --- scoring --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class AnoGANSettings:
    """Γ, the Adam step size on z, λ and the seed of the starting points z₀ ~ N(0, I); with a
    class-conditional G, keep_classes > 0 prunes each query's search to its `keep_classes`
    best classes after `prune_after` steps (never when prune_after ≥ Γ;
    anogan.anogan_search_classes; 0: every class searched all Γ steps). The default, the best
    class after 50 steps, is 7× cheaper than the search of every class and scored higher
    on every held-out digit (benchmarks/README.md, "#18 session 9")."""

    steps: int = anogan.ANOGAN_STEPS
    lr: float = anogan.ANOGAN_LR
    lam: float = scores.ANOGAN_LAMBDA
    seed: int = 0
    keep_classes: int = anogan.ANOGAN_KEEP_CLASSES
    prune_after: int = anogan.ANOGAN_PRUNE_AFTER


def _batched(fn: Callable, arrays: Sequence[np.ndarray], batch_size: int,
             timing: dict | None = None) -> list[np.ndarray]:
    """jit-ed fn over consecutive batches of `arrays`, the last padded to `batch_size` (compiled
    once, ahead of time); returns each of fn's outputs concatenated over the rows. `timing`
    receives 'compile_s', 'wall_s' and 'cpu_s' (process CPU time) of the scoring itself."""
    num = len(arrays[0])
    outputs = None
    compiled = None
    wall = cpu = compile_s = 0.0
    for start in range(0, num, batch_size):
        stop = min(start + batch_size, num)
        chunk = [np.asarray(a[start:stop]) for a in arrays]
        pad = batch_size - (stop - start)
        if pad:
            chunk = [np.concatenate([c, np.repeat(c[-1:], pad, axis=0)]) for c in chunk]
        if compiled is None:
            t = time.perf_counter()
            compiled = fn.lower(*chunk).compile()
            compile_s = time.perf_counter() - t
        t, c = time.perf_counter(), time.process_time()
        result = [np.asarray(r)[:stop - start] for r in compiled(*chunk)]
        wall, cpu = wall + time.perf_counter() - t, cpu + time.process_time() - c
        outputs = [[r] for r in result] if outputs is None else \
            [o + [r] for o, r in zip(outputs, result)]
    if timing is not None:
        timing.update(compile_s=compile_s, wall_s=wall, cpu_s=cpu, num=num)
    return [np.concatenate(o) for o in outputs]


def _score_discriminator(run: AnomalyRun, images: np.ndarray, settings: AnoGANSettings,
                         batch_size: int, timing: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """−D(x): what D finds unreal is anomalous; a conditional D: −max over the normal classes c
    of D(x, c) (the class under which x looks most real)."""
    if run.conditional:
        classes = run.drawn_classes()
        fn = jax.jit(lambda x: (-jax.numpy.max(jax.vmap(
            lambda c: run.logits(x, jax.numpy.full((x.shape[0],), c)))(classes), axis=0),))
        return _batched(fn, [images], batch_size, timing)[0], None
    fn = jax.jit(lambda x: (-run.logits(x),))
    return _batched(fn, [images], batch_size, timing)[0], None


def _score_feature_gaussian(run: AnomalyRun, images: np.ndarray, settings: AnoGANSettings,
                            batch_size: int, timing: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """Squared Mahalanobis distance of f(x) to a Ledoit-Wolf Gaussian fit on f of the run's
    training images (scores.feature_gaussian_scores); the fit's time goes to timing['fit_s']."""
    fn = jax.jit(lambda x: (run.features(x),))
    start = time.perf_counter()
    train, _ = run_images(run, "train")
    gaussian = scores.fit_feature_gaussian(_batched(fn, [train], min(256, len(train)))[0])
    fit_s = time.perf_counter() - start
    query_features = _batched(fn, [images], batch_size, timing)[0]
    start = time.perf_counter()
    score = gaussian.mahalanobis(query_features.astype(np.float64))
    timing["wall_s"] += time.perf_counter() - start  # the Mahalanobis part of the queries
    timing["fit_s"] = fit_s
    return score, None


def _score_fanogan(run: AnomalyRun, images: np.ndarray, settings: AnoGANSettings,
                   batch_size: int, timing: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """f-AnoGAN izi_f with the encoder saved by `fit_encoder`: one pass per query (a conditional
    run: one pass of E and D, one of G and D per normal class, the lowest class's score)."""
    module, params, record = encoder.load_encoder(run.workdir, run.trained.gan.latent_dim,
                                                  tuple(run.trained.spec.shape))
    kappa = float(record["settings"]["kappa"])
    if run.conditional:
        classes = run.drawn_classes()
        fn = jax.jit(lambda x: encoder.encode_score_classes(
            lambda v: module.apply({"params": params}, v), run.generator, run.features, x,
            classes, kappa)[::2])
        return _batched(fn, [images], batch_size, timing)
    fn = jax.jit(lambda x: encoder.encode_score(
        lambda v: module.apply({"params": params}, v), run.generator, run.features, x,
        kappa)[::2])
    score, reconstruction = _batched(fn, [images], batch_size, timing)
    return score, reconstruction


def _score_anogan(run: AnomalyRun, images: np.ndarray, settings: AnoGANSettings,
                  batch_size: int, timing: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """AnoGAN: Γ Adam steps on z from z₀ ~ N(0, I) (seeded), score L(z*); a conditional run:
    the search for every normal class from the same z₀, the lowest class's L (a query costs
    one search per class, fewer when settings.keep_classes prunes)."""
    z0 = np.asarray(run.trained.gan.sample_latent(jax.random.key(settings.seed), len(images)))
    search = dict(steps=settings.steps, lr=settings.lr, lam=settings.lam)

    if run.conditional:
        classes = run.drawn_classes()
        if settings.keep_classes:
            search.update(keep=min(settings.keep_classes, len(classes)),
                          prune_after=min(settings.prune_after, settings.steps))

        @jax.jit
        def fn(x, z):
            result = anogan.anogan_search_classes(run.generator, run.features, x, z, classes,
                                                  **search)[0]
            return result.score, result.reconstruction
    else:
        @jax.jit
        def fn(x, z):
            result = anogan.anogan_search(run.generator, run.features, x, z, **search)
            return result.score, result.reconstruction

    score, reconstruction = _batched(fn, [images, z0], batch_size, timing)
    return score, reconstruction


SCORERS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray | None]]] = {
    "anogan": _score_anogan,
    "fanogan": _score_fanogan,
    "discriminator": _score_discriminator,
    "feature_gaussian": _score_feature_gaussian,
}
METHODS = tuple(SCORERS)


def score_images(run: AnomalyRun, method: str, images: np.ndarray, *,
                 anogan_settings: AnoGANSettings = AnoGANSettings(), batch_size: int = 256
                 ) -> dict[str, Any]:
    """{'score' [N] (higher = more anomalous), 'reconstruction' [N, R, R, C] and 'residual'
    [N, R, R] (None for the methods without a generator: 'discriminator', 'feature_gaussian'),
    'timing' {compile_s, wall_s, cpu_s, num}} of every image under `method` (one of METHODS)."""
    if method not in SCORERS:
        raise AnomalyError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if len(images) == 0:
        raise AnomalyError("no images to score")
    timing: dict = {}
    score, reconstruction = SCORERS[method](run, images, anogan_settings,
                                            min(batch_size, len(images)), timing)
    residual = None if reconstruction is None else \
        np.asarray(scores.residual_map(images, reconstruction))
    return {"score": score, "reconstruction": reconstruction, "residual": residual,
            "timing": timing}


def write_scores_csv(path: str | pathlib.Path, score: np.ndarray,
                     labels: np.ndarray | None) -> None:
    """One row per image: index, label (empty when unknown), score."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "label", "score"])
        for i, value in enumerate(score):
            writer.writerow([i, "" if labels is None else int(labels[i]), repr(float(value))])


# --- evaluation and picture -----------------------------------------------------------------------

def protocol(run: AnomalyRun, num_test: int, anogan_settings: AnoGANSettings) -> dict[str, Any]:
    """What the numbers of `evaluate_run` depend on (data, split, seeds, Γ, λ, κ)."""
    config = run.trained.config
    split = run.class_split
    return {"dataset": config.dataset, "resolution": config.resolution,
            "gan_step": run.trained.step, "gan_seed": config.seed,
            "split": "EGBAD (Zenati et al. 2018): train on a seeded share of the normal images; "
                     "test = the other normals + every anomalous image; anomaly = positive",
            "normal_classes": list(run.normal_classes()),
            "anomalous_classes": [c for c in range(run.trained.spec.num_classes)
                                  if c not in run.normal_classes()],
            "normal_train_fraction": split.train_fraction, "split_seed": split.seed,
            "num_test": num_test,
            "anogan": {"steps": anogan_settings.steps, "lr": anogan_settings.lr,
                       "lambda": anogan_settings.lam, "z0_seed": anogan_settings.seed,
                       "keep_classes": anogan_settings.keep_classes,
                       "prune_after": anogan_settings.prune_after,
                       "score": ("min over normal classes c of " if run.conditional else "")
                       + "(1-lambda)*sum|x-G(z*)| + lambda*sum|f(x)-f(G(z*))|"},
            "fanogan_score": ("min over normal classes c of mean((x-G(E(x),c))^2) + "
                              "kappa*mean((f(x)-f(G(E(x),c)))^2)" if run.conditional else
                              "mean((x-G(E(x)))^2) + kappa*mean((f(x)-f(G(E(x))))^2)"),
            "discriminator_score": ("-max over normal classes c of D(x, c) (logit)"
                                    if run.conditional else "-D(x) (logit)"),
            "conditional_gan": run.conditional,
            "feature_gaussian_score": "(f(x)-mu)^T Sigma^-1 (f(x)-mu), Ledoit-Wolf Gaussian on "
                                      "f(train) (Rippel et al. 2020)",
            "metrics": "sklearn.metrics roc_auc_score, average_precision_score"}


def ranking_picture(images: np.ndarray, reconstruction: np.ndarray, residual: np.ndarray,
                    score: np.ndarray, labels: np.ndarray | None, num: int = 10,
                    title: str = "") -> np.ndarray:
    """uint8 RGB: the `num` highest- then lowest-scoring images, each block three rows (image,
    reconstruction G(z*), residual |x − G(z*)| in white), labelled with class and score."""
    from PIL import Image, ImageDraw

    order = np.argsort(-score, kind="stable")
    num = min(num, len(score) // 2 or 1)
    scale = visualize.display_scale(images.shape[1], 48)
    blocks = []
    for name, rows in (("highest", order[:num]), ("lowest", order[::-1][:num])):
        heat = np.clip(residual[rows][..., None], 0, 1) * 2 - 1  # one channel, white = large
        tiles = np.concatenate([images[rows], reconstruction[rows],
                                np.repeat(heat, images.shape[-1], axis=-1)])
        if tiles.shape[-1] == 1:
            tiles = np.repeat(tiles, 3, axis=-1)
        grid = visualize.image_grid(tiles, columns=num, padding=2, scale=scale)
        caption = Image.new("RGB", (grid.shape[1], 28), "white")
        draw = ImageDraw.Draw(caption)
        draw.text((2, 0), f"{name} scores: rows = x, G(z*), |x - G(z*)|", fill="black")
        tile_width = grid.shape[1] / num
        for j, r in enumerate(rows):
            text = f"{'' if labels is None else int(labels[r])}:{score[r]:.3g}"
            draw.text((int(j * tile_width) + 2, 14), text, fill="black")
        blocks += [np.asarray(caption), grid, np.full((6, grid.shape[1], 3), 255, np.uint8)]
    picture = np.concatenate(blocks)
    if title:
        head = Image.new("RGB", (picture.shape[1], 14), "white")
        ImageDraw.Draw(head).text((2, 0), title, fill="black")
        picture = np.concatenate([np.asarray(head), picture])
    return picture


def evaluate_run(run: AnomalyRun, methods: Sequence[str] | None = None,
                 anogan_settings: AnoGANSettings = AnoGANSettings(), batch_size: int = 256,
                 picture_method: str | None = None) -> dict[str, Any]:
    """Scores the run's test part with each method; {method: {auroc, auprc, queries_per_s}},
    with the protocol. Writes RUN/anomaly/eval.json and RUN/anomaly/ranking_METHOD.png.
    methods None: every method the run supports (`AnomalyRun.methods`)."""
    methods = run.methods() if methods is None else methods
    images, labels = run_images(run, "test")
    truth = is_anomalous(run, labels)
    result = {"protocol": protocol(run, len(images), anogan_settings), "methods": {}}
    outputs = {}
    for method in methods:
        outputs[method] = score_images(run, method, images, anogan_settings=anogan_settings,
                                       batch_size=batch_size)
        metrics = scores.detection_metrics(outputs[method]["score"], truth)
        timing = outputs[method]["timing"]
        metrics.update(queries_per_s=len(images) / timing["wall_s"],
                       compile_s=timing["compile_s"])
        result["methods"][method] = metrics
    folder = run.workdir / ANOMALY_DIR
    folder.mkdir(exist_ok=True)
    (run.workdir / EVAL_FILE).write_text(json.dumps(result, indent=2) + "\n")
    pictured = [picture_method] if picture_method else \
        [m for m in methods if outputs[m]["reconstruction"] is not None]
    for method in pictured:
        out = outputs[method]
        auroc = result["methods"][method]["auroc"]
        visualize.save_png(ranking_picture(
            images, out["reconstruction"], out["residual"], out["score"], labels,
            title=f"{method}: normal {run.normal_classes()}, AUROC {auroc:.3f}"),
            run.workdir / PICTURE_FILE.format(method=method))
    return result
