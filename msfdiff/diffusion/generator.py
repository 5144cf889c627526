"""MSF-Diff's generator: a DDPM over abundance maps (paper Section 4.2) behind the
:class:`~msfdiff.generator.Generator` interface.

It joins the three parts of this package: :mod:`~msfdiff.diffusion.config` (what to train),
:class:`~msfdiff.diffusion.training.DiffusionTrainer` (how) and
:class:`~msfdiff.diffusion.pipeline.AbundancePipeline` (sampling). Its folder is the trainer's
run folder (``RUN/diffusion``) plus ``generator.json``; any folder the trainer wrote loads with
:meth:`AbundanceDiffusion.from_pretrained`.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from msfdiff.checkpoints import checkpoint_step, latest_checkpoint
from msfdiff.config import to_dict
from msfdiff.data.abundances import AbundanceDataset
from msfdiff.diffusion.config import (
    CONFIG_NAME,
    DEFAULT_PRESET,
    DiffusionConfig,
    diffusion_config,
    load_config,
)
from msfdiff.diffusion.pipeline import AbundancePipeline, make_sampler
from msfdiff.diffusion.training import CHECKPOINTS_DIR, DiffusionTrainer
from msfdiff.errors import ConfigError, NotFittedError
from msfdiff.generator import Generator, Guidance, TrainingInterrupted
from msfdiff.progress import Log, Progress, no_log, no_progress


class TrainingMonitor(Protocol):
    """Called with the step and the model as it stands, every ``every`` training steps."""

    every: int

    def __call__(self, step: int, generator: AbundanceDiffusion) -> None: ...


class AbundanceDiffusion(Generator):
    """Abundance maps drawn by a U-Net denoiser with DDPM, DDIM, DPM-Solver++ or UniPC, from
    noise or from real maps (a :class:`~msfdiff.generator.Guidance`: variations, inpainting,
    collages).

    Parameters
    ----------
    preset : str or DiffusionConfig
        A packaged preset (``cpu``, ``paper``, ``official``) or a config to start from.
    conditional : bool
        Learn a class embedding from the data set's scene labels, so ``class_name`` works.
    overrides : mapping, optional
        Changes to the preset, as in a YAML file (``{"training": {"max_steps": 500}}``).

    Examples
    --------
    >>> gen = AbundanceDiffusion("cpu").fit(dataset, "run/diffusion")  # doctest: +SKIP
    >>> maps = gen.generate(4, seed=0)   # (4, 64, 64, k), UniPC with 8 steps
    >>> same = load_generator("run/diffusion").generate(4, seed=0)
    >>> like = gen.generate(8, guidance=Guidance(maps, strength=0.3))  # doctest: +SKIP
    """

    output_space = "abundances"
    options = ("sampler", "steps")
    guided = True

    def __init__(
        self,
        preset: str | DiffusionConfig = DEFAULT_PRESET,
        *,
        conditional: bool = False,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.preset = preset
        self.conditional = conditional
        self.overrides = overrides
        self.pipeline_: AbundancePipeline | None = None

    def initial_config(self) -> DiffusionConfig:
        """The config a new training run starts from (the data fill in k, scale and classes).

        The ``standard`` representation is refused: it does not keep maps on the simplex (it is
        for the baselines of :mod:`msfdiff.baselines.cube` and :mod:`~msfdiff.baselines.latent`).
        """
        config = diffusion_config(
            self.preset, conditional=self.conditional, overrides=self.overrides
        )
        if config.representation == "standard":
            raise ConfigError(
                f"{type(self).__name__}: the standard representation does not keep abundances "
                "on the simplex; use logratio (CubeDiffusion diffuses unconstrained cubes)"
            )
        return config

    # -- training -------------------------------------------------------------

    def fit(
        self,
        dataset: AbundanceDataset,
        out_dir: str | os.PathLike,
        *,
        resume: bool = False,
        force: bool = False,
        max_steps: int | None = None,
        progress: Progress | None = None,
        log: Log = no_log,
        monitor: TrainingMonitor | None = None,
    ) -> AbundanceDiffusion:
        """Train on ``dataset`` into ``out_dir`` (paper Algorithm 1); see
        :class:`~msfdiff.diffusion.training.DiffusionTrainer` for the folder and exact resume.

        ``resume`` continues the run in ``out_dir`` with the config saved there: from its
        newest checkpoint, or from step 0 if it stopped before its first one; with nothing
        there it starts afresh. ``max_steps`` sets a new total. Progress is reported per step
        with the loss. Ctrl-C stops after the current step, saves a checkpoint and raises
        :class:`~msfdiff.generator.TrainingInterrupted`. ``monitor`` (main process only) is
        handed the model as it stands every ``monitor.every`` steps, e.g. to draw samples and
        measure their structure (:class:`msfdiff.evaluation.monitor.SampleMonitor`).
        """
        out_dir = Path(out_dir)
        trainer = self._trainer(dataset, out_dir, resume, force, max_steps, log)
        if trainer.accelerator.is_main_process:
            self.mark_folder(out_dir)
        config, total = trainer.config, trainer.config.training.max_steps
        log(
            f"training {out_dir} from step {trainer.step} to {total} on "
            f"{trainer.accelerator.device} ({len(dataset)} maps, k={dataset.k}, "
            f"{config.representation} representation)"
        )
        report, last = progress or no_progress, None
        for info in trainer.steps():
            last = info
            report(info.step, total, f"loss {info.loss:.4g}")
            watched = monitor is not None and info.step % monitor.every == 0
            if watched and trainer.accelerator.is_main_process:
                snapshot = type(self)(trainer.config, conditional=trainer.config.conditional)
                snapshot.pipeline_ = trainer.pipeline()
                monitor(info.step, snapshot)
        if trainer.interrupted:
            raise TrainingInterrupted(
                f"interrupted at step {trainer.step}; checkpoint saved in {out_dir}"
            )
        loss = f", last loss {last.loss:.4g}" if last is not None else ""
        log(f"trained {out_dir} to step {trainer.step}{loss}")
        self.pipeline_ = AbundancePipeline.from_pretrained(out_dir)
        return self

    def _trainer(
        self,
        dataset: AbundanceDataset,
        out_dir: Path,
        resume: bool,
        force: bool,
        max_steps: int | None,
        log: Log,
    ) -> DiffusionTrainer:
        if resume and latest_checkpoint(out_dir / CHECKPOINTS_DIR) is not None:
            return DiffusionTrainer.resume(dataset, out_dir, max_steps=max_steps)
        if resume and (out_dir / CONFIG_NAME).is_file():
            log(f"{out_dir}: stopped before its first checkpoint; starting it again")
            config = load_config(out_dir)
        else:
            config = self.initial_config()
        if max_steps is not None:
            config = config.replace(training={"max_steps": max_steps})
        return DiffusionTrainer.start(config, dataset, out_dir, force=force or resume)

    # -- sampling -------------------------------------------------------------

    @property
    def pipeline(self) -> AbundancePipeline:
        """The sampling pipeline of the trained model."""
        if self.pipeline_ is None:
            raise NotFittedError("AbundanceDiffusion: call fit or from_pretrained first")
        return self.pipeline_

    @property
    def classes(self) -> list[str]:
        return self.pipeline.classes

    @property
    def n_channels(self) -> int:
        return self.pipeline.k

    def check_request(
        self,
        *,
        class_name: str | None = None,
        size: int | None = None,
        sampler: str,
        steps: int | None,
        guidance: Guidance | None = None,
    ) -> dict[str, Any]:
        pipe = self.pipeline
        pipe.class_index(class_name)
        scheduler = make_sampler(pipe.scheduler_config, sampler, steps)
        if guidance is None:
            size = pipe.check_size(size)
        else:
            height, width = pipe.check_guidance(guidance, size)
            size = height if height == width else [height, width]
        return {"sampler": sampler, "steps": len(scheduler.timesteps), "size": size}

    def sample(
        self,
        indices: Sequence[int],
        *,
        seed: int,
        class_name: str | None,
        size: int | None,
        sampler: str,
        steps: int | None,
        guidance: Guidance | None = None,
    ) -> np.ndarray:
        indices = list(indices)
        [(_, maps)] = self.pipeline.generate(
            indices,
            sampler=sampler,
            steps=steps,
            seed=seed,
            batch_size=len(indices),
            class_name=class_name,
            size=size,
            guidance=guidance,
        )
        return maps

    def facts(self) -> dict[str, int | None]:
        pipe = self.pipeline
        params = sum(p.numel() for p in pipe.unet.parameters())
        return {"parameters": params, "training_steps": pipe.config.training.max_steps}

    def fingerprint(self) -> str:
        """SHA-256 of the resolved config, the schedule and the sampling weights."""
        pipe = self.pipeline
        digest = hashlib.sha256()
        schedule = {k: v for k, v in pipe.scheduler_config.items() if not k.startswith("_")}
        settings = {"config": to_dict(pipe.config), "scheduler": schedule}
        digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
        for name, tensor in sorted(pipe.unet.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
        return digest.hexdigest()

    # -- folders --------------------------------------------------------------

    def _save_pretrained(self, folder: Path) -> None:
        self.pipeline.save_pretrained(folder)

    @classmethod
    def from_pretrained(
        cls, folder: str | os.PathLike, *, device: str | torch.device | None = None
    ) -> AbundanceDiffusion:
        """Load a trained run folder (``RUN/diffusion``); on the GPU if there is one.

        A run stopped before ``max_steps`` (killed, or Ctrl-C) is refused: its ``unet/`` holds
        the last checkpoint's weights, which would sample silently from a half-trained model.
        """
        pipe = AbundancePipeline.from_pretrained(folder, device=device)
        newest = latest_checkpoint(Path(folder) / CHECKPOINTS_DIR)
        total = pipe.config.training.max_steps
        if newest is not None and checkpoint_step(newest) < total:
            raise NotFittedError(
                f"{folder}: training stopped at step {checkpoint_step(newest)} of {total}; "
                "finish it with `msfdiff diffusion train --resume` (--steps N ends it at N)"
            )
        generator = cls(pipe.config, conditional=pipe.config.conditional)
        generator.pipeline_ = pipe
        return generator
