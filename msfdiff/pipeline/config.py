"""One YAML file describes a whole experiment; see ``configs/*.yaml`` for examples.

Paths may use ``${MSFDIFF_DATA}`` (the shared real-data folder: ``$MSFDIFF_DATA`` or
``../shared/data``); relative paths are taken from the working directory, like CLI paths.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from msfdiff.config import from_dict, read_yaml_mapping, to_dict
from msfdiff.diffusion.config import DEFAULT_PRESET as DIFFUSION_PRESET
from msfdiff.diffusion.config import diffusion_config
from msfdiff.errors import ConfigError
from msfdiff.generator import SamplingSettings
from msfdiff.unmixing.config import DEFAULT_PRESET as UNMIXING_PRESET
from msfdiff.unmixing.config import unmixing_config


@dataclass(frozen=True)
class DataConfig:
    """Where the real data is. ``hsi``: HSIs to learn endmembers from; ``eval_hsi``: held-out
    HSIs for the Table 3 check; ``rgb``: the external photo collection (sub-folders = classes)."""

    hsi: tuple[str, ...] = ()
    rgb: str = ""
    eval_hsi: tuple[str, ...] = ()
    wavelengths: str | None = None
    key: str | None = None
    scale: float | None = None


@dataclass(frozen=True)
class UnmixingStage:
    preset: str = UNMIXING_PRESET
    overrides: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    checkpoint_every: int = 200


@dataclass(frozen=True)
class InferenceStage:
    size: int = 64
    crop: Literal["resize", "center"] = "resize"


@dataclass(frozen=True)
class DiffusionStage:
    """``monitor_every``: draw maps and log their edge coherence every N steps (the GPU
    path's progress log, :mod:`msfdiff.evaluation.monitor`); it does not change the model."""

    preset: str = DIFFUSION_PRESET
    overrides: dict[str, Any] = field(default_factory=dict)
    conditional: bool = False
    monitor_every: int | None = None


@dataclass(frozen=True)
class SamplingStage(SamplingSettings):
    """How many samples, and how to make them (defaults: :class:`SamplingSettings`)."""

    n: int = 8

    @property
    def settings(self) -> SamplingSettings:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(SamplingSettings)}
        return SamplingSettings(**fields)


@dataclass(frozen=True)
class EvaluationStage:
    enabled: bool = True
    fid: bool = True
    quality: bool = True
    max_images: int = 64


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole MSF-Diff experiment: data → unmix → infer → diffuse → sample → evaluate → report."""

    name: str = "experiment"
    data: DataConfig = DataConfig()
    unmixing: UnmixingStage = UnmixingStage()
    inference: InferenceStage = InferenceStage()
    diffusion: DiffusionStage = DiffusionStage()
    sampling: SamplingStage = SamplingStage()
    evaluation: EvaluationStage = EvaluationStage()

    def __post_init__(self) -> None:
        if not self.data.hsi:
            raise ConfigError("data.hsi: list at least one hyperspectral file or folder")
        if not self.data.rgb:
            raise ConfigError("data.rgb: give the folder of RGB photos")
        # a typo in a preset name or an override fails here, before any stage runs
        unmixing_config(self.unmixing.preset, self.unmixing.overrides, where="unmixing")
        diffusion_config(
            self.diffusion.preset,
            conditional=self.diffusion.conditional,
            overrides=self.diffusion.overrides,
            where="diffusion",
        )


def load_experiment(path: str | Path) -> ExperimentConfig:
    """Read and validate an experiment YAML (unknown keys and bad values fail loudly)."""
    path = Path(path)
    raw = read_yaml_mapping(path)
    return from_dict(ExperimentConfig, expand_paths(raw), where=str(path))


def experiment_to_yaml(config: ExperimentConfig) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False)


_VAR = re.compile(r"\$\{(\w+)\}")


def expand_paths(raw: dict) -> dict:
    """Substitute ``${MSFDIFF_DATA}`` (and other environment variables) in ``data`` paths."""
    from msfdiff.data.shared import shared_data_dir

    def sub(text: str) -> str:
        def one(match: re.Match) -> str:
            name = match.group(1)
            if name == "MSFDIFF_DATA":
                found = shared_data_dir()
                if found is None:
                    raise ConfigError("${MSFDIFF_DATA} used but no data folder: set MSFDIFF_DATA")
                return str(found)
            if name not in os.environ:
                raise ConfigError(f"${{{name}}} used in the config but not set in the environment")
            return os.environ[name]

        return _VAR.sub(one, text)

    data = dict(raw.get("data") or {})
    for key in ("hsi", "eval_hsi"):
        if isinstance(data.get(key), list):
            data[key] = [sub(p) if isinstance(p, str) else p for p in data[key]]
        elif isinstance(data.get(key), str):
            data[key] = [sub(data[key])]
    for key in ("rgb", "wavelengths"):
        if isinstance(data.get(key), str):
            data[key] = sub(data[key])
    return {**raw, "data": data} if "data" in raw else raw
