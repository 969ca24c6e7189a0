"""FID against independent float64 references and closed forms; KID unbiasedness and its O(N²) formula."""

import numpy as np
import pytest
from scipy import linalg

from jaxgan.metrics.fid import (FeatureStats, RankDeficientCovarianceError, fid_from_features,
                                frechet_distance)
from jaxgan.metrics.kid import kernel_inception_distance


def _gaussian_features(rng, n, d, shift=0.0):
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    return rng.standard_normal((n, d)) @ mix + shift


def _fid_sqrtm_reference(x, y):
    """Direct float64 formula with scipy.linalg.sqrtm, written independently of jaxgan."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    root = linalg.sqrtm(s1 @ s2).real
    return np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root)


def _fid_eigen_reference(x, y):
    """Tr((C1 C2)^½) = Σ sqrt(eig(C1^½ C2 C1^½)), a symmetric route that never calls sqrtm."""
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    w, v = np.linalg.eigh(s1)
    r1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    tr_root = np.sqrt(np.clip(np.linalg.eigvalsh(r1 @ s2 @ r1), 0, None)).sum()
    return np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr_root


def test_fid_matches_independent_float64_references():
    rng = np.random.default_rng(0)
    x = _gaussian_features(rng, 400, 24)
    y = _gaussian_features(rng, 300, 24, shift=0.3)
    fid = fid_from_features(x, y)
    assert fid == pytest.approx(_fid_sqrtm_reference(x, y), rel=1e-6)
    assert fid == pytest.approx(_fid_eigen_reference(x, y), rel=1e-6)


def test_fid_of_a_set_with_itself_is_zero():
    x = _gaussian_features(np.random.default_rng(1), 500, 32)
    scale = np.trace(np.cov(x, rowvar=False))
    assert abs(fid_from_features(x, x)) < 1e-8 * scale


def test_fid_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(2)
    mu1, mu2 = rng.standard_normal(10), rng.standard_normal(10)
    a, b = rng.uniform(0.1, 3.0, 10), rng.uniform(0.1, 3.0, 10)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(expected, rel=1e-10)


def test_feature_stats_streaming_equals_numpy_on_uneven_batches():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((257, 6)) * 3.0 + 1e4   # large offset: naive Σx² would lose digits
    stats = FeatureStats(6)
    for lo, hi in [(0, 1), (1, 100), (100, 101), (101, 257)]:
        stats.update(x[lo:hi])
    assert stats.count == 257
    np.testing.assert_allclose(stats.mean, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)


def test_singular_product_triggers_the_ttur_retry_with_eps_on_the_diagonal():
    # [[0, 1], [0, 0]] has no square root: sqrtm returns inf, so eps*I is added to both covariances.
    s1, s2, mu = np.array([[0.0, 1.0], [0.0, 0.0]]), np.eye(2), np.zeros(2)
    eps = 1e-6
    off = eps * np.eye(2)
    expected = np.trace(s1) + np.trace(s2) - 2 * np.trace(linalg.sqrtm((s1 + off) @ (s2 + off)).real)
    with pytest.warns(RuntimeWarning, match="singular"):
        assert frechet_distance(mu, s1, mu, s2, eps=eps) == pytest.approx(expected, rel=1e-9)


def test_large_imaginary_component_raises():
    with pytest.raises(ValueError, match="imaginary"):
        frechet_distance(np.zeros(2), np.diag([-1.0, 1.0]), np.zeros(2), np.eye(2))


def test_fewer_samples_than_dimensions_is_refused_or_warned():
    x = np.random.default_rng(4).standard_normal((20, 32))
    with pytest.raises(RankDeficientCovarianceError, match="N=20 samples for D=32"):
        fid_from_features(x, x)
    with pytest.warns(RuntimeWarning, match="NOT comparable"):
        fid_from_features(x, x, allow_rank_deficient=True)


def _kid_direct(x, y):
    """O(N²) double loop over pairs: the unbiased MMD² with k(a, b) = (aᵀb/d + 1)³."""
    d, m, n = x.shape[1], len(x), len(y)
    k = lambda a, b: (a @ b / d + 1.0) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kid_matches_the_direct_quadratic_formula():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((30, 5)), rng.standard_normal((30, 5)) + 0.4
    # One subset of all 30 rows is a permutation of each set; MMD² is permutation invariant.
    mean, std = kernel_inception_distance(x, y, num_subsets=1, subset_size=30, seed=0)
    assert mean == pytest.approx(_kid_direct(x, y), rel=1e-10)
    assert std == 0.0


def test_kid_is_unbiased_where_the_biased_estimator_is_not():
    rng = np.random.default_rng(6)
    m, d, draws = 40, 4, 400
    unbiased, biased = [], []
    for _ in range(draws):
        x, y = rng.standard_normal((m, d)), rng.standard_normal((m, d))
        unbiased.append(kernel_inception_distance(x, y, num_subsets=1, subset_size=m, seed=0)[0])
        kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
        biased.append(kxx.mean() + kyy.mean() - 2 * kxy.mean())   # V-statistic: includes i = j
    se = np.std(unbiased) / np.sqrt(draws)
    assert abs(np.mean(unbiased)) < 4 * se
    assert np.mean(biased) > 10 * se   # the test can tell a biased estimator apart


def test_kid_subsets_and_distinct_distributions():
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((300, 8)), rng.standard_normal((300, 8)) * 1.5 + 0.5
    mean, std = kernel_inception_distance(x, y, num_subsets=20, subset_size=100, seed=0)
    assert mean > 5 * std > 0
    assert (mean, std) == kernel_inception_distance(x, y, num_subsets=20, subset_size=100, seed=0)
    with pytest.raises(ValueError, match="subset_size=301"):
        kernel_inception_distance(x, y, subset_size=301)
