"""FD, KID, precision/recall against scipy, torchmetrics and brute force."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from msfdiff.errors import DataFormatError
from msfdiff.evaluation.generative import (
    frechet_distance,
    frechet_feature_distance,
    gaussian_stats,
    kernel_distance,
    precision_recall,
)


class _Identity(torch.nn.Module):
    """A torchmetrics 'feature extractor' for rows that already are features."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.num_features = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _scipy_fd(a: np.ndarray, b: np.ndarray) -> float:
    mu1, s1 = a.mean(0), np.cov(a, rowvar=False)
    mu2, s2 = b.mean(0), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root))


def test_frechet_matches_scipy_sqrtm(rng):
    a = rng.normal(size=(200, 8))
    b = rng.normal(size=(150, 8)) @ rng.normal(size=(8, 8)) * 0.5 + 1.0
    assert frechet_feature_distance(a, b) == pytest.approx(_scipy_fd(a, b), rel=1e-8)


def test_frechet_closed_form_for_diagonal_gaussians():
    # FD of N(m1, diag(s1²)) and N(m2, diag(s2²)) is |m1-m2|² + Σ (s1 - s2)²
    m1, m2 = np.array([0.0, 1.0]), np.array([3.0, -1.0])
    s1, s2 = np.array([1.0, 2.0]), np.array([3.0, 0.5])
    expected = np.sum((m1 - m2) ** 2) + np.sum((s1 - s2) ** 2)
    assert frechet_distance(m1, np.diag(s1**2), m2, np.diag(s2**2)) == pytest.approx(expected)


def test_frechet_of_a_set_with_itself_is_zero_even_when_singular(rng):
    feats = rng.normal(size=(10, 64))  # fewer samples than dimensions: singular covariance
    assert frechet_feature_distance(feats, feats) == pytest.approx(0.0, abs=1e-8)


def test_frechet_grows_with_noise(rng):
    base = rng.normal(size=(300, 6))
    values = [
        frechet_feature_distance(base, base + rng.normal(scale=s, size=base.shape))
        for s in (0.1, 0.5, 1.0)
    ]
    assert values[0] < values[1] < values[2]


def test_frechet_matches_torchmetrics(rng):
    a = rng.normal(size=(64, 16))
    b = rng.normal(loc=0.3, size=(48, 16))
    fid = FrechetInceptionDistance(feature=_Identity(16))
    fid.update(torch.from_numpy(a), real=True)
    fid.update(torch.from_numpy(b), real=False)
    assert frechet_feature_distance(a, b) == pytest.approx(float(fid.compute()), rel=1e-6)


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance`:UserWarning")
def test_kid_matches_torchmetrics_on_the_whole_sets(rng):
    a = rng.normal(size=(40, 12))
    b = rng.normal(loc=0.2, size=(40, 12))
    kid = KernelInceptionDistance(feature=_Identity(12), subsets=1, subset_size=40)
    kid.update(torch.from_numpy(a), real=True)
    kid.update(torch.from_numpy(b), real=False)
    mean, std = kernel_distance(a, b, n_subsets=1, subset_size=40)
    assert mean == pytest.approx(float(kid.compute()[0]), rel=1e-9)
    assert std == 0.0


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two(rng):
    a, b = rng.normal(size=(300, 8)), rng.normal(size=(300, 8))
    same, _ = kernel_distance(a, b, n_subsets=20, subset_size=100)
    shifted, _ = kernel_distance(a, b + 1.0, n_subsets=20, subset_size=100)
    assert abs(same) < 0.02 < shifted


def _brute_force_pr(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        return np.sort(d, axis=1)[:, k]

    def inside(centres, r, probes):
        d = np.linalg.norm(probes[:, None] - centres[None], axis=-1)
        return np.mean([(row <= r).any() for row in d])

    return inside(real, radii(real), fake), inside(fake, radii(fake), real)


def test_precision_recall_matches_brute_force(rng):
    real = rng.normal(size=(60, 5))
    fake = rng.normal(loc=0.7, scale=1.3, size=(45, 5))
    got = precision_recall(real, fake, k=3, chunk=16)
    assert got == pytest.approx(_brute_force_pr(real, fake, 3), abs=1e-12)


def test_precision_recall_identical_and_disjoint_sets(rng):
    real = rng.normal(size=(100, 4))
    assert precision_recall(real, real.copy()) == (1.0, 1.0)
    assert precision_recall(real, real + 100.0) == (0.0, 0.0)


def test_precision_recall_half_overlap(rng):
    # half the synthetic samples sit on the real distribution, half far away: P ≈ 0.5;
    # the on-distribution half covers the real set: R ≈ 1
    real = rng.normal(size=(400, 2))
    fake = np.vstack([rng.normal(size=(200, 2)), rng.normal(loc=50.0, size=(200, 2))])
    precision, recall = precision_recall(real, fake)
    assert precision == pytest.approx(0.5, abs=0.03)
    assert recall > 0.9


def test_mode_collapse_lowers_recall_not_precision(rng):
    real = rng.normal(size=(300, 3))
    collapsed = rng.normal(scale=0.2, size=(300, 3))
    precision, recall = precision_recall(real, collapsed)
    assert precision > 0.9 and recall < 0.5


def test_input_checks(rng):
    with pytest.raises(DataFormatError, match="dimensions"):
        frechet_feature_distance(rng.normal(size=(5, 3)), rng.normal(size=(5, 4)))
    with pytest.raises(DataFormatError, match="at least 4"):
        precision_recall(rng.normal(size=(3, 2)), rng.normal(size=(10, 2)), k=3)
    with pytest.raises(DataFormatError, match="NaN"):
        frechet_feature_distance(np.full((3, 2), np.nan), rng.normal(size=(3, 2)))


def test_gaussian_stats_shapes(rng):
    mean, cov = gaussian_stats(rng.normal(size=(20, 3)))
    assert mean.shape == (3,) and cov.shape == (3, 3)
