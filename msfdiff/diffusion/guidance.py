"""Guided sampling: where a strength starts the reverse process, and the masks of outpainting.

**Strength.** A source map ``x0`` noised to timestep ``t`` is ``x_t = sqrt(a_t) x0 +
sqrt(1 - a_t) eps`` (``a_t`` = ``alphas_cumprod[t]``). The diffused data have unit variance
(the log-ratio codec's scale), so ``sqrt(a_t)`` is the correlation of ``x_t`` with the source,
and MSF-Diff defines

    ``S = 1 - sqrt(a_t)``: the share of the source's amplitude that the noise has replaced.

S = 0.5 keeps half the amplitude whatever the schedule (T, betas), where a timestep index
(diffusers' img2img ``strength = t / T``) would not: on the paper's linear schedule, t/T = 0.3
keeps 0.64 of it, t/T = 0.5 keeps 0.29 and t/T = 0.7 keeps 0.09, so the effect is crowded into
t/T < 0.5 and the range above changes little; by S, the distance of a variation to its source
grows about evenly (docs/diffusion.md, "Guided sampling").
A variation at strength S runs the sampler over a schedule that ends at ``t_S`` (the betas up to
``t_S``), so the sampler keeps its own step spacing on the shorter path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from diffusers import DDPMScheduler
from diffusers.utils.torch_utils import randn_tensor

from msfdiff.errors import ConfigError
from msfdiff.generator import Guidance


def strengths(alphas_cumprod: torch.Tensor) -> np.ndarray:
    """The strength ``1 - sqrt(alpha_bar_t)`` of every training timestep (increasing in t)."""
    return 1.0 - np.sqrt(alphas_cumprod.double().numpy())


def start_timestep(alphas_cumprod: torch.Tensor, strength: float) -> int:
    """The timestep whose strength is nearest to ``strength`` (0 < strength <= 1), at least 1.

    At least 1: t = 0 adds noise of std 1e-3 on the paper schedule, nothing a step can undo.
    """
    if not 0.0 < strength <= 1.0:
        raise ConfigError(f"strength must be in (0, 1] to denoise, got {strength}")
    return max(1, int(np.abs(strengths(alphas_cumprod) - strength).argmin()))


def truncation(scheduler_config: dict, start: int) -> dict:
    """``from_config`` overrides that cut the training schedule after timestep ``start``.

    Same betas, ``start + 1`` timesteps: a sampler built with them spreads its steps over
    [0, start] with its usual spacing, and its ``alphas_cumprod`` are the first ``start + 1``
    of the full schedule's. (Keyword overrides: ``from_config`` ignores ``trained_betas`` in
    the config dict itself.)
    """
    betas = DDPMScheduler.from_config(scheduler_config).betas[: start + 1]
    return {"num_train_timesteps": start + 1, "trained_betas": betas.tolist()}


def diffuse(
    x: torch.Tensor,
    alphas_cumprod: torch.Tensor,
    t_from: int,
    t_to: int,
    generators: Sequence[torch.Generator],
) -> torch.Tensor:
    """Sample ``q(x_{t_to} | x_{t_from})`` forward in time: RePaint's jump back (t_to > t_from)."""
    ratio = float(alphas_cumprod[t_to] / alphas_cumprod[t_from])
    noise = randn_tensor(x.shape, generator=list(generators), device=x.device, dtype=x.dtype)
    return ratio**0.5 * x + (1.0 - ratio) ** 0.5 * noise


def outpainting(
    maps: np.ndarray,
    size: int | tuple[int, int],
    *,
    offset: tuple[int, int] | None = None,
    labels: Sequence[str | None] | None = None,
    resample: int = 0,
) -> Guidance:
    """Maps (m, h, w, k) placed on a larger canvas, the rest to be generated around them.

    The canvas is denoised as one map (the U-Net is convolutional), so what grows around a map
    has no seam with it; ``offset`` (top, left) defaults to the centre. Outside the map the
    canvas holds uniform abundances, which strength 1 (pure noise there) ignores.
    """
    maps = np.asarray(maps, dtype=np.float32)
    height, width = (size, size) if isinstance(size, int) else size
    m, h, w, k = maps.shape
    top, left = offset if offset is not None else ((height - h) // 2, (width - w) // 2)
    if not (0 <= top <= height - h and 0 <= left <= width - w):
        raise ConfigError(
            f"a {h}x{w} map at offset ({top}, {left}) does not fit a {height}x{width} canvas"
        )
    canvas = np.full((m, height, width, k), 1.0 / k, dtype=np.float32)
    canvas[:, top : top + h, left : left + w] = maps
    keep = np.zeros((height, width), dtype=bool)
    keep[top : top + h, left : left + w] = True
    return Guidance(canvas, strength=1.0, keep=keep, labels=labels, resample=resample)
