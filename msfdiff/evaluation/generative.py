"""Set-to-set distances between real and synthetic samples: FD/FID, KID, precision and recall.

They all take feature matrices (one row per sample), so the same functions score Inception
features of false-colour renderings (FID proper) and PCA scores of pixel spectra
(:mod:`msfdiff.evaluation.spectral`). Computing the features is the slow part; these are not.
"""

from __future__ import annotations

import numpy as np
import torch

from msfdiff.errors import DataFormatError


def _check_features(real: np.ndarray, synthetic: np.ndarray, *, min_rows: int) -> None:
    for name, feats in (("real", real), ("synthetic", synthetic)):
        if feats.ndim != 2:
            raise DataFormatError(
                f"{name} features: expected (n_samples, n_features), got {feats.shape}"
            )
        if feats.shape[0] < min_rows:
            raise DataFormatError(
                f"{name} features: need at least {min_rows} samples, got {feats.shape[0]}"
            )
        if not np.all(np.isfinite(feats)):
            raise DataFormatError(f"{name} features contain NaN/Inf")
    if real.shape[1] != synthetic.shape[1]:
        raise DataFormatError(
            f"real features have {real.shape[1]} dimensions, synthetic {synthetic.shape[1]}"
        )


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of the rows, in float64.

    Returns
    -------
    mean : ndarray of shape (n_features,)
    cov : ndarray of shape (n_features, n_features)
    """
    features = np.asarray(features, dtype=np.float64)
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def frechet_distance(
    mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray
) -> float:
    """Fréchet (2-Wasserstein) distance² between two Gaussians.

    ``|m1 - m2|² + tr(C1) + tr(C2) - 2 tr((C1 C2)^½)``. The trace of the matrix square root is
    taken from the eigenvalues of the symmetric ``C1^½ C2 C1^½``, which has the same spectrum
    as ``C1 C2`` but stays real and stable when the covariances are singular (fewer samples
    than dimensions, as in every small FID).
    """
    mean1, mean2 = np.asarray(mean1, np.float64), np.asarray(mean2, np.float64)
    cov1, cov2 = np.asarray(cov1, np.float64), np.asarray(cov2, np.float64)
    vals, vecs = np.linalg.eigh(cov1)
    root1 = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    inner = root1 @ cov2 @ root1
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    value = np.sum((mean1 - mean2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * trace_root
    return float(max(value, 0.0))


def frechet_feature_distance(real: np.ndarray, synthetic: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID on Inception features).

    Parameters
    ----------
    real, synthetic : ndarray of shape (n_samples, n_features)
        At least 2 rows each.
    """
    _check_features(real, synthetic, min_rows=2)
    return frechet_distance(*gaussian_stats(real), *gaussian_stats(synthetic))


def _poly_mmd2(x: torch.Tensor, y: torch.Tensor) -> float:
    """Unbiased MMD² with the cubic kernel ``k(a, b) = (a·b / d + 1)³`` (Bińkowski et al. 2018)."""
    dim = x.shape[1]
    kxx = (x @ x.T / dim + 1) ** 3
    kyy = (y @ y.T / dim + 1) ** 3
    kxy = (x @ y.T / dim + 1) ** 3
    m, n = x.shape[0], y.shape[0]
    within_x = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    within_y = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    return float(within_x + within_y - 2 * kxy.mean())


def kernel_distance(
    real: np.ndarray,
    synthetic: np.ndarray,
    *,
    n_subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased polynomial-kernel MMD², averaged over random subsets.

    Unlike FID it is unbiased in the number of samples, so small sets can be compared.
    ``subset_size`` is capped at the smaller set; with one subset covering both sets whole the
    result is deterministic.

    Returns
    -------
    mean, std : float
        Over the subsets (std with ``ddof=0``, as torchmetrics reports it).
    """
    _check_features(real, synthetic, min_rows=2)
    size = min(subset_size, len(real), len(synthetic))
    x_all = torch.as_tensor(real, dtype=torch.float64)
    y_all = torch.as_tensor(synthetic, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    scores = []
    for _ in range(n_subsets):
        x = x_all[torch.randperm(len(x_all), generator=gen)[:size]]
        y = y_all[torch.randperm(len(y_all), generator=gen)[:size]]
        scores.append(_poly_mmd2(x, y))
    return float(np.mean(scores)), float(np.std(scores))


def _kth_neighbour_radii(feats: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row."""
    radii = []
    for start in range(0, len(feats), chunk):
        dist = torch.cdist(feats[start : start + chunk], feats)
        # the row itself sits at distance 0 and is the first of the k + 1 smallest
        radii.append(dist.kthvalue(k + 1, dim=1).values)
    return torch.cat(radii)


def _coverage(
    manifold: torch.Tensor, radii: torch.Tensor, probes: torch.Tensor, chunk: int
) -> float:
    """Fraction of ``probes`` inside at least one ball ``|p - manifold[i]| <= radii[i]``."""
    inside = []
    for start in range(0, len(probes), chunk):
        dist = torch.cdist(probes[start : start + chunk], manifold)
        inside.append((dist <= radii[None, :]).any(dim=1))
    return float(torch.cat(inside).double().mean())


def precision_recall(
    real: np.ndarray, synthetic: np.ndarray, *, k: int = 3, chunk: int = 1024
) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., NeurIPS 2019).

    Each set's manifold is the union of balls around its samples, with radius the distance to
    the sample's k-th nearest neighbour in the same set. Precision is the fraction of
    synthetic samples inside the real manifold (fidelity); recall is the fraction of real
    samples inside the synthetic manifold (diversity / coverage).

    Parameters
    ----------
    real, synthetic : ndarray of shape (n_samples, n_features)
        Each needs more than ``k`` rows.
    k : int
        Neighbour rank; 3 as in the paper that defined the metric.

    Returns
    -------
    precision, recall : float in [0, 1]
    """
    _check_features(real, synthetic, min_rows=k + 1)
    x = torch.as_tensor(real, dtype=torch.float64)
    y = torch.as_tensor(synthetic, dtype=torch.float64)
    precision = _coverage(x, _kth_neighbour_radii(x, k, chunk), y, chunk)
    recall = _coverage(y, _kth_neighbour_radii(y, k, chunk), x, chunk)
    return precision, recall
