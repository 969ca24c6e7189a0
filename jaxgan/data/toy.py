"""Toy 2-D Gaussian mixtures of the mode-collapse benchmarks (PacGAN, VEEGAN).

ring8 (Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN): 8 Gaussians with means
(cos 2πi/8, sin 2πi/8), i = 0..7, on the unit circle, std 0.01.
grid25 (same papers): 25 Gaussians with means {-4, -2, 0, 2, 4}², std 0.05.

The ring uses angles 2πi/8 for i < 8, not np.linspace(0, 2π, 8): the latter puts the first and the
last centre on the same point (7 distinct modes), a known bug in some benchmark code.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class GaussianMixture2D:
    """Equal-weight isotropic 2-D Gaussian mixture: p(x) = (1/K) Σ_k N(x; centers[k], std² I)."""

    centers: np.ndarray  # [K, 2] float64
    std: float


def ring8() -> GaussianMixture2D:
    """8 modes at (cos 2πi/8, sin 2πi/8), std 0.01 (VEEGAN / PacGAN ring benchmark)."""
    angles = 2.0 * np.pi * np.arange(8) / 8.0
    return GaussianMixture2D(np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01)


def grid25() -> GaussianMixture2D:
    """25 modes at {-4, -2, 0, 2, 4}², std 0.05 (VEEGAN / PacGAN grid benchmark)."""
    ticks = np.arange(-4.0, 5.0, 2.0)
    xs, ys = np.meshgrid(ticks, ticks, indexing="ij")
    return GaussianMixture2D(np.stack([xs.ravel(), ys.ravel()], axis=1), 0.05)


TOY_MIXTURES: dict[str, Callable[[], GaussianMixture2D]] = {"ring8": ring8, "grid25": grid25}


def sample_mixture(mixture: GaussianMixture2D, num: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draws `num` points: k ~ Uniform{0..K-1}, x = centers[k] + std·ε, ε ~ N(0, I₂).

    Returns (points float32 [num, 2], component index int32 [num]).
    """
    component = rng.integers(0, len(mixture.centers), size=num)
    noise = rng.standard_normal((num, 2))
    points = mixture.centers[component] + mixture.std * noise
    return points.astype(np.float32), component.astype(np.int32)
