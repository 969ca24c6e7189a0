"""Kernel Inception Distance (Bińkowski et al. 2018, "Demystifying MMD GANs", arXiv:1801.01401).

KID is the unbiased estimator of the squared maximum mean discrepancy with the cubic polynomial kernel
k(x, y) = (xᵀy / d + 1)³ between real features X (m samples) and generated features Y (n samples):

    MMD²_u = Σ_{i≠j} k(xᵢ, xⱼ) / (m(m−1)) + Σ_{i≠j} k(yᵢ, yⱼ) / (n(n−1)) − 2 Σ_{i,j} k(xᵢ, yⱼ) / (mn)

averaged over random subsets (as in the authors' code: 100 subsets of 1,000, drawn without
replacement within a subset); the reported spread is the standard deviation over subsets.
Being unbiased, it is ≈ 0 in expectation for two samples of one distribution and can be negative.
"""
from __future__ import annotations

import numpy as np


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """k(x, y) = (xᵀy / d + coef0)^degree for all pairs of rows, float64 [len(x), len(y)]."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    return (x @ y.T / x.shape[1] + coef0) ** degree


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> float:
    """Unbiased MMD² (U-statistic, Gretton et al. 2012, eq. 3) with the polynomial kernel."""
    m, n = x.shape[0], y.shape[0]
    if m < 2 or n < 2:
        raise ValueError(f"unbiased MMD² needs at least 2 samples per set, got {m} and {n}")
    k_xx = polynomial_kernel(x, x, degree, coef0)
    k_yy = polynomial_kernel(y, y, degree, coef0)
    k_xy = polynomial_kernel(x, y, degree, coef0)
    sum_xx = k_xx.sum() - np.trace(k_xx)
    sum_yy = k_yy.sum() - np.trace(k_yy)
    return float(sum_xx / (m * (m - 1)) + sum_yy / (n * (n - 1)) - 2.0 * k_xy.sum() / (m * n))


def kernel_inception_distance(feats_real: np.ndarray, feats_fake: np.ndarray, num_subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """(mean, std) of unbiased MMD² over `num_subsets` random subsets of `subset_size` per set.

    Each subset draws `subset_size` rows without replacement from each set with
    `np.random.default_rng(seed)`. The std is over subsets (ddof=0, as in the authors' code); it
    measures the spread of one subset's estimate, not the standard error of the mean.
    """
    feats_real = np.asarray(feats_real)
    feats_fake = np.asarray(feats_fake)
    if feats_real.ndim != 2 or feats_fake.ndim != 2 or feats_real.shape[1] != feats_fake.shape[1]:
        raise ValueError("KID needs feature arrays [N1, D] and [N2, D] with the same D; got "
                         f"{feats_real.shape} and {feats_fake.shape}")
    if num_subsets < 1:
        raise ValueError(f"KID num_subsets must be >= 1, got {num_subsets}")
    limit = min(feats_real.shape[0], feats_fake.shape[0])
    if not 2 <= subset_size <= limit:
        raise ValueError(f"KID subset_size={subset_size} must be between 2 and the smaller number of "
                         f"samples ({limit}); pass a smaller subset_size or more samples")
    rng = np.random.default_rng(seed)
    values = np.empty(num_subsets, np.float64)
    for s in range(num_subsets):
        x = feats_real[rng.choice(feats_real.shape[0], subset_size, replace=False)]
        y = feats_fake[rng.choice(feats_fake.shape[0], subset_size, replace=False)]
        values[s] = mmd2_unbiased(x, y)
    return float(values.mean()), float(values.std())
