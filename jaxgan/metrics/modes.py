"""Mode metrics for 2-D Gaussian mixtures (ring-8, grid-25), as defined by PacGAN (Lin et al. 2018,
arXiv:1712.04086) and VEEGAN (Srivastava et al. 2017, arXiv:1705.07761).

For each sample x, let c(x) be its nearest mode centre and s(x) = ‖x − c(x)‖ / σ its normalised
distance (σ the mixture's per-coordinate standard deviation).

* high quality:   s(x) < 3
* modes_captured: number of modes that are the nearest mode of at least one high-quality sample
* high_quality_fraction: (#high-quality samples) / N  in [0, 1]  (×100 = PacGAN's "% high quality")
* reverse_kl: KL(p̂ ‖ uniform) = Σ_k p̂_k log(K p̂_k), p̂ the histogram of high-quality samples over the
  K modes (0·log 0 = 0); 0 for a perfectly balanced generator, log K when all mass is on one mode,
  nan when there is no high-quality sample.
"""
from __future__ import annotations

import numpy as np

HIGH_QUALITY_STDS = 3.0


def mode_metrics(samples: np.ndarray, centers: np.ndarray, std: float) -> dict[str, object]:
    """Returns dict(modes_captured, num_modes, high_quality_fraction, high_quality_percent,
    reverse_kl, mode_histogram, num_samples); definitions in the module docstring."""
    samples = np.asarray(samples, np.float64)
    centers = np.asarray(centers, np.float64)
    if samples.ndim != 2 or samples.shape[1] != 2 or samples.shape[0] == 0:
        raise ValueError(f"mode_metrics needs samples of shape [N, 2] with N >= 1, got {samples.shape}")
    if centers.ndim != 2 or centers.shape[1] != 2 or centers.shape[0] == 0:
        raise ValueError(f"mode_metrics needs centers of shape [K, 2], got {centers.shape}")
    if not std > 0:
        raise ValueError(f"mode_metrics needs a positive std, got {std}")
    if not np.isfinite(samples).all():
        raise ValueError("mode_metrics got non-finite samples (nan/inf): the generator diverged")
    num_modes = centers.shape[0]
    dist = np.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)   # [N, K]
    nearest = dist.argmin(axis=1)
    normalised = dist[np.arange(samples.shape[0]), nearest] / std
    high_quality = normalised < HIGH_QUALITY_STDS
    histogram = np.bincount(nearest[high_quality], minlength=num_modes)
    num_hq = int(high_quality.sum())
    if num_hq > 0:
        p = histogram / num_hq
        nonzero = p > 0
        reverse_kl = float(np.sum(p[nonzero] * np.log(num_modes * p[nonzero])))
    else:
        reverse_kl = float("nan")
    fraction = num_hq / samples.shape[0]
    return {
        "modes_captured": int((histogram > 0).sum()),
        "num_modes": int(num_modes),
        "high_quality_fraction": float(fraction),
        "high_quality_percent": float(100.0 * fraction),
        "reverse_kl": reverse_kl,
        "mode_histogram": histogram.astype(np.int64),
        "num_samples": int(samples.shape[0]),
    }
