"""Sampling synthetic abundance maps from a trained run: DDPM, DDIM and DPM-Solver++.

A trained run folder (``RUN_DIR/diffusion``) holds ``config.yaml``, ``scheduler/`` (the DDPM
training schedule, ``scheduler_config.json``) and ``unet/`` (the weights to sample with: EMA when
enabled). Every sampler is built from that one scheduler config with ``from_config``, so they
share the training betas exactly.

Sample ``i`` is seeded with its own generator (``seed + i``), which draws its initial noise and,
for DDPM, the ancestral noise of every step; a sample therefore does not depend on the batch it
was drawn in (up to float rounding in batched convolutions, ~1e-6).
"""

from __future__ import annotations

import os
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, UNet2DModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor

from msfdiff._io import atomic_dir
from msfdiff.diffusion.config import DiffusionConfig, load_config, save_config
from msfdiff.diffusion.simplex import SimplexCodec
from msfdiff.errors import ConfigError, DataNotFoundError
from msfdiff.generator import Sampler, SamplingSettings

SAMPLERS: tuple[str, ...] = typing.get_args(Sampler)
DEFAULT_STEPS = {"ddim": 50, "dpmsolver++": 20}  # ddpm defaults to the full training T
UNET_DIR = "unet"
SCHEDULER_DIR = "scheduler"


# ----------------------------------------------------------------------------- building blocks


def build_unet(config: DiffusionConfig) -> UNet2DModel:
    """The denoiser for ``config`` (``n_endmembers`` must be resolved): k channels in and out."""
    if config.n_endmembers is None:
        raise ConfigError("diffusion config: n_endmembers is not set (it comes from the data)")
    net = config.unet
    sizes = [config.image_size // 2**level for level in range(len(net.block_out_channels))]
    down = tuple(
        "AttnDownBlock2D" if s in net.attention_resolutions else "DownBlock2D" for s in sizes
    )
    up = tuple(
        "AttnUpBlock2D" if s in net.attention_resolutions else "UpBlock2D" for s in reversed(sizes)
    )
    return UNet2DModel(
        sample_size=config.image_size,
        in_channels=config.n_endmembers,
        out_channels=config.n_endmembers,
        block_out_channels=net.block_out_channels,
        layers_per_block=net.layers_per_block,
        down_block_types=down,
        up_block_types=up,
        dropout=net.dropout,
        attention_head_dim=net.attention_head_dim,
        norm_num_groups=net.norm_num_groups,
        num_class_embeds=len(config.classes) if config.conditional else None,
    )


def build_scheduler(config: DiffusionConfig) -> DDPMScheduler:
    """The training schedule; its x0 clip is the representation's exact bound on real data."""
    schedule = config.schedule
    return DDPMScheduler(
        num_train_timesteps=schedule.num_train_timesteps,
        beta_start=schedule.beta_start,
        beta_end=schedule.beta_end,
        beta_schedule=schedule.beta_schedule,
        prediction_type=schedule.prediction_type,
        clip_sample=True,
        clip_sample_range=config.codec.clip_range(config.n_endmembers),
    )


def make_sampler(scheduler_config: dict, sampler: str, steps: int | None = None) -> SchedulerMixin:
    """A fresh scheduler of kind ``sampler`` from the training config, with ``steps`` set.

    DDIM uses ``timestep_spacing='trailing'`` so its first step is at t = T-1 (the default
    'leading' spacing starts at T - T/steps and never sees pure noise). All three clip the
    predicted x0 to the same ``clip_sample_range`` (see :class:`ClippedDPMSolverMultistepScheduler`).
    """
    if sampler not in SAMPLERS:
        raise ConfigError(f"unknown sampler {sampler!r}; choose one of {list(SAMPLERS)}")
    total = int(scheduler_config["num_train_timesteps"])
    if steps is None:
        steps = total if sampler == "ddpm" else DEFAULT_STEPS[sampler]
    if not 1 <= steps <= total:
        raise ConfigError(f"--steps must be in 1..{total} for this model, got {steps}")
    if sampler == "ddpm":
        scheduler = DDPMScheduler.from_config(scheduler_config)
    elif sampler == "ddim":
        scheduler = DDIMScheduler.from_config(scheduler_config, timestep_spacing="trailing")
    else:
        scheduler = ClippedDPMSolverMultistepScheduler.from_config(
            scheduler_config,
            algorithm_type="dpmsolver++",
            solver_order=2,
            thresholding=True,
            sample_max_value=scheduler_config["clip_sample_range"],
        )
    scheduler.set_timesteps(steps)
    return scheduler


class ClippedDPMSolverMultistepScheduler(DPMSolverMultistepScheduler):
    """DPM-Solver++ with the plain x0 clip of DDPM/DDIM (to +-``sample_max_value``).

    diffusers' DPM-Solver++ only offers Imagen's dynamic thresholding, which clips *and divides*
    x0 by a quantile; that equals plain clipping only for data in [-1, 1], not for the unit-
    variance log-ratios. Without any clip, an under-trained model's 20-step samples were much
    worse (Wasserstein distance to real abundances 0.21 vs 0.15, docs/diffusion.md).
    """

    def _threshold_sample(self, sample: torch.Tensor) -> torch.Tensor:
        bound = self.config.sample_max_value
        return sample.clamp(-bound, bound)


# ----------------------------------------------------------------------------- the pipeline


class AbundancePipeline:
    """Draw abundance maps from a trained denoiser.

    Parameters
    ----------
    unet : UNet2DModel
        The denoiser (k input/output channels).
    scheduler_config : dict
        The DDPM training schedule (``DDPMScheduler.config``); samplers are built from it.
    config : DiffusionConfig
        The resolved config of the run: its codec maps diffused values back to abundances,
        its ``classes`` are a class-conditional model's scene classes in embedding order.
    batch_invariant : bool
        Run the denoiser one sample at a time, so sample ``i`` is bit-identical whatever the
        batch size (batched convolutions round differently). On a CPU this costs little;
        on a GPU, set it to False for throughput.

    Examples
    --------
    >>> pipe = AbundancePipeline.from_pretrained("run/diffusion")  # doctest: +SKIP
    >>> maps = pipe(4, sampler="dpmsolver++", steps=20, seed=0)   # (4, H, W, k), rows sum to 1
    """

    def __init__(
        self,
        unet: UNet2DModel,
        scheduler_config: dict,
        config: DiffusionConfig,
        *,
        batch_invariant: bool = True,
    ) -> None:
        self.unet = unet.eval()
        self.batch_invariant = batch_invariant
        self.scheduler_config = dict(scheduler_config)
        self.config = config
        self.codec: SimplexCodec = config.codec
        self.classes = list(config.classes)

    @classmethod
    def from_pretrained(
        cls, folder: str | os.PathLike, *, device: str | torch.device | None = None
    ) -> AbundancePipeline:
        """Load a run folder (``RUN_DIR/diffusion``); on the GPU if there is one, or ``device``."""
        folder = Path(folder)
        if not (folder / UNET_DIR).is_dir():
            raise DataNotFoundError(
                f"{folder}: no trained diffusion model ({UNET_DIR}/ missing); "
                "run `msfdiff diffusion train` first"
            )
        config = load_config(folder)
        unet = UNet2DModel.from_pretrained(folder / UNET_DIR)
        scheduler_config = DDPMScheduler.load_config(folder / SCHEDULER_DIR)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        return cls(unet, scheduler_config, config).to(device)

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write what :meth:`from_pretrained` reads: ``config.yaml``, ``scheduler/``, ``unet/``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_config(self.config, folder)
        DDPMScheduler.from_config(self.scheduler_config).save_pretrained(folder / SCHEDULER_DIR)
        with atomic_dir(folder / UNET_DIR, force=True) as tmp:
            self.unet.save_pretrained(tmp)
        return folder

    def to(self, device: str | torch.device) -> AbundancePipeline:
        self.unet.to(device)
        return self

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @property
    def k(self) -> int:
        return int(self.unet.config.in_channels)

    @property
    def image_size(self) -> int:
        """The map size sampled by default, the config's ``image_size`` (crops may be smaller)."""
        return int(self.unet.config.sample_size)

    def check_size(self, size: int | None) -> int:
        """The map size to sample: ``image_size``, or any size the U-Net can halve to its
        deepest level. The denoiser is convolutional (attention has no positions), so a model
        trained on 32² crops draws 64² or 128² maps; the statistics it learned are local, and
        nothing ties regions farther apart than the training crops."""
        if size is None:
            return self.image_size
        factor = 2 ** (len(self.unet.config.block_out_channels) - 1)
        if size < factor or size % factor:
            raise ConfigError(
                f"map size {size} must be a positive multiple of {factor} for this U-Net"
            )
        return size

    def class_index(self, class_name: str | None) -> int | None:
        """Embedding index of ``class_name``; checks it matches how the model was trained.

        ``None`` on a class-conditional model means "every class in turn" (see
        :meth:`class_of`), so it returns None there too.
        """
        if not self.classes:
            if class_name is not None:
                raise ConfigError(
                    f"class {class_name!r} requested, but the model was trained without "
                    "--conditional"
                )
            return None
        if class_name is None:
            return None
        if class_name not in self.classes:
            raise ConfigError(f"unknown class {class_name!r}; choose one of {self.classes}")
        return self.classes.index(class_name)

    def class_of(self, index: int, class_name: str | None = None) -> str | None:
        """The scene class sample ``index`` is drawn from.

        A named class for every sample, or, on a conditional model asked for no class, the
        classes in turn (sample ``i`` gets ``classes[i % n]``), so a set of samples covers every
        scene type evenly and sample ``i`` does not depend on which others are drawn.
        """
        if class_name is not None or not self.classes:
            return class_name
        return self.classes[index % len(self.classes)]

    def generate(
        self,
        indices: Sequence[int],
        *,
        sampler: str = SamplingSettings.sampler,
        steps: int | None = SamplingSettings.steps,
        seed: int = SamplingSettings.seed,
        batch_size: int = SamplingSettings.batch_size,
        class_name: str | None = None,
        size: int | None = None,
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        """Yield ``(batch_indices, abundances of shape (b, H, W, k))`` batch by batch.

        Sample ``i`` uses ``torch.Generator().manual_seed(seed + i)``, so any subset of indices
        (e.g. the ones missing after an interruption) reproduces the same maps.
        """
        if batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
        self.class_index(class_name)  # validate before any work
        make_sampler(self.scheduler_config, sampler, steps)
        size = self.check_size(size)
        indices = list(indices)
        for start in range(0, len(indices), batch_size):
            batch = indices[start : start + batch_size]
            labels = [self.class_index(self.class_of(i, class_name)) for i in batch]
            yield batch, self._sample_batch(batch, sampler, steps, seed, labels, size)

    def _denoise(
        self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None
    ) -> torch.Tensor:
        if not self.batch_invariant:
            return self.unet(x, t, class_labels=labels).sample
        rows = [
            self.unet(
                x[i : i + 1], t, class_labels=None if labels is None else labels[i : i + 1]
            ).sample
            for i in range(x.shape[0])
        ]
        return torch.cat(rows)

    @torch.inference_mode()
    def _sample_batch(
        self,
        batch: list[int],
        sampler: str,
        steps: int | None,
        seed: int,
        labels: list[int | None],
        size: int,
    ) -> np.ndarray:
        scheduler = make_sampler(self.scheduler_config, sampler, steps)
        generators = [torch.Generator("cpu").manual_seed(seed + i) for i in batch]
        shape = (len(batch), self.k, size, size)
        x = randn_tensor(shape, generator=generators, device=self.device, dtype=torch.float32)
        x = x * scheduler.init_noise_sigma
        label_tensor = None if labels[0] is None else torch.tensor(labels, device=self.device)
        for t in scheduler.timesteps:
            output = self._denoise(scheduler.scale_model_input(x, t), t, label_tensor)
            x = scheduler.step(output, t, x, generator=generators).prev_sample
        abundances = self.codec.decode(x.float(), dim=1)
        return abundances.permute(0, 2, 3, 1).cpu().numpy()

    def __call__(
        self,
        num_samples: int,
        *,
        sampler: str = SamplingSettings.sampler,
        steps: int | None = SamplingSettings.steps,
        seed: int = SamplingSettings.seed,
        batch_size: int = SamplingSettings.batch_size,
        class_name: str | None = None,
        size: int | None = None,
    ) -> np.ndarray:
        """Samples ``0 .. num_samples-1`` as one array of shape (num_samples, H, W, k)."""
        parts = [
            maps
            for _, maps in self.generate(
                range(num_samples),
                sampler=sampler,
                steps=steps,
                seed=seed,
                batch_size=batch_size,
                class_name=class_name,
                size=size,
            )
        ]
        return np.concatenate(parts, axis=0)
