"""Inception Score, precision/recall/density/coverage, 2-D mode metrics and class coverage."""
import numpy as np
import pytest
from scipy.stats import entropy
from sklearn.neighbors import NearestNeighbors

from jaxgan.metrics import class_coverage, inception_score, mode_metrics, precision_recall


def test_inception_score_extremes_and_reference():
    assert inception_score(np.full((100, 10), 0.1), num_splits=5) == pytest.approx((1.0, 0.0))
    one_hot = np.eye(10)[np.arange(200) % 10]   # every split holds every class equally often
    assert inception_score(one_hot, num_splits=4) == pytest.approx((10.0, 0.0))
    probs = np.random.default_rng(0).dirichlet(np.full(7, 0.3), size=103)
    expected = [np.exp(np.mean([entropy(p, part.mean(0)) for p in part]))
                for part in (probs[:34], probs[34:68], probs[68:])]   # k·N//S boundaries
    assert inception_score(probs, num_splits=3) == pytest.approx(
        (np.mean(expected), np.std(expected)), rel=1e-10)


def _prdc_brute_force(x, y, k):
    """Independent reference with scikit-learn's exact nearest neighbours and a dense matrix."""
    rx = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)[0][:, k]
    ry = NearestNeighbors(n_neighbors=k + 1).fit(y).kneighbors(y)[0][:, k]
    d = np.linalg.norm(x[:, None] - y[None], axis=-1)   # [M, N]
    return {"precision": (d <= rx[:, None]).any(0).mean(), "recall": (d <= ry[None, :]).any(1).mean(),
            "density": (d <= rx[:, None]).sum(0).mean() / k, "coverage": (d.min(1) <= rx).mean()}


def test_prdc_matches_brute_force_with_small_blocks():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((70, 3)), rng.standard_normal((55, 3)) * 1.3 + 0.4
    got = precision_recall(x, y, k=3, block=8)
    for name, value in _prdc_brute_force(x, y, 3).items():
        assert got[name] == pytest.approx(value, abs=1e-12), name
    assert 0 < got["precision"] < 1 and 0 < got["recall"] < 1


def test_prdc_identical_and_disjoint_sets():
    x = np.random.default_rng(2).standard_normal((50, 4))
    same = precision_recall(x, x, k=3)
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0
    far = precision_recall(x, x + 100.0, k=3)
    assert far["precision"] == far["recall"] == far["density"] == far["coverage"] == 0.0


RING = np.stack([np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)], 1)
STD = 0.01


def _near(centres, per_mode, rng, max_std=2.5):
    """Points at normalised distance <= max_std (< 3) from each centre."""
    angle = rng.uniform(0, 2 * np.pi, (len(centres), per_mode))
    radius = rng.uniform(0, max_std * STD, (len(centres), per_mode))
    offsets = np.stack([radius * np.cos(angle), radius * np.sin(angle)], -1)
    return (centres[:, None, :] + offsets).reshape(-1, 2)


def test_mode_metrics_all_modes_balanced():
    m = mode_metrics(_near(RING, 50, np.random.default_rng(3)), RING, STD)
    assert m["modes_captured"] == 8 and m["high_quality_fraction"] == 1.0
    assert m["high_quality_percent"] == 100.0 and m["reverse_kl"] == pytest.approx(0.0, abs=1e-12)


def test_mode_metrics_half_the_modes():
    m = mode_metrics(_near(RING[::2], 30, np.random.default_rng(4)), RING, STD)
    assert m["modes_captured"] == 4 and m["high_quality_fraction"] == 1.0
    assert m["reverse_kl"] == pytest.approx(np.log(2.0))   # uniform over 4 of 8 modes
    assert m["mode_histogram"].tolist() == [30, 0, 30, 0, 30, 0, 30, 0]


def test_mode_metrics_samples_far_from_every_mode_and_a_mixture():
    far = mode_metrics(np.zeros((100, 2)), RING, STD)   # the ring's centre: 100 std from every mode
    assert far["modes_captured"] == 0 and far["high_quality_fraction"] == 0.0
    assert np.isnan(far["reverse_kl"])
    one_mode = _near(RING[:1], 75, np.random.default_rng(5))
    mixed = mode_metrics(np.concatenate([one_mode, np.zeros((25, 2))]), RING, STD)
    assert mixed["modes_captured"] == 1 and mixed["high_quality_fraction"] == 0.75
    assert mixed["reverse_kl"] == pytest.approx(np.log(8.0))


def test_mode_metrics_three_std_threshold_and_grid():
    grid = np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], float)
    samples = grid[:2] + np.array([[2.9 * 0.05, 0.0], [3.1 * 0.05, 0.0]])
    m = mode_metrics(samples, grid, 0.05)
    assert m["modes_captured"] == 1 and m["high_quality_fraction"] == 0.5 and m["num_modes"] == 25
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        mode_metrics(np.zeros((5, 3)), grid, 0.05)


def test_class_coverage_counts_argmax_classes():
    probs = np.eye(10)[[0, 0, 0, 1, 3, 3]] * 0.9 + 0.01
    cov = class_coverage(probs)
    p = np.array([3, 1, 2]) / 6
    assert cov["classes_covered"] == 3 and cov["histogram"].tolist() == [3, 1, 0, 2] + [0] * 6
    assert cov["kl_to_uniform"] == pytest.approx(np.sum(p * np.log(10 * p)))
    assert class_coverage(np.eye(10))["kl_to_uniform"] == pytest.approx(0.0, abs=1e-12)
