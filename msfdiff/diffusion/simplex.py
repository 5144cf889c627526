"""The one place that maps the values a diffusion learns (abundances, or for the baselines
HSI cubes and autoencoder latents) to the space it runs in, and back.

Abundances live on the probability simplex (non-negative, summing to one over the k
endmembers), but a Gaussian diffusion produces unconstrained vectors. Three representations of
abundances (:class:`SimplexCodec`):

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

and one for values with no constraint (:class:`StandardCodec`), which the ablations of the
paper's Table 4 diffuse instead of abundances (``msfdiff.baselines.cube`` and ``.latent``):

``standard``
    Diffuse ``(v - offset) / scale`` per channel, offset and scale being each channel's mean
    and standard deviation in the training data; decoding is the exact inverse, with no
    simplex. Per channel, not global, because the bands of a cube (and the channels of a
    latent) differ in spread: under one global scale a low-variance band would sit at a lower
    signal-to-noise ratio at every timestep, i.e. see a different noise schedule. Per channel,
    each gets the unit variance the schedule is designed for, as ``logratio``'s scale does.

All functions take torch tensors with the channel (endmember) axis at ``dim`` (1 for
(N, k, H, W)).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch

Representation = Literal["logratio", "paper", "official", "standard"]
SIMPLEX_REPRESENTATIONS: tuple[str, ...] = ("logratio", "paper", "official")
REPRESENTATIONS: tuple[str, ...] = (*SIMPLEX_REPRESENTATIONS, "standard")
STANDARD_CLIP_MARGIN = 1.5
"""``standard``'s x0 clip is this times the largest ``|encoded|`` value of the data it was
estimated on: real data are never clipped, even rows the estimate did not see, while a
sampler's wild early predictions still are."""


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
        (``standard`` is :class:`StandardCodec`'s.)
    floor : float
        Added before the logarithm (``logratio`` only); abundances below it are treated as ~0.
    scale : float
        Divides the CLR so the data have unit variance (``logratio`` only).
    """

    representation: Representation = "logratio"
    floor: float = 1e-3
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.representation not in SIMPLEX_REPRESENTATIONS:
            raise ValueError(
                f"representation must be one of {list(SIMPLEX_REPRESENTATIONS)}, "
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


@dataclass(frozen=True)
class StandardCodec:
    """Encode unconstrained values (HSI bands, latents) for diffusion: ``(v - offset) / scale``
    per channel; decode is the exact inverse. Build it with :func:`estimate_standard`.

    Parameters
    ----------
    offset, scale : tuple of float
        Each channel's mean and standard deviation (1 for a constant channel).
    bound : float
        The samplers' x0 clip: a margin above the largest ``|encode(v)|`` of the data.
    """

    offset: tuple[float, ...]
    scale: tuple[float, ...]
    bound: float

    def __post_init__(self) -> None:
        if not self.offset or len(self.offset) != len(self.scale):
            raise ValueError(
                f"standard offset and scale need one value per channel, got {len(self.offset)} "
                f"and {len(self.scale)}"
            )
        if not all(math.isfinite(v) for v in (*self.offset, *self.scale, self.bound)):
            raise ValueError("standard offset, scale and clip must be finite")
        if min(self.scale) <= 0 or self.bound <= 0:
            raise ValueError("standard scale and clip must be > 0")

    @property
    def channels(self) -> int:
        return len(self.offset)

    def _shaped(self, values: tuple[float, ...], x: torch.Tensor, dim: int) -> torch.Tensor:
        """``values`` as a tensor that broadcasts along axis ``dim`` of ``x``."""
        if x.shape[dim] != self.channels:
            raise ValueError(f"expected {self.channels} channels at dim {dim}, got {x.shape[dim]}")
        shape = [1] * x.dim()
        shape[dim] = self.channels
        return torch.tensor(values, dtype=x.dtype, device=x.device).reshape(shape)

    def encode(self, values: torch.Tensor, *, dim: int = 1) -> torch.Tensor:
        """Values -> standardised values to diffuse (same shape)."""
        return (values - self._shaped(self.offset, values, dim)) / self._shaped(
            self.scale, values, dim
        )

    def decode(self, x: torch.Tensor, *, dim: int = 1) -> torch.Tensor:
        """Diffused values -> values (unconstrained: callers clip what must be >= 0)."""
        return x * self._shaped(self.scale, x, dim) + self._shaped(self.offset, x, dim)

    def clip_range(self, k: int) -> float:
        """The samplers' x0 clip for ``k`` channels (the estimated bound)."""
        if k != self.channels:
            raise ValueError(f"the codec has {self.channels} channels, not {k}")
        return self.bound


Codec = SimplexCodec | StandardCodec
"""What a diffusion run encodes its data with (``DiffusionConfig.codec``)."""


def estimate_standard(
    batches: Iterable[torch.Tensor], *, dim: int = 1, margin: float = STANDARD_CLIP_MARGIN
) -> StandardCodec:
    """Each channel's mean and standard deviation over ``batches`` (merged batch by batch, as
    Chan et al. 1979, in float64), and a clip bound ``margin`` times the largest ``|encoded|``.

    A constant channel gets scale 1 (it encodes to 0 and decodes exactly whatever the scale).
    """
    count, mean, m2, low, high = 0, None, None, None, None
    for batch in batches:
        values = batch.double().movedim(dim, 0).reshape(batch.shape[dim], -1)
        n = values.shape[1]
        if n == 0:
            continue
        if mean is None:
            mean = m2 = torch.zeros(len(values), dtype=torch.float64)
            low, high = values.min(dim=1).values, values.max(dim=1).values
        batch_mean = values.mean(dim=1)
        delta, total = batch_mean - mean, count + n
        mean = mean + delta * (n / total)
        m2 = m2 + (values - batch_mean[:, None]).square().sum(dim=1)
        m2 = m2 + delta.square() * (count * n / total)
        low = torch.minimum(low, values.min(dim=1).values)
        high = torch.maximum(high, values.max(dim=1).values)
        count = total
    if mean is None:
        raise ValueError("cannot estimate the standardisation from empty data")
    std = (m2 / count).sqrt()
    scale = torch.where(std > 0, std, torch.ones_like(std))
    largest = float((torch.maximum(high - mean, mean - low) / scale).max())
    if largest == 0.0:
        raise ValueError("cannot estimate the standardisation from constant data")
    return StandardCodec(tuple(mean.tolist()), tuple(scale.tolist()), margin * largest)
