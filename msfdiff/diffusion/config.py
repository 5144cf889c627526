"""Configuration of the abundance diffusion: network, noise schedule, training, representation.

Presets live in ``msfdiff/presets/diffusion_<name>.yaml`` (``paper``, ``official``, ``cpu``). A
training run saves the *resolved* config (with ``n_endmembers``, ``clr_scale`` or the
``standard_*`` statistics, and ``classes`` filled in from the data) as ``config.yaml`` beside
its checkpoints, and everything that loads the run -- resume, sampling -- rebuilds the network
and schedule from that file alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from msfdiff.config import from_dict, load_preset, load_yaml, save_yaml, to_dict
from msfdiff.diffusion.simplex import Codec, Representation, SimplexCodec, StandardCodec

CONFIG_NAME = "config.yaml"
DEFAULT_PRESET = "cpu"
"""The preset of ``msfdiff diffusion train``, the pipeline and :class:`AbundanceDiffusion`."""
_SECTIONS = ("unet", "schedule", "training")


@dataclass(frozen=True)
class UNetConfig:
    """The denoiser: a diffusers ``UNet2DModel``; one resolution level per ``block_out_channels``.

    ``attention_resolutions`` lists the map sizes (in pixels) whose levels get self-attention;
    ``attention_head_dim=None`` means one head per attention layer (as in SR3 and the official
    code).
    """

    block_out_channels: tuple[int, ...] = (32, 64, 128)
    layers_per_block: int = 1
    attention_resolutions: tuple[int, ...] = (16,)
    attention_head_dim: int | None = None
    dropout: float = 0.0
    norm_num_groups: int = 32

    def __post_init__(self) -> None:
        if not self.block_out_channels:
            raise ValueError("unet.block_out_channels must not be empty")
        bad = [c for c in self.block_out_channels if c % self.norm_num_groups]
        if bad:
            groups = self.norm_num_groups
            raise ValueError(
                f"unet.block_out_channels {bad} not divisible by norm_num_groups={groups}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"unet.dropout must be in [0, 1), got {self.dropout}")


@dataclass(frozen=True)
class ScheduleConfig:
    """Forward-process noise schedule (the paper: linear betas 1e-6 -> 1e-2 over T = 2000)."""

    num_train_timesteps: int = 2000
    beta_start: float = 1e-6
    beta_end: float = 1e-2
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = "linear"
    # What the network predicts: the noise (DDPM, the paper), the velocity
    # sqrt(abar)*eps - sqrt(1-abar)*x0 (Salimans & Ho 2022), or x0 itself.
    prediction_type: Literal["epsilon", "v_prediction", "sample"] = "epsilon"


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation and bookkeeping.

    ``crop_size`` trains on random crops smaller than the maps the model samples
    (``image_size``): a 32² crop costs a quarter of a 64² map, so a CPU budget buys 4x the
    steps, and the convolutional U-Net still samples whole maps. Null trains on whole maps.
    ``ema_decay=None`` disables EMA weights. ``mixed_precision="auto"`` uses bf16 only on a GPU
    with native bf16 (on CPU, bf16 autocast is 17-70x slower and is refused).
    """

    loss: Literal["l2", "l1"] = "l2"
    # Min-SNR-gamma loss weighting (Hang et al. 2023); null weighs every timestep equally.
    snr_gamma: float | None = None
    learning_rate: float = 1e-4
    lr_warmup_steps: int = 0
    batch_size: int = 8
    crop_size: int | None = None
    max_steps: int = 1000
    ema_decay: float | None = 0.999
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 10
    augment: bool = True
    seed: int = 0
    mixed_precision: Literal["auto", "no", "bf16"] = "auto"

    def __post_init__(self) -> None:
        for name in (
            "batch_size",
            "max_steps",
            "checkpoint_every",
            "keep_checkpoints",
            "log_every",
        ):
            if getattr(self, name) < 1:
                raise ValueError(f"training.{name} must be >= 1, got {getattr(self, name)}")
        if self.snr_gamma is not None and self.snr_gamma <= 0:
            raise ValueError(f"training.snr_gamma must be > 0 or null, got {self.snr_gamma}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"training.ema_decay must be in (0, 1) or null, got {self.ema_decay}")


@dataclass(frozen=True)
class DiffusionConfig:
    """Everything needed to rebuild a trained abundance diffusion model.

    ``n_endmembers``, ``clr_scale`` and ``classes`` are null in presets and filled in from the
    training data when a run starts; ``conditional`` adds a class embedding for scene labels.
    ``n_endmembers`` is the number of channels diffused: k endmembers, or, with the ``standard``
    representation of the baselines, a cube's bands or a latent's channels, whose per-channel
    ``standard_offset`` / ``standard_scale`` and x0 clip ``standard_clip`` are likewise
    estimated from the data (:func:`~msfdiff.diffusion.simplex.estimate_standard`).
    """

    image_size: int = 64
    representation: Representation = "logratio"
    clr_floor: float = 1e-3
    clr_scale: float | None = None
    n_endmembers: int | None = None
    standard_offset: tuple[float, ...] | None = None
    standard_scale: tuple[float, ...] | None = None
    standard_clip: float | None = None
    conditional: bool = False
    classes: tuple[str, ...] = ()
    unet: UNetConfig = field(default_factory=UNetConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def __post_init__(self) -> None:
        levels = len(self.unet.block_out_channels)
        for name, size in (("image_size", self.image_size), ("training.crop_size", self.crop_size)):
            if size % 2 ** (levels - 1):
                raise ValueError(
                    f"{name} {size} must be divisible by 2**{levels - 1} for {levels} U-Net levels"
                )
        if self.crop_size > self.image_size:
            raise ValueError(
                f"training.crop_size {self.crop_size} is larger than image_size {self.image_size}"
            )
        if self.conditional and self.classes and len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes must be distinct, got {list(self.classes)}")
        if self.representation != "standard":
            SimplexCodec(self.representation, self.clr_floor, self.clr_scale or 1.0)
        elif any(
            value is not None
            for value in (self.standard_offset, self.standard_scale, self.standard_clip)
        ):
            channels = self.codec.channels  # all three statistics set and consistent
            if self.n_endmembers not in (None, channels):
                raise ValueError(
                    f"standard statistics for {channels} channels, n_endmembers is "
                    f"{self.n_endmembers}"
                )

    @property
    def crop_size(self) -> int:
        """The size of the maps the network sees in training."""
        return self.training.crop_size or self.image_size

    @property
    def codec(self) -> Codec:
        """The data <-> diffusion-space map this run uses."""
        if self.representation == "standard":
            stats = (self.standard_offset, self.standard_scale, self.standard_clip)
            if any(value is None for value in stats):
                raise ValueError(
                    "standard_offset, standard_scale and standard_clip are not all set: "
                    "they are estimated when training starts"
                )
            return StandardCodec(*stats)
        if self.representation == "logratio" and self.clr_scale is None:
            raise ValueError("clr_scale is not set: it is estimated when training starts")
        return SimplexCodec(self.representation, self.clr_floor, self.clr_scale or 1.0)

    def replace(self, **changes: Any) -> DiffusionConfig:
        """A copy with fields changed; ``unet``/``schedule``/``training`` take dicts of theirs.

        Values are read like a YAML file's (``"1e-4"`` becomes 1e-4, lists become tuples), so
        an unknown key or a bad value raises :class:`~msfdiff.errors.ConfigError` here.
        """
        return _with_changes(self, changes, where="diffusion config")


def load_diffusion_preset(name: str = DEFAULT_PRESET) -> DiffusionConfig:
    """Load packaged preset ``name`` (``paper``, ``official`` or ``cpu``)."""
    return load_preset(DiffusionConfig, "diffusion", name)


def diffusion_config(
    preset: str | DiffusionConfig = DEFAULT_PRESET,
    *,
    conditional: bool = False,
    overrides: Mapping[str, Any] | None = None,
    where: str = "diffusion",
) -> DiffusionConfig:
    """The config a training run starts from: a preset (or a config) with ``overrides``.

    The pipeline calls this when it loads an experiment, so a typo in ``diffusion.overrides``
    fails at once (naming ``where.overrides.<key>``), not after the stages before it ran.
    """
    config = preset if isinstance(preset, DiffusionConfig) else load_diffusion_preset(preset)
    changes = {"conditional": conditional, **(overrides or {})}
    return _with_changes(config, changes, where=f"{where}.overrides")


def _with_changes(
    config: DiffusionConfig, changes: Mapping[str, Any], where: str
) -> DiffusionConfig:
    """``config`` with ``changes`` merged in (sections field by field), read by from_dict."""
    data = to_dict(config)
    for key, value in changes.items():
        if key in _SECTIONS and isinstance(value, Mapping):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return from_dict(DiffusionConfig, data, where=where)


def save_config(config: DiffusionConfig, folder: str | Path) -> Path:
    """Write ``config`` as ``folder/config.yaml`` (atomically)."""
    path = Path(folder) / CONFIG_NAME
    save_yaml(config, path)
    return path


def load_config(folder: str | Path) -> DiffusionConfig:
    """Read ``folder/config.yaml`` written by :func:`save_config`."""
    return load_yaml(DiffusionConfig, Path(folder) / CONFIG_NAME)
