"""Class coverage of generated images: the image analogue of the 2-D mode metrics.

Each sample is assigned its most probable class under a classifier (for digits, the shipped digits
classifier). With n_c the number of samples assigned to class c, N = Σ n_c and K classes:

    classes_covered = #{c : n_c > 0}
    kl_to_uniform   = KL(p̂ ‖ uniform) = Σ_c p̂_c log(K p̂_c),  p̂_c = n_c / N   (0·log 0 = 0)

kl_to_uniform is 0 for a perfectly class-balanced generator and log K when every sample is one class
(the "reverse KL" of PacGAN, Lin et al. 2018, applied to classes instead of mixture modes).
"""
from __future__ import annotations

import numpy as np


def class_histogram_kl(histogram: np.ndarray) -> float:
    """KL(p̂ ‖ uniform) of a histogram of counts; nan for an empty histogram."""
    histogram = np.asarray(histogram, np.float64)
    total = histogram.sum()
    if total <= 0:
        return float("nan")
    p = histogram / total
    nz = p > 0
    return float(np.sum(p[nz] * np.log(histogram.shape[0] * p[nz])))


def class_coverage(probs: np.ndarray) -> dict[str, object]:
    """Returns dict(classes_covered, num_classes, kl_to_uniform, histogram) of argmax classes."""
    probs = np.asarray(probs)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError(f"class_coverage needs class probabilities [N, C] with N >= 1, got {probs.shape}")
    histogram = np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]).astype(np.int64)
    return {
        "classes_covered": int((histogram > 0).sum()),
        "num_classes": int(probs.shape[1]),
        "kl_to_uniform": class_histogram_kl(histogram),
        "histogram": histogram,
    }
