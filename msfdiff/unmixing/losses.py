"""Unmixing losses (paper Eq. 4): reconstruction + α·SAD + β·endmember TV."""

from __future__ import annotations

import torch


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """Smooth L1 used by the official code: mean of sqrt((p − t)² + ε²)."""
    return torch.sqrt((pred - target) ** 2 + eps**2).mean()


def spectral_angle(pred: torch.Tensor, target: torch.Tensor, *, dim: int = 1) -> torch.Tensor:
    """Mean spectral angle (radians) between pixel spectra along ``dim``."""
    cos = torch.nn.functional.cosine_similarity(pred, target, dim=dim, eps=1e-8)
    # acos has an infinite gradient at ±1; the tiny margin keeps training finite.
    return torch.acos(cos.clamp(-1 + 1e-6, 1 - 1e-6)).mean()


def endmember_tv(endmembers: torch.Tensor, *, axis: str = "wavelength") -> torch.Tensor:
    """Total variation of the endmember matrix (k, C).

    ``axis="wavelength"`` (paper): Σ_i |e_{i+1} − e_i| along each spectrum, averaged over
    endmembers — it smooths spectra. ``axis="endmember"`` reproduces the official code, whose
    differences run across endmembers instead.
    """
    dim = 1 if axis == "wavelength" else 0
    return endmembers.diff(dim=dim).abs().sum(dim=dim).mean()


def unmixing_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    endmembers: torch.Tensor,
    *,
    reconstruction: str = "mae",
    sad_weight: float = 0.1,
    tv_weight: float = 1e-3,
    tv_axis: str = "wavelength",
) -> dict[str, torch.Tensor]:
    """The loss terms and their weighted sum under ``"total"``.

    ``endmembers`` are the folded spectra (k, C) a pure pixel would have.
    """
    if reconstruction == "charbonnier":
        recon = charbonnier(pred, target)
    elif reconstruction == "rmse":
        recon = (pred - target).pow(2).mean().sqrt()
    else:
        recon = (pred - target).abs().mean()
    sad = spectral_angle(pred, target)
    tv = endmember_tv(endmembers, axis=tv_axis)
    return {
        "total": recon + sad_weight * sad + tv_weight * tv,
        "recon": recon,
        "sad": sad,
        "tv": tv,
    }
