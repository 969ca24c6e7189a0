"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", arXiv:1606.03498).

    IS = exp( E_x KL( p(y|x) ‖ p(y) ) ),   p(y) = E_x p(y|x)

computed, as in the authors' code (openai/improved-gan `inception_score.py`), on `num_splits`
consecutive chunks probs[k·N//S : (k+1)·N//S] of the samples; the result is the mean and standard deviation over chunks.
IS ranges from 1 (every sample has the same class distribution) to the number of classes.
"""
from __future__ import annotations

import numpy as np


def inception_score(probs: np.ndarray, num_splits: int = 10) -> tuple[float, float]:
    """(mean, std) over `num_splits` chunks of exp(mean_x Σ_y p(y|x) (log p(y|x) − log p(y)))."""
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2:
        raise ValueError(f"inception_score needs class probabilities [N, C], got shape {probs.shape}")
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3) or (probs < 0).any():
        raise ValueError("inception_score needs rows of probabilities (non-negative, summing to 1); "
                         "apply a softmax to logits first")
    n = probs.shape[0]
    if not 1 <= num_splits <= n:
        raise ValueError(f"inception_score num_splits={num_splits} must be between 1 and N={n}")
    scores = []
    for k in range(num_splits):
        part = probs[k * n // num_splits:(k + 1) * n // num_splits]
        marginal = part.mean(axis=0, keepdims=True)
        # 0·log 0 = 0: terms with p(y|x) = 0 contribute nothing.
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(part > 0, part * (np.log(part) - np.log(marginal)), 0.0).sum(axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))
