"""Precision/recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for Assessing
Generative Models", arXiv:1904.06991) and density/coverage (Naeem et al. 2020, "Reliable Fidelity and
Diversity Metrics for Generative Models", arXiv:2002.09797) from k-nearest-neighbour balls.

Let r_k(x) be the distance from x to its k-th nearest neighbour in its own set (itself excluded),
X the real and Y the generated features (M and N of them), B(x, r) the closed ball.

    precision = (1/N) Σ_j 1[∃i: y_j ∈ B(x_i, r_k(x_i))]       (fidelity: fakes on the real manifold)
    recall    = (1/M) Σ_i 1[∃j: x_i ∈ B(y_j, r_k(y_j))]       (diversity: reals on the fake manifold)
    density   = (1/(kN)) Σ_j Σ_i 1[y_j ∈ B(x_i, r_k(x_i))]    (can exceed 1)
    coverage  = (1/M) Σ_i 1[∃j: y_j ∈ B(x_i, r_k(x_i))]

Distances are computed in float64 in row blocks, so memory is O(block · max(M, N)), not O(M·N).
"""
from __future__ import annotations

import numpy as np

DEFAULT_BLOCK = 1024


def _sq_norms(x: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", x, x)


def _distances(a: np.ndarray, b: np.ndarray, a_sq: np.ndarray, b_sq: np.ndarray) -> np.ndarray:
    """Euclidean distances [len(a), len(b)] via ‖a‖² + ‖b‖² − 2aᵀb (clipped at 0)."""
    return np.sqrt(np.maximum(a_sq[:, None] + b_sq[None, :] - 2.0 * (a @ b.T), 0.0))


def knn_radii(feats: np.ndarray, k: int, block: int = DEFAULT_BLOCK) -> np.ndarray:
    """r_k(x) for every row: distance to the k-th nearest other row (the row itself excluded)."""
    x = np.asarray(feats, np.float64)
    if not 1 <= k < x.shape[0]:
        raise ValueError(f"k-NN radius needs 1 <= k < N; got k={k} with N={x.shape[0]}")
    sq = _sq_norms(x)
    radii = np.empty(x.shape[0], np.float64)
    for start in range(0, x.shape[0], block):
        d = _distances(x[start:start + block], x, sq[start:start + block], sq)
        # Index 0 of the sorted row is the point itself (distance 0), so index k is the k-th neighbour.
        radii[start:start + block] = np.partition(d, k, axis=1)[:, k]
    return radii


def precision_recall(real_feats: np.ndarray, fake_feats: np.ndarray, k: int = 3,
                     block: int = DEFAULT_BLOCK) -> dict[str, float]:
    """Returns dict(precision, recall, density, coverage, k) as defined in the module docstring.

    k = 3 is the value Kynkäänniemi et al. use for precision/recall; Naeem et al. use k = 5 for
    density/coverage. Both papers use 10,000 (Kynkäänniemi: 50,000) samples per set.
    """
    x = np.asarray(real_feats, np.float64)
    y = np.asarray(fake_feats, np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError("precision_recall needs feature arrays [M, D] and [N, D] with the same D; "
                         f"got {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("precision_recall got non-finite features (nan/inf)")
    real_radii = knn_radii(x, k, block)
    fake_radii = knn_radii(y, k, block)
    x_sq, y_sq = _sq_norms(x), _sq_norms(y)

    in_real_ball_any = np.empty(y.shape[0], bool)
    in_real_ball_count = np.empty(y.shape[0], np.int64)
    for start in range(0, y.shape[0], block):
        d = _distances(y[start:start + block], x, y_sq[start:start + block], x_sq)   # [b, M]
        inside = d <= real_radii[None, :]
        in_real_ball_any[start:start + block] = inside.any(axis=1)
        in_real_ball_count[start:start + block] = inside.sum(axis=1)

    in_fake_ball_any = np.empty(x.shape[0], bool)
    covered = np.empty(x.shape[0], bool)
    for start in range(0, x.shape[0], block):
        d = _distances(x[start:start + block], y, x_sq[start:start + block], y_sq)   # [b, N]
        in_fake_ball_any[start:start + block] = (d <= fake_radii[None, :]).any(axis=1)
        covered[start:start + block] = d.min(axis=1) <= real_radii[start:start + block]

    return {
        "precision": float(in_real_ball_any.mean()),
        "recall": float(in_fake_ball_any.mean()),
        "density": float(in_real_ball_count.mean() / k),
        "coverage": float(covered.mean()),
        "k": int(k),
    }
