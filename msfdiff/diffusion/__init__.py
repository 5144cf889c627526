"""Abundance-based diffusion (paper Section 4.2): learn abundance maps, sample new ones.

``config`` (presets and the run's resolved config), ``simplex`` (abundances <-> diffused values),
``training`` (accelerate + EMA + exact resume), ``pipeline`` (DDPM / DDIM / DPM-Solver++ / UniPC
sampling, from noise or guided by real maps), ``guidance`` (strength, truncated schedules,
outpainting), ``collage`` (collages of real maps), ``generator`` (``AbundanceDiffusion``: all
of it as a :class:`msfdiff.generator.Generator`). diffusers and accelerate are imported only by
``training``, ``pipeline``, ``guidance`` and ``generator``.
"""

from msfdiff.diffusion.config import (
    DiffusionConfig,
    diffusion_config,
    load_config,
    load_diffusion_preset,
)
from msfdiff.diffusion.simplex import SimplexCodec

__all__ = [
    "DiffusionConfig",
    "SimplexCodec",
    "diffusion_config",
    "load_config",
    "load_diffusion_preset",
]
