"""Full-reference reconstruction metrics (paper Table 3 protocol): RMSE, PSNR, SSIM, SAD, ERGAS.

All take cubes of shape (height, width, bands). PSNR and SSIM use the *target's* maximum as the
data range, so a reflectance cube peaking at 0.47 is judged on its own scale, not against 1.0.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torchmetrics.functional.image import (
    error_relative_global_dimensionless_synthesis,
    peak_signal_noise_ratio,
    spectral_angle_mapper,
    structural_similarity_index_measure,
)

from msfdiff.errors import DataFormatError


def _to_nchw(cube: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(cube), dtype=torch.float64).permute(2, 0, 1)[None]


def reconstruction_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """RMSE, PSNR (dB), SSIM, mean SAD (degrees) and ERGAS of ``pred`` against ``target``.

    Parameters
    ----------
    pred, target : ndarray of shape (height, width, bands)
    """
    if pred.shape != target.shape:
        raise DataFormatError(f"prediction shape {pred.shape} does not match target {target.shape}")
    p, t = _to_nchw(pred), _to_nchw(target)
    data_range = float(t.max() - min(0.0, float(t.min())))
    sad_rad = spectral_angle_mapper(
        p.clamp_min(1e-12), t.clamp_min(1e-12), reduction="elementwise_mean"
    )
    return {
        "rmse": float(torch.sqrt(torch.mean((p - t) ** 2))),
        "psnr": float(peak_signal_noise_ratio(p, t, data_range=data_range)),
        "ssim": float(structural_similarity_index_measure(p, t, data_range=data_range)),
        "sad_deg": float(torch.rad2deg(sad_rad)),
        "ergas": float(
            error_relative_global_dimensionless_synthesis(p, t.clamp_min(1e-12), ratio=1)
        ),
    }


def spectral_angles_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise spectral angles in degrees between rows of ``a`` (m, C) and ``b`` (n, C)."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.degrees(np.arccos(np.clip(a @ b.T, -1.0, 1.0)))


def match_endmembers(estimated: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching of estimated to reference endmembers by spectral angle.

    Returns
    -------
    order : ndarray of shape (n_reference,)
        ``estimated[order[j]]`` is matched to ``reference[j]``.
    sad_deg : ndarray of shape (n_reference,)
        Spectral angle of each matched pair, in degrees.
    """
    cost = spectral_angles_deg(reference, estimated)
    rows, cols = linear_sum_assignment(cost)
    order = np.empty(len(reference), dtype=int)
    order[rows] = cols
    return order, cost[rows, cols]
