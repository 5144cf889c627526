"""Unmixing configuration; the named presets are ``msfdiff/presets/unmixing_*.yaml``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from msfdiff.errors import ConfigError


@dataclass(frozen=True)
class UnmixingConfig:
    """Architecture, loss and optimisation of scene-based unmixing.

    One *epoch* draws as many random ``crop_size`` crops as it takes to cover every training
    pixel once on average, so the epoch count means the same for one patch or 840 patches.
    """

    n_endmembers: int = 5
    widths: tuple[int, ...] = (32, 64, 128, 96, 48)
    blocks_per_stage: int = 1
    attention: Literal["cbam", "se"] = "cbam"
    res_scale: float = 1.0
    decoder_bias: bool = True
    # "nfindr" starts the endmembers at the purest training pixels, widened until the simplex
    # holds a ``decoder_enclose`` fraction of them (docs/unmixing.md); "mean" at jittered
    # copies of the mean spectrum.
    decoder_init: Literal["mean", "nfindr"] = "mean"
    decoder_enclose: float = 0.0
    linear_skip: bool = False
    nonneg_endmembers: bool = False
    reconstruction_loss: Literal["mae", "charbonnier"] = "mae"
    sad_weight: float = 0.1
    tv_weight: float = 1e-3
    tv_axis: Literal["wavelength", "endmember"] = "wavelength"
    # "mean-reflectance" measures MAE and TV in units of the mean training reflectance, so the
    # balance against the scale-free SAD term does not depend on how bright the data are
    # (the official code gets the same effect from min-max normalising every patch).
    loss_normalisation: Literal["none", "mean-reflectance"] = "none"
    learning_rate: float = 1e-4
    lr_milestones: tuple[float, ...] = (0.75,)
    lr_gamma: float = 0.1
    epochs: int = 40
    batch_size: int = 16
    crop_size: int = 64
    augment: bool = True
    band_selection: str = "camera:cie1931"
    input_normalisation: Literal["reflectance", "per-image-minmax"] = "reflectance"

    def __post_init__(self) -> None:
        if self.n_endmembers < 2:
            raise ConfigError(f"n_endmembers must be ≥ 2 (got {self.n_endmembers})")
        for name in ("epochs", "batch_size", "crop_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be ≥ 1 (got {getattr(self, name)})")
        if not 0.0 <= self.decoder_enclose <= 1.0:
            raise ConfigError(
                f"decoder_enclose is a fraction of pixels in [0, 1], got {self.decoder_enclose}"
            )
        if not self.widths:
            raise ConfigError("widths must list at least one encoder width")
        if any(not 0 < m < 1 for m in self.lr_milestones):
            raise ConfigError(
                f"lr_milestones are fractions of training in (0, 1), got {self.lr_milestones}"
            )
