"""The paper's "HSI space" ablation (Table 4): MSF-Diff's DDPM run on the HSI cubes themselves
instead of on their abundances.

Everything but the data is the abundance diffusion's (:class:`AbundanceDiffusion`): U-Net,
noise schedule, trainer, samplers, folder, exact resume. The cubes (n, H, W, C) are
standardised per band (the ``standard`` representation of :mod:`msfdiff.diffusion.simplex`),
so the network differs from MSF-Diff's only in its first and last convolutions, C channels
instead of k: with the ``cpu`` preset, 2,704,363 parameters at C = 59 against 2,688,757 at
k = 5, and ~0.057 s per training step (32x32 crops, batch 8, two CPU cores) against 0.052.
Samples are decoded and clipped at >= 0, the one constraint a cube has. Folder: the
diffusion run folder plus ``wavelengths.json``, the band centres of the cubes it draws.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from msfdiff._io import write_json
from msfdiff.data.maps import MapDataset
from msfdiff.diffusion.config import DiffusionConfig, diffusion_config
from msfdiff.diffusion.generator import AbundanceDiffusion
from msfdiff.diffusion.training import DiffusionTrainer
from msfdiff.errors import ConfigError, DataFormatError, DataNotFoundError
from msfdiff.progress import Log

WAVELENGTHS_NAME = "wavelengths.json"


def standard_config(
    preset: str | DiffusionConfig,
    *,
    conditional: bool = False,
    overrides: Mapping[str, Any] | None = None,
) -> DiffusionConfig:
    """``preset`` with ``overrides``, diffusing unconstrained values (the ``standard``
    representation, which ``overrides`` may not change)."""
    changes = {"representation": "standard", **(overrides or {})}
    config = diffusion_config(preset, conditional=conditional, overrides=changes)
    if config.representation != "standard":
        raise ConfigError(
            f"diffusion.overrides.representation: cubes and latents are diffused in the "
            f"standard representation, not {config.representation!r}"
        )
    return config


def cube_wavelengths(dataset: MapDataset) -> np.ndarray:
    """The band centres (C,) of a data set of cubes: one finite value per band."""
    if dataset.wavelengths_nm is None:
        raise DataFormatError(f"{dataset.folder}: cubes need wavelengths_nm, one per band")
    wavelengths = np.asarray(dataset.wavelengths_nm, dtype=np.float64)
    if wavelengths.shape != (dataset.k,) or not np.isfinite(wavelengths).all():
        raise DataFormatError(
            f"{dataset.folder}: wavelengths_nm must be {dataset.k} finite values (one per "
            f"band), got shape {wavelengths.shape}"
        )
    return wavelengths


def write_wavelengths(folder: Path, wavelengths: np.ndarray) -> None:
    write_json(folder / WAVELENGTHS_NAME, {"wavelengths_nm": wavelengths.tolist()})


def read_wavelengths(folder: Path) -> np.ndarray:
    """The band centres saved by :func:`write_wavelengths` (JSON: no pickle)."""
    path = folder / WAVELENGTHS_NAME
    if not path.is_file():
        raise DataNotFoundError(f"{path}: missing; not a cube generator folder")
    try:
        wavelengths = np.asarray(json.loads(path.read_text())["wavelengths_nm"], dtype=np.float64)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        raise DataFormatError(f"{path}: not a list of wavelengths_nm") from None
    if wavelengths.ndim != 1 or not np.isfinite(wavelengths).all():
        raise DataFormatError(f"{path}: wavelengths_nm must be a list of finite numbers")
    return wavelengths


class CubeDiffusion(AbundanceDiffusion):
    """HSI cubes drawn by MSF-Diff's denoiser trained on the cubes instead of abundances.

    ``fit`` takes a :class:`~msfdiff.data.maps.MapDataset` of cubes with ``wavelengths_nm``;
    the parameters are :class:`AbundanceDiffusion`'s (the representation is ``standard``).
    Unlike MSF-Diff it cannot start from real maps (no guidance).

    Examples
    --------
    >>> gen = CubeDiffusion("cpu").fit(cubes, "rows/cube/generator")  # doctest: +SKIP
    >>> hsi = gen.generate(4, seed=0)   # (4, 64, 64, C), >= 0; gen.wavelengths_nm (C,)
    """

    output_space = "hsi"
    options = ("sampler", "steps")
    guided = False
    fit_data = "cubes"

    def initial_config(self) -> DiffusionConfig:
        """The config a new run starts from: the preset, in the ``standard`` representation."""
        return standard_config(self.preset, conditional=self.conditional, overrides=self.overrides)

    def _trainer(
        self,
        dataset: MapDataset,
        out_dir: Path,
        resume: bool,
        force: bool,
        max_steps: int | None,
        log: Log,
    ) -> DiffusionTrainer:
        """The abundance diffusion's trainer; the cubes' wavelengths go beside its config."""
        wavelengths = cube_wavelengths(dataset)
        saved = out_dir / WAVELENGTHS_NAME
        if (
            resume
            and saved.is_file()
            and not np.array_equal(read_wavelengths(out_dir), wavelengths)
        ):
            raise DataFormatError(
                f"{dataset.folder}: wavelengths differ from those {out_dir} was trained on"
            )
        trainer = super()._trainer(dataset, out_dir, resume, force, max_steps, log)
        if trainer.accelerator.is_main_process:
            write_wavelengths(out_dir, wavelengths)
        self.wavelengths_nm = wavelengths
        return trainer

    def sample(
        self,
        indices: Sequence[int],
        *,
        seed: int,
        class_name: str | None,
        size: int | None,
        sampler: str,
        steps: int | None,
    ) -> np.ndarray:
        cubes = super().sample(
            indices, seed=seed, class_name=class_name, size=size, sampler=sampler, steps=steps
        )
        return np.maximum(cubes, 0.0)

    def fingerprint(self) -> str:
        """The diffusion's fingerprint and the band centres."""
        digest = hashlib.sha256(super().fingerprint().encode())
        digest.update(np.asarray(self.wavelengths_nm, dtype=np.float64).tobytes())
        return digest.hexdigest()

    def _save_pretrained(self, folder: Path) -> None:
        super()._save_pretrained(folder)
        write_wavelengths(folder, self.wavelengths_nm)

    @classmethod
    def from_pretrained(
        cls, folder: str | os.PathLike, *, device: str | torch.device | None = None
    ) -> CubeDiffusion:
        """Load a folder written by ``fit`` or ``save_pretrained``; on the GPU if there is one."""
        generator = super().from_pretrained(folder, device=device)
        generator.wavelengths_nm = read_wavelengths(Path(folder))
        return generator
