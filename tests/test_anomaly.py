"""Anomaly detection (jaxgan.anomaly, jaxgan.data.classes): scores against their formulas, the
latent search, the f-AnoGAN encoder on a linear generator, AUROC/AUPRC against independent
computations, class filtering and the EGBAD split, and one tiny `jaxgan anomaly` run end to end."""
from __future__ import annotations

import csv
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan import cli, data
from jaxgan.anomaly import anogan, encoder, scores
from jaxgan.data.classes import ClassSplit, split_indices
from jaxgan.training import run_config


# --- the scores -----------------------------------------------------------------------------------

def test_anogan_and_izif_losses_equal_their_formulas():
    rng = np.random.default_rng(0)
    x, gz = rng.uniform(-1, 1, (2, 3, 8, 8, 1))
    fx, fgz = rng.normal(size=(2, 3, 40))
    lam, kappa = 0.1, 0.7
    expected = [(1 - lam) * np.abs(x[i] - gz[i]).sum() + lam * np.abs(fx[i] - fgz[i]).sum()
                for i in range(3)]
    np.testing.assert_allclose(scores.anogan_loss(x, gz, fx, fgz, lam), expected, rtol=1e-6)
    expected = [np.mean((x[i] - gz[i]) ** 2) + kappa * np.mean((fx[i] - fgz[i]) ** 2)
                for i in range(3)]
    np.testing.assert_allclose(scores.izif_loss(x, gz, fx, fgz, kappa), expected, rtol=1e-6)
    np.testing.assert_allclose(scores.residual_map(x, gz), np.abs(x - gz)[..., 0], rtol=1e-6)


def _toy_networks(latent=4, side=8):
    """A fixed small nonlinear G: R^4 -> [-1, 1]^{8x8x1} and features f(x) = relu(V x)."""
    k1, k2, k3 = jax.random.split(jax.random.key(0), 3)
    w1 = jax.random.normal(k1, (latent, 32)) / np.sqrt(latent)
    w2 = jax.random.normal(k2, (32, side * side)) / np.sqrt(32)
    v = jax.random.normal(k3, (side * side, 16)) / side

    def g(z):
        return jnp.tanh(jnp.tanh(z @ w1) @ w2).reshape(z.shape[0], side, side, 1)

    def f(x):
        return jax.nn.relu(x.reshape(x.shape[0], -1) @ v)

    return g, f


def test_latent_search_lowers_the_loss_and_a_query_made_by_g_scores_lowest():
    g, f = _toy_networks()
    z_true = jax.random.normal(jax.random.key(1), (6, 4))
    made = g(z_true)  # queries G can make
    noise = jax.random.uniform(jax.random.key(2), made.shape, minval=-1, maxval=1)
    queries = jnp.concatenate([made, noise])
    z0 = jax.random.normal(jax.random.key(3), (12, 4))  # not z_true
    search = jax.jit(lambda x, z: anogan.anogan_search(g, f, x, z, steps=200, lr=0.05))
    result = search(queries, z0)
    assert np.all(result.score < result.initial_score)  # every query's loss went down
    # the score is the loss at the returned z*, and G(z*) is the returned reconstruction
    np.testing.assert_allclose(result.score, anogan.latent_loss(g, f, queries, f(queries),
                                                                result.z), rtol=1e-5)
    np.testing.assert_allclose(result.reconstruction, g(result.z), rtol=1e-5)
    made_scores, noise_scores = np.split(np.asarray(result.score), 2)
    assert made_scores.max() < noise_scores.min()
    assert made_scores.max() < 0.1 * noise_scores.min()
    # batching does not couple the queries: one query alone follows the same path (compared
    # early, before float rounding differences of the batched matmuls grow near the minimum)
    short = jax.jit(lambda x, z: anogan.anogan_search(g, f, x, z, steps=10, lr=0.05).z)
    np.testing.assert_allclose(short(queries[:1], z0[:1]), short(queries, z0)[:1], atol=1e-4)


def test_encoder_recovers_z_of_a_linear_generator():
    latent, side = 4, 8
    a = jax.random.normal(jax.random.key(0), (latent, side * side)) / 4

    def g(z):
        return (z @ a).reshape(z.shape[0], side, side, 1)

    def f(x):
        return x.reshape(x.shape[0], -1)[:, ::4]

    z_train = jax.random.normal(jax.random.key(1), (512, latent))
    settings = encoder.EncoderSettings(features=8, steps=300, lr=5e-3, batch_size=64)
    module = encoder.Encoder(latent_dim=latent, features=settings.features)
    params, curve = encoder.train_encoder(module, g, f, g(z_train), jax.random.key(2), settings)
    assert curve[-1] < 0.05 * curve[0]
    z_test = jax.random.normal(jax.random.key(3), (200, latent))
    recovered = module.apply({"params": params}, g(z_test))
    error = float(jnp.mean(jnp.abs(recovered - z_test)))
    assert error < 0.1 * float(jnp.mean(jnp.abs(z_test)))


def _conditional_linear_generator(latent=4, side=8, classes=3):
    """G(z, c) = z A + b_c with A's columns on the first half of the pixels and the class
    offsets b_c on the second half: E(x) = x A⁺ recovers z exactly from any G(z, c)."""
    half = side * side // 2
    a = np.zeros((latent, side * side), np.float32)
    a[:, :half] = np.random.default_rng(0).normal(size=(latent, half)) / 4
    b = np.zeros((classes, side * side), np.float32)
    b[:, half:] = np.random.default_rng(1).normal(size=(classes, half)) / 2

    def g(z, labels):
        return (z @ a + jnp.asarray(b)[labels]).reshape(z.shape[0], side, side, 1)

    def f(x):
        return jnp.tanh(x.reshape(x.shape[0], -1)[:, ::3])

    return g, f, a, b


def test_conditional_fanogan_score_is_the_lowest_class_score():
    g, f, a, b = _conditional_linear_generator()
    exact_e = lambda x: x.reshape(x.shape[0], -1) @ np.linalg.pinv(a)
    z = jax.random.normal(jax.random.key(0), (6, 4))
    made_as = jnp.array([0, 1, 2, 2, 1, 0])
    other = jax.random.uniform(jax.random.key(1), (4, 8, 8, 1), minval=-1, maxval=1)
    x = jnp.concatenate([g(z, made_as), other])
    classes = jnp.array([0, 1, 2])
    score, z_hat, drawing, best = encoder.encode_score_classes(exact_e, g, f, x, classes, 0.5)
    # the formula, class by class, independently (numpy)
    flat = np.asarray(x).reshape(len(x), -1)
    drawn = [flat @ np.linalg.pinv(a) @ a + b[c] for c in range(3)]  # G(E(x), c) [B, 64]
    per_class = np.stack([np.mean((flat - d) ** 2, 1) + 0.5 * np.mean(
        (np.tanh(flat[:, ::3]) - np.tanh(d[:, ::3])) ** 2, 1) for d in drawn], 1)
    np.testing.assert_allclose(score, per_class.min(1), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(best, per_class.argmin(1))
    np.testing.assert_allclose(drawing, g(z_hat, best), rtol=1e-5, atol=1e-6)
    # a query G drew as class c: score 0, drawn back as c; the others score above it
    np.testing.assert_allclose(score[:6], 0, atol=1e-8)
    np.testing.assert_array_equal(best[:6], made_as)
    assert float(score[6:].min()) > 1e-2


def test_conditional_anogan_is_the_lowest_of_the_per_class_searches():
    g, f, _, _ = _conditional_linear_generator()
    made_as = jnp.array([0, 1, 2, 2])
    made = g(jax.random.normal(jax.random.key(0), (4, 4)), made_as)
    other = jax.random.uniform(jax.random.key(1), (2, 8, 8, 1), minval=-1, maxval=1)
    x = jnp.concatenate([made, other])
    z0 = jax.random.normal(jax.random.key(2), (6, 4))
    classes = jnp.array([0, 1, 2])
    result, best = jax.jit(lambda x, z: anogan.anogan_search_classes(
        g, f, x, z, classes, steps=150, lr=0.05))(x, z0)
    # independently: one plain search per class, the lowest class per query (numpy)
    per_class = [anogan.anogan_search(lambda z, c=c: g(z, jnp.full((6,), c)), f, x, z0,
                                      steps=150, lr=0.05) for c in range(3)]
    losses = np.stack([np.asarray(r.score) for r in per_class], 1)
    np.testing.assert_array_equal(best, losses.argmin(1))
    np.testing.assert_allclose(result.score, losses.min(1), rtol=1e-4, atol=1e-6)
    chosen = np.asarray(best)
    np.testing.assert_allclose(result.z, np.stack([per_class[c].z[i] for i, c in
                                                   enumerate(chosen)]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.reconstruction, g(result.z, best), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.initial_score, np.stack(
        [np.asarray(r.initial_score) for r in per_class], 1).min(1), rtol=1e-5)
    # a query G drew as class c is drawn back as c, far below the random images
    np.testing.assert_array_equal(best[:4], made_as)
    assert float(result.score[:4].max()) < 0.1 * float(result.score[4:].min())
    # pruned to each query's best class after 50 steps: the kept paths are unchanged, so a
    # query's score is the full search's when its winner was kept, and never below it
    pruned, pruned_best = jax.jit(lambda x, z: anogan.anogan_search_classes(
        g, f, x, z, classes, steps=150, lr=0.05, keep=1, prune_after=50))(x, z0)
    kept_winner = np.asarray(pruned_best) == chosen
    assert kept_winner[:4].all()
    np.testing.assert_allclose(np.asarray(pruned.score)[kept_winner],
                               np.asarray(result.score)[kept_winner], rtol=1e-4, atol=1e-6)
    assert np.all(np.asarray(pruned.score) >= np.asarray(result.score) - 1e-6)
    np.testing.assert_allclose(pruned.reconstruction, g(pruned.z, pruned_best), rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(ValueError, match="keep must be"):
        anogan.anogan_search_classes(g, f, x, z0, classes, steps=10, keep=4, prune_after=5)


def test_encoder_with_labels_recovers_z_of_a_conditional_linear_generator():
    g, f, _, _ = _conditional_linear_generator()
    z_train = jax.random.normal(jax.random.key(1), (512, 4))
    y_train = jax.random.randint(jax.random.key(2), (512,), 0, 3)
    settings = encoder.EncoderSettings(features=8, steps=300, lr=5e-3, batch_size=64)
    module = encoder.Encoder(latent_dim=4, features=settings.features)
    params, curve = encoder.train_encoder(module, g, f, g(z_train, y_train), jax.random.key(3),
                                          settings, labels=y_train)
    assert curve[-1] < 0.05 * curve[0]
    z_test = jax.random.normal(jax.random.key(4), (200, 4))
    y_test = jax.random.randint(jax.random.key(5), (200,), 0, 3)
    recovered = module.apply({"params": params}, g(z_test, y_test))
    assert float(jnp.mean(jnp.abs(recovered - z_test))) < 0.1 * float(jnp.mean(jnp.abs(z_test)))
    with pytest.raises(ValueError, match="one per image"):
        encoder.train_encoder(module, g, f, g(z_test, y_test), jax.random.key(3), settings,
                              labels=y_test[:5])


def test_ranking_picture_of_colour_images_equals_that_of_their_grey_copies():
    """An RGB run's picture (x, G(z*), residual rows) is drawn like a grey run's: grey images
    repeated over three channels give the very same picture."""
    from jaxgan.anomaly import workflow

    rng = np.random.default_rng(0)
    grey = rng.uniform(-1, 1, (8, 6, 6, 1)).astype(np.float32)
    recon = rng.uniform(-1, 1, (8, 6, 6, 1)).astype(np.float32)
    residual = np.abs(grey - recon)[..., 0]
    score, labels = rng.normal(size=8), np.arange(8)
    picture = workflow.ranking_picture(grey, recon, residual, score, labels, num=3)
    colour = workflow.ranking_picture(np.repeat(grey, 3, -1), np.repeat(recon, 3, -1), residual,
                                      score, labels, num=3)
    assert picture.dtype == np.uint8 and picture.shape[-1] == 3
    np.testing.assert_array_equal(colour, picture)


def test_auroc_and_auprc_equal_independent_computations():
    rng = np.random.default_rng(0)
    truth = rng.random(300) < 0.3
    score = np.round(rng.normal(size=300) + truth, 1)  # rounded: ties count half
    metrics = scores.detection_metrics(score, truth)
    pos, neg = score[truth], score[~truth]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert metrics["auroc"] == pytest.approx(wins / (pos.size * neg.size), abs=1e-12)
    # average precision: sum over distinct thresholds of (R_n - R_{n-1}) * P_n
    ap, previous_recall = 0.0, 0.0
    for threshold in np.unique(score)[::-1]:
        selected = score >= threshold
        recall = (selected & truth).sum() / truth.sum()
        ap += (recall - previous_recall) * (selected & truth).sum() / selected.sum()
        previous_recall = recall
    assert metrics["auprc"] == pytest.approx(ap, abs=1e-12)
    with pytest.raises(ValueError, match="both normal and anomalous"):
        scores.detection_metrics(score, np.zeros(300, bool))


# --- class filtering and the split ----------------------------------------------------------------

def test_feature_gaussian_score_is_the_mahalanobis_distance_of_the_fitted_gaussian():
    # closed form: with N >> F the Ledoit-Wolf fit approaches the true N(mu, Sigma), so the score
    # approaches (f - mu)^T Sigma^-1 (f - mu) of the generating Gaussian
    rng = np.random.default_rng(0)
    mu = np.array([1.0, -2.0, 0.5])
    root = np.array([[1.0, 0.0, 0.0], [0.6, 0.8, 0.0], [-0.3, 0.2, 0.5]])
    sigma = root @ root.T
    train = mu + rng.standard_normal((40_000, 3)) @ root.T
    query = np.array([[1.0, -2.0, 0.5], [2.0, -1.0, 0.0], [4.0, 2.0, -3.0]])
    expected = np.einsum("qi,ij,qj->q", query - mu, np.linalg.inv(sigma), query - mu)
    got = scores.feature_gaussian_scores(train, query)
    np.testing.assert_allclose(got, expected, rtol=0.03, atol=0.01)
    assert got[0] < 0.01 and np.argsort(got).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match="same F"):
        scores.feature_gaussian_scores(train, query[:, :2])


def test_split_is_egbad_and_deterministic():
    labels = np.random.default_rng(0).integers(0, 10, 1000)
    split = ClassSplit(exclude=(7,), seed=3)
    train, test = split_indices(labels, split, 10)
    normal = np.flatnonzero(labels != 7)
    assert set(train) | set(test) == set(range(1000)) and not set(train) & set(test)
    assert not np.isin(labels[train], [7]).any()
    assert train.size == round(0.8 * normal.size)
    assert set(np.flatnonzero(labels == 7)) <= set(test)
    again = split_indices(labels, ClassSplit(exclude=(7,), seed=3), 10)
    np.testing.assert_array_equal(again[0], train)
    other = split_indices(labels, ClassSplit(exclude=(7,), seed=4), 10)[0]
    assert not np.array_equal(other, train) and other.size == train.size
    kept = split_indices(labels, ClassSplit(keep=(1, 2), train_fraction=1.0), 10)
    assert set(labels[kept[0]]) == {1, 2} and set(labels[kept[1]]) == set(range(10)) - {1, 2}
    with pytest.raises(data.DataError, match="do not exist"):
        split_indices(labels, ClassSplit(exclude=(10,)), 10)
    with pytest.raises(data.DataError, match="both kept"):
        ClassSplit(keep=(1,), exclude=(1,))


def test_class_filtering_keeps_exactly_the_requested_classes():
    from sklearn.datasets import load_digits

    truth = load_digits().target
    split = ClassSplit(keep=(0, 3, 5), exclude=(), seed=0)
    it = data.make_iterator("digits", batch_size=50, seed=0, resolution=8, class_split=split)
    seen = np.concatenate([next(it)["label"] for _ in range(it.batches_per_epoch)])
    assert set(seen) == {0, 3, 5}
    assert it.spec.num_examples == round(0.8 * np.isin(truth, (0, 3, 5)).sum())
    x, labels = data.load_images("digits", resolution=8, class_split=split, part="test")
    assert np.bincount(labels, minlength=10)[[1, 2, 4, 6, 7, 8, 9]].tolist() == \
        np.bincount(truth, minlength=10)[[1, 2, 4, 6, 7, 8, 9]].tolist()
    assert x.shape == (len(labels), 8, 8, 1) and -1 <= x.min() and x.max() <= 1
    config = run_config.load_experiment("dcgan_digits_unconditional")
    run_config.apply_overrides(config, [("exclude_classes", "7,x")])
    with pytest.raises(run_config.ConfigError, match="exclude_classes"):
        run_config.validate_config(config)


# --- end to end -----------------------------------------------------------------------------------

TINY = ["--config.resolution=8", "--config.g_features=8", "--config.d_features=8",
        "--config.latent_dim=8", "--config.batch_size=32", "--config.steps=40",
        "--config.log_every=20", "--config.sample_every=0", "--config.checkpoint_every=0",
        "--config.monitor_every=0", "--config.parallel=jit", "--config.num_samples_grid=16",
        "--config.ema_decay=0"]


def run_main(argv):
    try:
        return cli.main([str(a) for a in argv])
    except SystemExit as exit_info:
        return exit_info.code


def test_cli_train_without_sevens_fit_score_eval(tmp_path, capsys):
    from PIL import Image
    from sklearn.metrics import roc_auc_score

    run = tmp_path / "run"
    assert run_main(["train", "--config", "dcgan_digits_unconditional", "--workdir", run,
                     "--config.exclude_classes=7", *TINY]) == 0
    record = json.loads((run / "split.json").read_text())
    assert record["anomalous_classes"] == [7] and record["num_test_anomalous"] == 179
    assert run_main(["anomaly", "score", "--workdir", run, "--method", "fanogan", "--out",
                     tmp_path / "s.csv"]) == 1  # no encoder yet
    assert "anomaly fit" in capsys.readouterr().err
    assert run_main(["anomaly", "fit", "--workdir", run, "--steps", 30]) == 0
    assert (run / "anomaly" / "encoder").is_dir()
    common = ["--anogan_steps", 5, "--batch_size", 128]
    assert run_main(["anomaly", "score", "--workdir", run, "--method", "anogan", "--input",
                     "test", "--out", tmp_path / "a.csv", *common]) == 0
    with open(tmp_path / "a.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["index", "label", "score"] and len(rows) == record["num_test"]
    labels = np.array([int(r["label"]) for r in rows])
    all_labels = data.load_images("digits", resolution=8)[1]  # split indices: the data set order
    np.testing.assert_array_equal(labels, all_labels[record["test_indices"]])
    assert run_main(["anomaly", "eval", "--workdir", run, *common]) == 0
    result = json.loads((run / "anomaly" / "eval.json").read_text())
    anogan_scores = np.array([float(r["score"]) for r in rows])
    assert result["methods"]["anogan"]["auroc"] == pytest.approx(
        roc_auc_score(labels == 7, anogan_scores), abs=1e-12)
    assert result["protocol"]["anogan"]["steps"] == 5 and result["protocol"]["anomalous_classes"]
    assert run_main(["anomaly", "score", "--workdir", run, "--method", "feature_gaussian",
                     "--out", tmp_path / "g.csv"]) == 0
    with open(tmp_path / "g.csv") as handle:
        gauss_scores = np.array([float(r["score"]) for r in csv.DictReader(handle)])
    assert gauss_scores.shape == labels.shape and np.all(gauss_scores >= 0)
    assert result["methods"]["feature_gaussian"]["auroc"] == pytest.approx(
        roc_auc_score(labels == 7, gauss_scores), abs=1e-12)
    picture = Image.open(run / "anomaly" / "ranking_fanogan.png")
    assert picture.width > 10 * 8 and picture.height > 6 * 8
    # an array of queries, and bad inputs
    np.save(tmp_path / "q.npy", np.zeros((3, 8, 8, 1), np.float32))
    assert run_main(["anomaly", "score", "--workdir", run, "--method", "fanogan", "--input",
                     tmp_path / "q.npy", "--out", tmp_path / "q.csv"]) == 0
    assert (tmp_path / "q.csv").read_text().splitlines()[1].startswith("0,,")
    np.save(tmp_path / "bad.npy", np.zeros((3, 16, 16, 1), np.float32))
    capsys.readouterr()
    assert run_main(["anomaly", "score", "--workdir", run, "--method", "fanogan", "--input",
                     tmp_path / "bad.npy", "--out", tmp_path / "b.csv"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "[N, 8, 8, 1]" in err
    assert run_main(["anomaly", "score", "--workdir", run, "--method", "nope", "--out",
                     tmp_path / "b.csv"]) == 2


@pytest.mark.slow  # ~17 CPU-s (load ~9), 12 of them `jaxgan train`'s compile; the scores
# themselves are checked by test_conditional_fanogan_score_is_the_lowest_class_score and
# test_conditional_anogan_is_the_lowest_of_the_per_class_searches
def test_cli_conditional_run_fit_and_score(tmp_path, capsys):
    """The default experiment (projection D, conditional G) without the 7s: fit, then score
    with f-AnoGAN, AnoGAN and −D over the nine normal classes."""
    from jaxgan.anomaly import workflow

    run = tmp_path / "run"
    assert run_main(["train", "--config", "dcgan_digits", "--workdir", run,
                     "--config.exclude_classes=7", *TINY, "--config.steps=10",
                     "--config.steps_per_call=1", "--config.log_every=10", "--config.penalty=none",
                     "--config.mode_seeking_weight=0"]) == 0
    assert run_main(["anomaly", "fit", "--workdir", run, "--steps", 10]) == 0
    for method in ("fanogan", "discriminator", "anogan"):
        assert run_main(["anomaly", "score", "--workdir", run, "--method", method, "--out",
                         tmp_path / f"{method}.csv", "--anogan_steps", 3]) == 0
        with open(tmp_path / f"{method}.csv") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == json.loads((run / "split.json").read_text())["num_test"]
        assert np.all(np.isfinite([float(r["score"]) for r in rows]))
    opened = workflow.open_run(run)
    assert opened.conditional and "anogan" in opened.methods()
    np.testing.assert_array_equal(opened.drawn_classes(), [0, 1, 2, 3, 4, 5, 6, 8, 9])
    for keep, after in ((2, 1), (0, 1)):  # two classes after one step; every class
        assert run_main(["anomaly", "score", "--workdir", run, "--method", "anogan", "--out",
                         tmp_path / "pruned.csv", "--anogan_steps", 3, "--anogan_keep_classes",
                         keep, "--anogan_prune_after", after]) == 0
    capsys.readouterr()
    assert run_main(["anomaly", "score", "--workdir", run, "--method", "anogan", "--out",
                     tmp_path / "bad.csv", "--anogan_steps", 3, "--anogan_prune_after", -1]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--anogan_prune_after" in err
