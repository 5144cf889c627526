"""Sampling synthetic abundance maps from a trained run: DDPM, DDIM, DPM-Solver++ and UniPC,
from pure noise or guided by real maps (variations, inpainting, collages).

A trained run folder (``RUN_DIR/diffusion``) holds ``config.yaml``, ``scheduler/`` (the DDPM
training schedule, ``scheduler_config.json``) and ``unet/`` (the weights to sample with: EMA when
enabled). Every sampler is built from that one scheduler config with ``from_config``, so they
share the training betas exactly.

Sample ``i`` is seeded with its own generator (``seed + i``), which draws its initial noise and,
for DDPM, the ancestral noise of every step; a sample therefore does not depend on the batch it
was drawn in (up to float rounding in batched convolutions, ~1e-6). A guided sample draws the
same initial noise and adds it to its source (:mod:`msfdiff.diffusion.guidance`), so strength 1
without a mask is plain sampling, bit for bit.
"""

from __future__ import annotations

import copy
import inspect
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    UNet2DModel,
    UniPCMultistepScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor

from msfdiff._io import atomic_dir
from msfdiff.diffusion.config import DiffusionConfig, load_config, save_config
from msfdiff.diffusion.guidance import diffuse, start_timestep, truncation
from msfdiff.diffusion.simplex import Codec, StandardCodec
from msfdiff.errors import ConfigError, DataFormatError, DataNotFoundError
from msfdiff.generator import Guidance, SamplingSettings
from msfdiff.processes import default_device

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


class _PlainClip:
    """The plain x0 clip of DDPM/DDIM (to +-``sample_max_value``) for the multistep solvers.

    diffusers' DPM-Solver++ and UniPC only offer Imagen's dynamic thresholding, which clips *and
    divides* x0 by a quantile; that equals plain clipping only for data in [-1, 1], not for the
    unit-variance log-ratios. Without any clip, an under-trained model's 20-step samples were
    much worse (Wasserstein distance to real abundances 0.21 vs 0.15, docs/diffusion.md).
    """

    def _threshold_sample(self, sample: torch.Tensor) -> torch.Tensor:
        bound = self.config.sample_max_value
        return sample.clamp(-bound, bound)


class ClippedDPMSolverMultistepScheduler(_PlainClip, DPMSolverMultistepScheduler):
    """DPM-Solver++ with the plain x0 clip of DDPM/DDIM."""


class ClippedUniPCMultistepScheduler(_PlainClip, UniPCMultistepScheduler):
    """UniPC (predicting x0) with the plain x0 clip of DDPM/DDIM."""


SCHEDULERS: dict[str, tuple[type[SchedulerMixin], dict]] = {
    "ddpm": (DDPMScheduler, {}),
    # 'trailing' starts at t = T-1; the default 'leading' starts at T - T/steps, never pure noise
    "ddim": (DDIMScheduler, {"timestep_spacing": "trailing"}),
    "dpmsolver++": (
        ClippedDPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 2},
    ),
    "dpmsolver++3m": (
        ClippedDPMSolverMultistepScheduler,
        {"algorithm_type": "dpmsolver++", "solver_order": 3, "timestep_spacing": "trailing"},
    ),
    "unipc": (ClippedUniPCMultistepScheduler, {"solver_order": 2, "timestep_spacing": "trailing"}),
}
"""Each sampler's scheduler class and settings (spacings measured, docs/diffusion.md)."""
SAMPLERS: tuple[str, ...] = tuple(SCHEDULERS)
DEFAULT_STEPS = {"ddim": 50, "dpmsolver++": 20, "dpmsolver++3m": 8, "unipc": 8}
"""Steps when none are asked for; ``ddpm`` takes every training timestep."""


def make_sampler(
    scheduler_config: dict, sampler: str, steps: int | None = None, *, start: int | None = None
) -> SchedulerMixin:
    """A fresh scheduler of kind ``sampler`` from the training config, with ``steps`` set.

    Every sampler clips the predicted x0 to the same ``clip_sample_range`` (:class:`_PlainClip`).
    ``start`` cuts the schedule after that timestep (a guided sample's start,
    :func:`~msfdiff.diffusion.guidance.truncation`): the sampler spreads its ``steps``
    over [0, start], at most one per timestep (DDPM: by default all of them).
    """
    if sampler not in SCHEDULERS:
        raise ConfigError(f"unknown sampler {sampler!r}; choose one of {list(SAMPLERS)}")
    overrides = truncation(scheduler_config, start) if start is not None else {}
    total = overrides.get("num_train_timesteps", int(scheduler_config["num_train_timesteps"]))
    if steps is None:
        steps = total if sampler == "ddpm" else DEFAULT_STEPS[sampler]
    if start is not None:
        steps = min(steps, total if sampler == "ddpm" else start)
    if not 1 <= steps <= total:
        raise ConfigError(f"--steps must be in 1..{total} for this model, got {steps}")
    cls, options = SCHEDULERS[sampler]
    if issubclass(cls, _PlainClip):
        clip = scheduler_config["clip_sample_range"]
        options = {**options, "thresholding": True, "sample_max_value": clip}
    scheduler = cls.from_config(scheduler_config, **options, **overrides)
    scheduler.set_timesteps(steps)
    return scheduler


# ----------------------------------------------------------------------------- the pipeline


class AbundancePipeline:
    """Draw abundance maps from a trained denoiser (with the ``standard`` representation, the
    unconstrained maps it learned instead: cubes or latents; those take no guidance).

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
        self.codec: Codec = config.codec
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
        return cls(unet, scheduler_config, config).to(device or default_device())

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

    def class_of(
        self, index: int, class_name: str | None = None, guidance: Guidance | None = None
    ) -> str | None:
        """The scene class sample ``index`` is drawn from.

        A named class for every sample; else, on a conditional model, the label of the source
        it follows (a guided sample), or the classes in turn (sample ``i`` gets
        ``classes[i % n]``), so a set of samples covers every scene type evenly and sample ``i``
        does not depend on which others are drawn.
        """
        if class_name is not None or not self.classes:
            return class_name
        label = guidance.label_of(index) if guidance is not None else None
        return label if label is not None else self.classes[index % len(self.classes)]

    def check_guidance(self, guidance: Guidance, size: int | None = None) -> tuple[int, int]:
        """Refuse sources this model cannot start from; return their map size (H, W)."""
        if isinstance(self.codec, StandardCodec):
            raise ConfigError(
                "this model diffuses unconstrained maps (standard representation), "
                "so it cannot start from abundance maps (no guidance)"
            )
        _, height, width, k = guidance.sources.shape
        if k != self.k:
            raise DataFormatError(f"the sources have {k} endmembers, the model {self.k}")
        for side in (height, width):
            self.check_size(side)
        if size is not None and (size, size) != (height, width):
            raise ConfigError(f"--size {size} differs from the sources' {height}x{width} maps")
        if self.classes:
            for label in set(guidance.labels or ()) - {None}:
                self.class_index(label)
        return height, width

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
        guidance: Guidance | None = None,
    ) -> Iterator[tuple[list[int], np.ndarray]]:
        """Yield ``(batch_indices, abundances of shape (b, H, W, k))`` batch by batch.

        Sample ``i`` uses ``torch.Generator().manual_seed(seed + i)``, so any subset of indices
        (e.g. the ones missing after an interruption) reproduces the same maps. With
        ``guidance``, sample ``i`` starts from source ``i % len(sources)`` (its size).
        """
        if batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
        self.class_index(class_name)  # validate before any work
        make_sampler(self.scheduler_config, sampler, steps)
        if guidance is None:
            shape = (self.check_size(size),) * 2
        else:
            shape = self.check_guidance(guidance, size)
        indices = list(indices)
        for start in range(0, len(indices), batch_size):
            batch = indices[start : start + batch_size]
            labels = [self.class_index(self.class_of(i, class_name, guidance)) for i in batch]
            yield batch, self._sample_batch(batch, sampler, steps, seed, labels, shape, guidance)

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
        shape: tuple[int, int],
        guidance: Guidance | None,
    ) -> np.ndarray:
        rows = None if guidance is None else [guidance.source_of(i) for i in batch]
        if guidance is not None and guidance.strength == 0:
            return guidance.sources[rows].copy()
        generators = [torch.Generator("cpu").manual_seed(seed + i) for i in batch]
        noise = randn_tensor(
            (len(batch), self.k, *shape),
            generator=generators,
            device=self.device,
            dtype=torch.float32,
        )
        label_tensor = None if labels[0] is None else torch.tensor(labels, device=self.device)
        if guidance is None:
            scheduler = make_sampler(self.scheduler_config, sampler, steps)
            x = noise * scheduler.init_noise_sigma
            return self._decode(self._denoise_from(scheduler, x, label_tensor, generators))
        sources = torch.from_numpy(guidance.sources[rows]).permute(0, 3, 1, 2).to(self.device)
        x0 = self.codec.encode(sources, dim=1)
        if guidance.strength == 1:
            scheduler = make_sampler(self.scheduler_config, sampler, steps)
            x = noise * scheduler.init_noise_sigma
        else:
            alphas_cumprod = DDPMScheduler.from_config(self.scheduler_config).alphas_cumprod
            start = start_timestep(alphas_cumprod, guidance.strength)
            scheduler = make_sampler(self.scheduler_config, sampler, steps, start=start)
            x = scheduler.add_noise(x0, noise, scheduler.timesteps[:1])
        if guidance.keep is None:
            return self._decode(self._denoise_from(scheduler, x, label_tensor, generators))
        keep = guidance.keep[rows]
        known = _Known(scheduler, x0, noise, torch.from_numpy(keep)[:, None].to(self.device))
        x = self._denoise_from(scheduler, x, label_tensor, generators, known, guidance.resample)
        maps = self._decode(known.merge(x, len(scheduler.timesteps)))
        # the kept pixels exactly as given, not as decode(encode(.)) rounds them
        return np.where(keep[..., None], guidance.sources[rows], maps)

    def _denoise_from(
        self,
        scheduler: SchedulerMixin,
        x: torch.Tensor,
        labels: torch.Tensor | None,
        generators: list[torch.Generator],
        known: _Known | None = None,
        resample: int = 0,
    ) -> torch.Tensor:
        """Run ``scheduler``'s steps from ``x``; with ``known``, its pixels are put back before
        every step, and each step but the last is redone ``resample`` more times (RePaint)."""
        timesteps = scheduler.timesteps
        # the ancestral samplers draw noise (from the samples' own generators); UniPC takes none
        noisy = "generator" in inspect.signature(scheduler.step).parameters
        extra = {"generator": generators} if noisy else {}
        for j, t in enumerate(timesteps):
            for _ in range(resample if j + 1 < len(timesteps) else 0):
                state = copy.deepcopy(scheduler)  # a multistep solver's history of outputs
                x = known.merge(self._step(scheduler, x, t, labels, extra, known, j), j + 1)
                x = diffuse(x, scheduler.alphas_cumprod, int(timesteps[j + 1]), int(t), generators)
                scheduler = state
            x = self._step(scheduler, x, t, labels, extra, known, j)
        return x

    def _step(
        self,
        scheduler: SchedulerMixin,
        x: torch.Tensor,
        t: torch.Tensor,
        labels: torch.Tensor | None,
        extra: dict,
        known: _Known | None,
        j: int,
    ) -> torch.Tensor:
        if known is not None:
            x = known.merge(x, j)
        output = self._denoise(scheduler.scale_model_input(x, t), t, labels)
        return scheduler.step(output, t, x, **extra).prev_sample

    def _decode(self, x: torch.Tensor) -> np.ndarray:
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
        guidance: Guidance | None = None,
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
                guidance=guidance,
            )
        ]
        return np.concatenate(parts, axis=0)


class _Known:
    """The kept region of an inpainting: the source noised to the level of each step.

    Step ``j`` of the scheduler starts from its timestep ``j``; after the last step (``j`` =
    number of steps) the state is clean. The source is noised with the sample's own initial
    noise, as diffusers' inpainting pipelines do, so a deterministic sampler stays deterministic.
    """

    def __init__(
        self, scheduler: SchedulerMixin, x0: torch.Tensor, noise: torch.Tensor, keep: torch.Tensor
    ) -> None:
        self.scheduler, self.x0, self.noise, self.keep = scheduler, x0, noise, keep

    def merge(self, x: torch.Tensor, j: int) -> torch.Tensor:
        timesteps = self.scheduler.timesteps
        if j == len(timesteps):
            return torch.where(self.keep, self.x0, x)
        level = self.scheduler.add_noise(self.x0, self.noise, timesteps[j : j + 1])
        return torch.where(self.keep, level, x)
