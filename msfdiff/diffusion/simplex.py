"""The one place that maps abundances to the space the diffusion runs in, and back.

Abundances live on the probability simplex (non-negative, summing to one over the k
endmembers), but a Gaussian diffusion produces unconstrained vectors. Three representations:

``logratio`` (default)
    Diffuse the centred log-ratio ``x = (log(a + floor) - mean_k log(a + floor)) / scale``.
    ``softmax(x * scale)`` inverts it exactly (up to the floor), so *every* sample, however far
    the sampler wanders, decodes onto the simplex. ``scale`` is estimated from the data so that
    the diffused values have unit variance, the noise scale DDPM schedules are designed for.
``paper``
    The paper's Algorithm 2: diffuse ``2a - 1`` in [-1, 1] and return ``softmax(x)``. On the
    simplex, but softmax of values confined to [-1, 1] is flat: a pure pixel (1, 0, 0, 0, 0)
    comes back as (0.65, 0.09, ...). Kept for comparison.
``official``
    The authors' code: diffuse ``2a - 1``, clamp to [-1, 1], return ``(x + 1) / 2``. Not on the
    simplex (rows do not sum to one); kept only so evaluation can show that honestly.

All functions take torch tensors with the endmember axis at ``dim`` (1 for (N, k, H, W)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch

Representation = Literal["logratio", "paper", "official"]
REPRESENTATIONS: tuple[str, ...] = ("logratio", "paper", "official")


def clr(abundances: torch.Tensor, *, floor: float, dim: int = 1) -> torch.Tensor:
    """Centred log-ratio of ``abundances + floor`` along ``dim`` (the floor keeps log finite)."""
    logs = torch.log(abundances + floor)
    return logs - logs.mean(dim=dim, keepdim=True)


def clr_bound(k: int, *, floor: float) -> float:
    """Largest ``|clr(a)|`` on the simplex, at a vertex: ``(k-1)/k log((1+floor)/floor)``."""
    return (k - 1) / k * math.log((1.0 + floor) / floor)


def estimate_clr_scale(batches: Iterable[torch.Tensor], *, floor: float, dim: int = 1) -> float:
    """Root-mean-square of the CLR values over ``batches``: dividing by it gives unit variance.

    The CLR has zero mean per pixel by construction, so the RMS is its standard deviation.
    """
    total, count = 0.0, 0
    for batch in batches:
        values = clr(batch.double(), floor=floor, dim=dim)
        total += float(values.square().sum())
        count += values.numel()
    if count == 0 or total == 0.0:
        raise ValueError("cannot estimate the log-ratio scale from empty or constant abundances")
    return math.sqrt(total / count)


@dataclass(frozen=True)
class SimplexCodec:
    """Encode abundances for diffusion and decode samples back to abundances.

    Parameters
    ----------
    representation : {"logratio", "paper", "official"}
    floor : float
        Added before the logarithm (``logratio`` only); abundances below it are treated as ~0.
    scale : float
        Divides the CLR so the data have unit variance (``logratio`` only).
    """

    representation: Representation = "logratio"
    floor: float = 1e-3
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.representation not in REPRESENTATIONS:
            raise ValueError(
                f"representation must be one of {list(REPRESENTATIONS)}, "
                f"got {self.representation!r}"
            )
        if not (self.floor > 0 and self.scale > 0):
            raise ValueError(f"floor and scale must be > 0, got {self.floor} and {self.scale}")

    def encode(self, abundances: torch.Tensor, *, dim: int = 1) -> torch.Tensor:
        """Abundances on the simplex -> values to diffuse (same shape)."""
        if self.representation == "logratio":
            return clr(abundances, floor=self.floor, dim=dim) / self.scale
        return abundances * 2.0 - 1.0

    def decode(self, x: torch.Tensor, *, dim: int = 1) -> torch.Tensor:
        """Diffused values -> abundances. ``logratio`` and ``paper`` land exactly on the simplex.

        For ``logratio``, ``softmax(x * scale)`` returns ``(a + floor) / (1 + k * floor)``; the
        floor is then removed (negative parts clipped to 0, renormalised), so that
        ``decode(encode(a)) == a`` on real data.
        """
        if self.representation == "official":
            return ((x + 1.0) / 2.0).clamp(0.0, 1.0)
        if self.representation == "paper":
            return torch.softmax(x, dim=dim)
        k = x.shape[dim]
        shifted = torch.softmax(x * self.scale, dim=dim) * (1.0 + k * self.floor) - self.floor
        shifted = shifted.clamp(min=0.0)
        return shifted / shifted.sum(dim=dim, keepdim=True)

    def clip_range(self, k: int) -> float:
        """Bound on ``|encode(a)|`` for abundance vectors of length ``k``: the samplers' x0 clip."""
        if self.representation == "logratio":
            return clr_bound(k, floor=self.floor) / self.scale
        return 1.0
