"""Unmixing configuration; the named presets are ``msfdiff/presets/unmixing_*.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from msfdiff.config import from_dict, load_preset, to_dict
from msfdiff.errors import ConfigError

DEFAULT_PRESET = "cpu"
"""The preset of every face (``SceneUnmixer``, ``msfdiff unmix train``, the pipeline): about
100 s on 2 CPU cores; ``paper`` and ``official`` are the paper's and its code's settings."""


@dataclass(frozen=True)
class UnmixingConfig:
    """Architecture, loss and optimisation of scene-based unmixing.

    Training runs for a fixed number of optimiser ``steps`` of ``batch_size`` random
    ``crop_size`` crops, so its duration does not depend on how much data is given (one
    Chikusei patch or six CAVE scenes cost the same).
    """

    n_endmembers: int = 5
    widths: tuple[int, ...] = (32, 64, 128, 96, 48)
    blocks_per_stage: int = 1
    attention: Literal["cbam", "se"] = "cbam"
    res_scale: float = 1.0
    decoder_bias: bool = True
    # "nmf" starts the endmembers at the tightest non-negative simplex holding the training
    # pixels (N-FINDR refined by sum-to-one NMF); "nfindr" at the purest training pixels,
    # widened until the simplex holds a ``decoder_enclose`` fraction of them; "mean" at
    # jittered copies of the mean spectrum (docs/unmixing.md).
    decoder_init: Literal["mean", "nfindr", "nmf"] = "nmf"
    decoder_enclose: float = 0.0
    # With a geometric start, the encoder starts every pixel at the mean abundances the start's
    # simplex gives the training pixels (FCLS), rather than at 1/k each.
    abundance_prior: bool = True
    linear_skip: bool = False
    # Physical endmembers: the folded spectra (a pure pixel's spectrum) are projected onto
    # ≥ 0 after every step.
    nonneg_endmembers: bool = True
    # Dead-endmember re-seeding: mean abundance below which an endmember is moved to the
    # worst-reconstructed spectrum (0 disables it).
    reseed_below: float = 0.01
    # "rmse" (PSNR's error) gained 0.5–0.7 dB held-out on Chikusei and CAVE but lost SAD and the
    # demo scene's PSNR (docs/unmixing.md), so MAE, the paper's, stays the default.
    reconstruction_loss: Literal["mae", "rmse", "charbonnier"] = "mae"
    sad_weight: float = 0.1
    tv_weight: float = 1e-3
    tv_axis: Literal["wavelength", "endmember"] = "wavelength"
    # "mean-reflectance" measures MAE and TV in units of the mean training reflectance, so the
    # balance against the scale-free SAD term does not depend on how bright the data are
    # (the official code gets the same effect from min-max normalising every patch).
    loss_normalisation: Literal["none", "mean-reflectance"] = "none"
    learning_rate: float = 1e-4
    # The decoder's learning rate relative to the encoder's: a geometric start (``nmf``) is
    # already a good simplex, and a full-rate decoder drifts away from it.
    decoder_lr_scale: float = 0.3
    lr_milestones: tuple[float, ...] = (0.75,)
    lr_gamma: float = 0.1
    steps: int = 2000
    batch_size: int = 16
    crop_size: int = 64
    augment: bool = True
    band_selection: str = "camera:cie1931"
    input_normalisation: Literal["reflectance", "per-image-minmax"] = "reflectance"

    def __post_init__(self) -> None:
        if self.n_endmembers < 2:
            raise ConfigError(f"n_endmembers must be ≥ 2 (got {self.n_endmembers})")
        for name in ("steps", "batch_size", "crop_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1 (got {getattr(self, name)})")
        if not 0.0 <= self.decoder_enclose <= 1.0:
            raise ConfigError(
                f"decoder_enclose is a fraction of pixels in [0, 1], got {self.decoder_enclose}"
            )
        if not 0.0 <= self.reseed_below < 1.0 / self.n_endmembers:
            raise ConfigError(
                f"reseed_below is a mean abundance in [0, 1/n_endmembers), got {self.reseed_below}"
            )
        if self.decoder_lr_scale < 0:
            raise ConfigError(f"decoder_lr_scale must be ≥ 0, got {self.decoder_lr_scale}")
        if not self.widths:
            raise ConfigError("widths must list at least one encoder width")
        if any(not 0 < m < 1 for m in self.lr_milestones):
            raise ConfigError(
                f"lr_milestones are fractions of training in (0, 1), got {self.lr_milestones}"
            )


def unmixing_config(
    preset: str = DEFAULT_PRESET,
    overrides: Mapping[str, Any] | None = None,
    *,
    n_endmembers: int | None = None,
    config: UnmixingConfig | None = None,
    where: str = "unmixing config",
) -> UnmixingConfig:
    """The configuration a preset (or a full ``config``) gives after ``overrides``.

    Overrides set to None keep the preset's value; an unknown key raises ConfigError naming
    ``where``, so a typo fails here, before any training.
    """
    base = config or load_preset(UnmixingConfig, "unmixing", preset)
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    if n_endmembers is not None:
        changes["n_endmembers"] = n_endmembers
    return from_dict(UnmixingConfig, {**to_dict(base), **changes}, where=where)
