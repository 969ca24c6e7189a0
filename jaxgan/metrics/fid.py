"""Fréchet Inception Distance (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
Converge to a Local Nash Equilibrium", arXiv:1706.08500).

    FID = ‖μ₁ − μ₂‖² + Tr(C₁ + C₂ − 2 (C₁ C₂)^½)

the Fréchet (2-Wasserstein) distance between the Gaussians N(μ₁, C₁) and N(μ₂, C₂) fitted to two sets
of features. The matrix square root is guarded exactly as in the authors' TTUR code (and pytorch-fid).

Statistics are accumulated streaming in float64 (`FeatureStats`), so N is limited by time, not memory.
"""
from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

#: The TTUR code raises when an imaginary part on the diagonal of (C₁C₂)^½ exceeds this.
IMAGINARY_TOLERANCE = 1e-3


class RankDeficientCovarianceError(ValueError):
    """Raised when a feature covariance is estimated from N <= D samples."""


def _sqrtm_product(sigma1: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        # scipy warns "Matrix is singular"; the non-finite result is handled by the caller.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        return linalg.sqrtm(sigma1 @ sigma2)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = 1e-6) -> float:
    """Fréchet distance ‖μ₁ − μ₂‖² + Tr(C₁) + Tr(C₂) − 2 Tr((C₁C₂)^½) (Heusel et al. 2017), float64.

    The square root follows the TTUR reference (bioinf-jku/TTUR `fid.py`): computed with
    `scipy.linalg.sqrtm`; if the result is not finite, `eps`·I is added to both covariances and the root
    is recomputed (with a warning); if the result is complex and any imaginary part of its diagonal
    exceeds 1e-3 a `ValueError` is raised, otherwise the real part is kept.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(
            "frechet_distance needs mu1, mu2 of shape [D] and sigma1, sigma2 of shape [D, D]; got "
            f"{mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    diff = mu1 - mu2
    covmean = _sqrtm_product(sigma1, sigma2)
    if not np.isfinite(covmean).all():
        warnings.warn(
            f"FID: the product of covariances is (nearly) singular; adding {eps}*I to both "
            "covariances (TTUR guard). Use more samples than feature dimensions.",
            RuntimeWarning, stacklevel=2)
        offset = np.eye(d) * eps
        covmean = _sqrtm_product(sigma1 + offset, sigma2 + offset)
        if not np.isfinite(covmean).all():
            raise ValueError("FID: the matrix square root is not finite even after adding "
                             f"{eps}*I; the covariances contain inf/nan or are badly scaled")
    if np.iscomplexobj(covmean):
        max_imag = float(np.max(np.abs(np.diagonal(covmean).imag)))
        if max_imag > IMAGINARY_TOLERANCE:
            raise ValueError(
                f"FID: the square root of C1*C2 has an imaginary component {max_imag:.3g} "
                f"(> {IMAGINARY_TOLERANCE}) on its diagonal; the covariances are not positive "
                "semi-definite (check the features for nan/inf or use more samples)")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


class FeatureStats:
    """Streaming float64 mean and covariance of feature vectors.

    Batches are merged with the pairwise update of Chan, Golub & LeVeque (1979):
    n = n_a + n_b, δ = μ_b − μ_a, μ = μ_a + δ·n_b/n, M = M_a + M_b + δδᵀ·n_a n_b/n,
    where M is the scatter matrix Σ(x − μ)(x − μ)ᵀ; `cov` = M / (n − 1) (unbiased, as `np.cov`).
    Memory is O(D²) whatever the number of samples.
    """

    def __init__(self, dim: int):
        if dim < 1:
            raise ValueError(f"FeatureStats needs a positive feature dimension, got {dim}")
        self.dim = int(dim)
        self.count = 0
        self._mean = np.zeros(dim, np.float64)
        self._scatter = np.zeros((dim, dim), np.float64)

    def update(self, feats: np.ndarray) -> "FeatureStats":
        """Adds a batch of features [B, D]; returns self."""
        x = np.asarray(feats, np.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(
                f"FeatureStats.update expects features [B, {self.dim}], got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("FeatureStats.update got non-finite features (nan/inf); "
                             "check the images fed to the feature extractor")
        n_b = x.shape[0]
        if n_b == 0:
            return self
        mean_b = x.mean(axis=0)
        centred = x - mean_b
        scatter_b = centred.T @ centred
        n_a, n = self.count, self.count + n_b
        delta = mean_b - self._mean
        self._mean = self._mean + delta * (n_b / n)
        self._scatter = self._scatter + scatter_b + np.outer(delta, delta) * (n_a * n_b / n)
        self.count = n
        return self

    @property
    def mean(self) -> np.ndarray:
        return self._mean.copy()

    @property
    def cov(self) -> np.ndarray:
        if self.count < 2:
            raise ValueError(f"FeatureStats: a covariance needs at least 2 samples, have {self.count}")
        return self._scatter / (self.count - 1)


def fid_from_stats(stats1: FeatureStats, stats2: FeatureStats, allow_rank_deficient: bool = False,
                   eps: float = 1e-6) -> float:
    """FID between two accumulated feature sets; refuses N <= D unless `allow_rank_deficient`.

    With N <= D samples the covariance has rank <= N − 1 < D, and FID is then dominated by its N-bias
    (Heusel et al. recommend N >= 10,000 for the 2048-d Inception features).
    """
    if stats1.dim != stats2.dim:
        raise ValueError(f"FID: feature dimensions differ ({stats1.dim} vs {stats2.dim})")
    for name, s in (("first", stats1), ("second", stats2)):
        if s.count <= s.dim:
            message = (f"FID: the {name} set has N={s.count} samples for D={s.dim} features, so its "
                       f"covariance is rank-deficient; use N > {s.dim} samples (at least 10,000 for "
                       "comparable Inception FIDs)")
            if not allow_rank_deficient:
                raise RankDeficientCovarianceError(
                    message + " or pass allow_rank_deficient=True")
            warnings.warn("!!! " + message + " — the value is NOT comparable !!!",
                          RuntimeWarning, stacklevel=2)
    return frechet_distance(stats1.mean, stats1.cov, stats2.mean, stats2.cov, eps=eps)


def fid_from_features(feats1: np.ndarray, feats2: np.ndarray, allow_rank_deficient: bool = False,
                      eps: float = 1e-6) -> float:
    """FID between two feature arrays [N1, D] and [N2, D] (see `fid_from_stats`)."""
    feats1, feats2 = np.asarray(feats1), np.asarray(feats2)
    if feats1.ndim != 2 or feats2.ndim != 2:
        raise ValueError(f"FID: features must be 2-D [N, D]; got {feats1.shape} and {feats2.shape}")
    return fid_from_stats(FeatureStats(feats1.shape[1]).update(feats1),
                          FeatureStats(feats2.shape[1]).update(feats2),
                          allow_rank_deficient=allow_rank_deficient, eps=eps)
