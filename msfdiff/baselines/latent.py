"""The paper's "AE" ablation (Fig. 7, Table 4): MSF-Diff's DDPM run in the latent space of a
conventional autoencoder instead of on abundances.

MSF-Diff's unmixer encodes a cube into k abundances on the simplex and decodes them physically
(endmembers x abundances). The autoencoder here has neither constraint: a small convolutional
encoder maps the C bands (standardised per band) to k unconstrained latent channels at the
same spatial size, a convolutional decoder maps them back, and it is trained like the unmixer,
with an L1 reconstruction loss. The abundance diffusion (U-Net, schedule, trainer, samplers)
then learns the latent maps, standardised per channel (the ``standard`` representation of
:mod:`msfdiff.diffusion.simplex`), and its samples are decoded by the decoder and clipped at
>= 0. :meth:`LatentDiffusion.reconstruct` exposes the autoencoder alone, so its reconstruction
can be scored next to the unmixer's (the paper's Fig. 7). At C = 59, k = 5 and 64 hidden
channels the autoencoder has 115,008 parameters and costs ~0.02 s per training step on two CPU
cores; the U-Net is the ``cpu`` preset's k = 5 one (2,688,757).

Folder after ``fit``::

    config.json, weights.safetensors, losses.csv, checkpoints/
                    the autoencoder (:class:`~msfdiff.baselines.training.TorchGenerator`)
    diffusion/      the latent diffusion's run folder (:mod:`msfdiff.diffusion.training`)
    generator.json
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from msfdiff.baselines.cube import cube_wavelengths, standard_config
from msfdiff.baselines.training import (
    CHECKPOINTS_DIR,
    TorchGenerator,
    TrainingSettings,
    random_batch,
)
from msfdiff.checkpoints import checkpoint_step, latest_checkpoint
from msfdiff.data.maps import MapDataset
from msfdiff.diffusion.config import DEFAULT_PRESET, DiffusionConfig
from msfdiff.diffusion.generator import AbundanceDiffusion
from msfdiff.diffusion.simplex import StandardCodec, estimate_standard
from msfdiff.diffusion.training import estimation_rows
from msfdiff.errors import ConfigError
from msfdiff.progress import Log, Progress, no_log

DIFFUSION_DIR = "diffusion"
MAP_BATCH = 16
"""Maps encoded at once when ``fit`` encodes the training set and ``reconstruct`` runs."""


@dataclasses.dataclass(frozen=True)
class AutoencoderConfig(TrainingSettings):
    """The autoencoder's size and training (the diffusion's settings are a DiffusionConfig).

    ``crop_size`` trains on random crops, as the diffusion's ``cpu`` preset does; the
    autoencoder is convolutional and encodes whole maps.
    """

    latent_channels: int = 5
    hidden_channels: int = 64
    loss: Literal["l1", "l2"] = "l1"
    crop_size: int | None = 32
    max_steps: int = 2000
    batch_size: int = 8
    learning_rate: float = 1e-3
    checkpoint_every: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("latent_channels", "hidden_channels", "crop_size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if self.loss not in ("l1", "l2"):
            raise ConfigError(f"loss must be l1 or l2, got {self.loss!r}")


def _conv_net(channels_in: int, hidden: int, channels_out: int) -> nn.Sequential:
    """Two 3x3 convolutions and a 1x1 projection: a 5x5 receptive field, same map size."""
    return nn.Sequential(
        nn.Conv2d(channels_in, hidden, 3, padding=1, padding_mode="reflect"),
        nn.SiLU(),
        nn.Conv2d(hidden, hidden, 3, padding=1, padding_mode="reflect"),
        nn.SiLU(),
        nn.Conv2d(hidden, channels_out, 1),
    )


class _LatentMapDiffusion(AbundanceDiffusion):
    """The diffusion over the latent maps. It is part of a :class:`LatentDiffusion` folder and
    loaded through it, so it writes no ``generator.json`` of its own: its folder alone is not
    mistaken for a generator of abundances."""

    def initial_config(self) -> DiffusionConfig:
        return standard_config(self.preset, conditional=self.conditional, overrides=self.overrides)

    @classmethod
    def mark_folder(cls, folder: str | os.PathLike) -> Path:
        return Path(folder)


class LatentDiffusion(TorchGenerator):
    """HSI cubes drawn by MSF-Diff's denoiser in a conventional autoencoder's latent space.

    Parameters
    ----------
    preset, conditional, overrides
        The latent diffusion's settings, as :class:`AbundanceDiffusion`'s (the representation
        is ``standard``); ``overrides`` sets e.g. its ``training.max_steps``.
    latent_channels : int
        k, the channels of the latent maps (MSF-Diff's endmembers).
    autoencoder : mapping, optional
        Fields of :class:`AutoencoderConfig` to change, e.g. ``{"max_steps": 500}``.

    ``fit`` takes a :class:`~msfdiff.data.maps.MapDataset` of cubes with ``wavelengths_nm``.

    Examples
    --------
    >>> gen = LatentDiffusion(latent_channels=5).fit(cubes, "rows/ae/generator")  # doctest: +SKIP
    >>> hsi = gen.generate(4, seed=0)          # (4, 64, 64, C), >= 0
    >>> again = gen.reconstruct(held_out)      # the autoencoder alone
    """

    output_space = "hsi"
    options = ("sampler", "steps")
    fit_data = "cubes"
    Config = AutoencoderConfig

    def __init__(
        self,
        preset: str | DiffusionConfig = DEFAULT_PRESET,
        *,
        latent_channels: int = 5,
        conditional: bool = False,
        overrides: Mapping[str, Any] | None = None,
        autoencoder: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(**{"latent_channels": latent_channels, **(autoencoder or {})})
        standard_config(preset, conditional=conditional, overrides=overrides)  # fail early
        self.diffusion = _LatentMapDiffusion(preset, conditional=conditional, overrides=overrides)

    # -- the autoencoder (trained by TorchGenerator's loop) ---------------------

    def describe(self, dataset: MapDataset) -> dict[str, Any]:
        """The data facts of a TorchGenerator, the band centres and the bands' standardisation."""
        codec = estimate_standard(estimation_rows(dataset), dim=0)
        return {
            **super().describe(dataset),
            "wavelengths_nm": cube_wavelengths(dataset).tolist(),
            "standard": {
                **dataclasses.asdict(codec),
                "offset": list(codec.offset),
                "scale": list(codec.scale),
            },
        }

    def build(self, meta: Mapping[str, Any]) -> dict[str, nn.Module]:
        bands, hidden, k = (
            meta["channels"],
            self.config.hidden_channels,
            self.config.latent_channels,
        )
        return {"encoder": _conv_net(bands, hidden, k), "decoder": _conv_net(k, hidden, bands)}

    @property
    def band_codec(self) -> StandardCodec:
        """The bands' standardisation: the encoder's input and the decoder's output scale."""
        stats = self.meta["standard"]
        return StandardCodec(tuple(stats["offset"]), tuple(stats["scale"]), stats["bound"])

    def _encode(self, cubes: torch.Tensor) -> torch.Tensor:
        return self.modules["encoder"](self.band_codec.encode(cubes))

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        return self.band_codec.decode(self.modules["decoder"](latents))

    def train_step(
        self,
        dataset: MapDataset,
        optimizers: Mapping[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, float]:
        config = self.config
        cubes, _ = random_batch(dataset, config.batch_size, generator, crop=config.crop_size)
        loss_fn = F.l1_loss if config.loss == "l1" else F.mse_loss
        loss = loss_fn(self._decode(self._encode(cubes)), cubes)
        optimizers["adam"].zero_grad()
        loss.backward()
        optimizers["adam"].step()
        return {config.loss: loss.item()}

    def encode(self, cubes: np.ndarray) -> np.ndarray:
        """Cubes (n, H, W, C) -> latent maps (n, H, W, k)."""
        return _map_batches(self._encode, cubes, MAP_BATCH)

    def reconstruct(self, cubes: np.ndarray) -> np.ndarray:
        """Cubes (n, H, W, C) through the autoencoder alone, clipped at >= 0 as samples are."""
        again = _map_batches(lambda x: self._decode(self._encode(x)), cubes, MAP_BATCH)
        return np.maximum(again, 0.0)

    # -- the generator -------------------------------------------------------------

    def fit(
        self,
        dataset: MapDataset,
        out_dir: str | os.PathLike,
        *,
        resume: bool = False,
        force: bool = False,
        max_steps: int | None = None,
        progress: Progress | None = None,
        log: Log = no_log,
    ) -> Self:
        """Train the autoencoder, then the diffusion on the training maps' latents.

        ``resume`` continues either part: the autoencoder to this instance's
        ``max_steps``, the diffusion as :meth:`AbundanceDiffusion.fit` does (``max_steps``
        sets its new total); the diffusion restarts if the autoencoder trains further.
        """
        out_dir = Path(out_dir)
        cube_wavelengths(dataset)  # before any work
        checkpoint = latest_checkpoint(out_dir / CHECKPOINTS_DIR) if resume else None
        # the diffusion resumes only if the autoencoder it learned from trains no further
        kept = checkpoint is not None and checkpoint_step(checkpoint) >= self.config.max_steps
        self.diffusion.pipeline_ = None  # the autoencoder's training saves it alone
        super().fit(dataset, out_dir, resume=resume, force=force, progress=progress, log=log)
        self.wavelengths_nm = np.asarray(self.meta["wavelengths_nm"])
        log(f"encoding {len(dataset)} maps into {self.config.latent_channels} latent channels")
        latents = MapDataset(
            self.encode(dataset.array), dataset.labels, name=f"{dataset.folder} latents"
        )
        # super().fit has applied --force/--resume to out_dir; what is left in diffusion/ is
        # this run's, to resume (kept) or to replace
        self.diffusion.fit(
            latents,
            out_dir / DIFFUSION_DIR,
            resume=kept,
            force=True,
            max_steps=max_steps,
            progress=progress,
            log=log,
        )
        self.mark_folder(out_dir)
        return self

    @property
    def classes(self) -> list[str]:
        return self.diffusion.classes

    def check_request(
        self, *, class_name: str | None = None, size: int | None = None, **options: Any
    ) -> dict[str, Any]:
        return self.diffusion.check_request(class_name=class_name, size=size, **options)

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
        latents = self.diffusion.sample(
            indices, seed=seed, class_name=class_name, size=size, sampler=sampler, steps=steps
        )
        # one map at a time, so sample i is bit-identical whatever its batch
        return np.maximum(_map_batches(self._decode, latents, 1), 0.0)

    def facts(self) -> dict[str, int | None]:
        """Parameters and training steps of both parts together."""
        ae, diffusion = super().facts(), self.diffusion.facts()
        return {key: ae[key] + diffusion[key] for key in ("parameters", "training_steps")}

    def fingerprint(self) -> str:
        """The autoencoder's (config, data facts, weights) and the diffusion's fingerprints."""
        parts = f"{super().fingerprint()} {self.diffusion.fingerprint()}"
        return hashlib.sha256(parts.encode()).hexdigest()

    def _save_pretrained(self, folder: Path) -> None:
        super()._save_pretrained(folder)
        if self.diffusion.pipeline_ is not None:  # None while fit trains the autoencoder
            self.diffusion.pipeline.save_pretrained(folder / DIFFUSION_DIR)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> Self:
        generator = super().from_pretrained(folder)
        generator.diffusion = _LatentMapDiffusion.from_pretrained(Path(folder) / DIFFUSION_DIR)
        generator.wavelengths_nm = np.asarray(generator.meta["wavelengths_nm"])
        return generator


@torch.no_grad()
def _map_batches(
    function: Callable[[torch.Tensor], torch.Tensor], maps: np.ndarray, batch: int
) -> np.ndarray:
    """``function`` of (b, C, H, W) tensors over maps (n, H, W, C), ``batch`` maps at a time."""
    parts = []
    for start in range(0, len(maps), batch):
        x = torch.from_numpy(np.asarray(maps[start : start + batch], dtype=np.float32))
        parts.append(function(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy())
    return np.concatenate(parts).astype(np.float32, copy=False)
