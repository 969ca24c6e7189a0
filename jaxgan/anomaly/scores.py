"""The scores of GAN anomaly detectors, pure jnp functions of batched arrays (no I/O).

AnoGAN (Schlegl et al. 2017, "Unsupervised Anomaly Detection with Generative Adversarial Networks
to Guide Marker Discovery", IPMI): for a query x and a latent z,
    L(z) = (1 − λ)·‖x − G(z)‖₁ + λ·‖f(x) − f(G(z))‖₁,
with f = the discriminator's last intermediate features and λ = 0.1; the anomaly score is L(z*)
after Γ gradient steps on z (jaxgan.anomaly.anogan).

f-AnoGAN izi_f (Schlegl et al. 2019, Medical Image Analysis 54; tSchlegl/f-AnoGAN
`z_encoding_izif.py`): an encoder E maps x to z in one pass and
    A(x) = (1/n)·‖x − G(E(x))‖² + κ·(1/n_f)·‖f(x) − f(G(E(x)))‖²,   κ = 1,
is both E's training loss (G, D frozen) and the anomaly score (n pixels, n_f features).

Feature Gaussian (Rippel, Mertens & Merhof 2020, "Modeling the Distribution of Normal Data in
Pre-Trained Deep Features for Anomaly Detection", ICPR, arXiv:2005.14140), here on the trained D's
features instead of an ImageNet network's: fit N(μ, Σ) to f(x) of the normal training images, Σ
shrunk by Ledoit & Wolf (2004), and score a query by its squared Mahalanobis distance
    M(x) = (f(x) − μ)ᵀ Σ⁻¹ (f(x) − μ):
no generator and no encoder, one D pass per query.
See ../shared/reference/REFERENCE.md ("Anomaly detection with GANs") for what is confirmed.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

ANOGAN_LAMBDA = 0.1  # λ of AnoGAN (Schlegl et al. 2017)
IZIF_KAPPA = 1.0  # κ of f-AnoGAN's izi_f loss (Schlegl et al. 2019)


def _per_example(values: Array, reduce) -> Array:
    """`reduce` over every axis but the first: [B, ...] -> [B]."""
    return reduce(values.reshape(values.shape[0], -1), axis=1)


def anogan_loss(x: Array, gz: Array, fx: Array, fgz: Array, lam: float = ANOGAN_LAMBDA) -> Array:
    """[B]: (1 − λ)·Σ|x − G(z)| + λ·Σ|f(x) − f(G(z))| per query (AnoGAN, Schlegl et al. 2017).

    x, gz: images [B, ...]; fx, fgz: D's features of x and G(z) [B, ...]."""
    residual = _per_example(jnp.abs(x - gz), jnp.sum)
    discrimination = _per_example(jnp.abs(fx - fgz), jnp.sum)
    return (1.0 - lam) * residual + lam * discrimination


def izif_loss(x: Array, gex: Array, fx: Array, fgex: Array, kappa: float = IZIF_KAPPA) -> Array:
    """[B]: mean((x − G(E(x)))²) + κ·mean((f(x) − f(G(E(x))))²) per query (f-AnoGAN izi_f,
    Schlegl et al. 2019): E's training loss and the anomaly score."""
    return (_per_example(jnp.square(x - gex), jnp.mean)
            + kappa * _per_example(jnp.square(fx - fgex), jnp.mean))


def residual_map(x: Array, reconstruction: Array) -> Array:
    """|x − G(z*)| per pixel, averaged over channels: [B, H, W] (AnoGAN's localisation)."""
    return jnp.mean(jnp.abs(x - reconstruction), axis=-1)


def fit_feature_gaussian(train_features: np.ndarray):
    """The Gaussian N(μ, Σ) of the training rows [N, F], Σ shrunk by Ledoit-Wolf: a fitted
    sklearn.covariance.LedoitWolf, whose `.mahalanobis(query)` is the feature-Gaussian score."""
    from sklearn.covariance import LedoitWolf

    train = np.asarray(train_features, np.float64)
    if train.ndim != 2:
        raise ValueError(f"training features must be [N, F], got {train.shape}")
    if len(train) < 2:
        raise ValueError(f"the feature Gaussian needs at least 2 training images, got {len(train)}")
    return LedoitWolf().fit(train)


def feature_gaussian_scores(train_features: np.ndarray, query_features: np.ndarray) -> np.ndarray:
    """[Q]: (f(x) − μ)ᵀ Σ⁻¹ (f(x) − μ) of each query row under the Gaussian fit to the
    training rows [N, F] (fit_feature_gaussian: μ the mean, Σ the shrunk covariance)."""
    query = np.asarray(query_features, np.float64)
    if query.ndim != 2 or np.ndim(train_features) != 2 or \
            np.shape(train_features)[1] != query.shape[1]:
        raise ValueError(f"features must be [N, F] and [Q, F] with the same F; got "
                         f"{np.shape(train_features)} and {query.shape}")
    return fit_feature_gaussian(train_features).mahalanobis(query)


def detection_metrics(scores: np.ndarray, is_anomaly: np.ndarray) -> dict[str, float]:
    """AUROC and AUPRC (average precision) of `scores` (higher = more anomalous) against the
    0/1 truth `is_anomaly`, by sklearn.metrics.roc_auc_score / average_precision_score; the
    anomalies are the positive class (as in EGBAD, Zenati et al. 2018)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    scores = np.asarray(scores, np.float64)
    truth = np.asarray(is_anomaly).astype(bool)
    if scores.shape != truth.shape or scores.ndim != 1:
        raise ValueError(f"scores {scores.shape} and labels {truth.shape} must be equal 1-D shapes")
    if truth.all() or not truth.any():
        raise ValueError("AUROC needs both normal and anomalous test images; the test set has "
                         "only one kind")
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{int(np.sum(~np.isfinite(scores)))} scores are NaN or infinite")
    return {"auroc": float(roc_auc_score(truth, scores)),
            "auprc": float(average_precision_score(truth, scores)),
            "num_normal": int(np.sum(~truth)), "num_anomalous": int(np.sum(truth))}
