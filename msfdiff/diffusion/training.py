"""Training the abundance denoiser (the paper's Algorithm 1) with accelerate, EMA and exact resume.

Run folder layout (``RUN_DIR/diffusion``)::

    config.yaml      resolved DiffusionConfig (n_endmembers, clr_scale or standard_*, classes)
    scheduler/       DDPMScheduler config: the training schedule every sampler starts from
    unet/            weights to sample with (EMA when enabled), refreshed at each checkpoint
    loss.csv         step, loss, lr, seconds
    checkpoints/step_00001000/
                     unet/ and unet_ema/ (safetensors), state.pt (optimizer, LR schedule, EMA),
                     in the one checkpoint format of :mod:`msfdiff.checkpoints`

Randomness is *derived*, not carried: every random draw of step ``s`` on process ``r`` (crop,
flip/rot90, timesteps, noise, dropout) comes from generators seeded with ``(seed, s, r)``, and the
data order of epoch ``e`` is a permutation seeded with ``(seed, e)``. The step number is thus the
complete RNG state, so resuming from a checkpoint reproduces an uninterrupted run bit for bit.
The same command runs on one CPU, one GPU or under ``accelerate launch`` on several GPUs.
"""

from __future__ import annotations

import csv
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from diffusers import DDPMScheduler, UNet2DModel
from diffusers.optimization import get_scheduler
from diffusers.training_utils import EMAModel, compute_snr

from msfdiff._io import atomic_dir, atomic_write, check_room
from msfdiff.checkpoints import (
    STATE_NAME,
    derive_seed,
    latest_checkpoint,
    save_checkpoint,
    stop_on_interrupt,
)
from msfdiff.data.abundances import AbundanceDataset
from msfdiff.diffusion.config import DiffusionConfig, load_config, save_config
from msfdiff.diffusion.pipeline import (
    SCHEDULER_DIR,
    UNET_DIR,
    AbundancePipeline,
    build_scheduler,
    build_unet,
)
from msfdiff.diffusion.simplex import estimate_clr_scale, estimate_standard
from msfdiff.errors import ConfigError, DataFormatError, DataNotFoundError, OutputExistsError
from msfdiff.processes import process_state

CHECKPOINTS_DIR = "checkpoints"
LOSS_CSV = "loss.csv"
EMA_DIR = "unet_ema"
SCALE_ROWS = 256  # rows used to estimate the log-ratio scale or the standardisation
_STREAM_STEP, _STREAM_EPOCH, _STREAM_INIT, _STREAM_SAMPLE = 0, 1, 2, 3  # streams apart


@dataclass(frozen=True)
class StepInfo:
    """What :meth:`DiffusionTrainer.steps` reports after each optimisation step."""

    step: int
    loss: float
    lr: float
    seconds: float


# ----------------------------------------------------------------------------- configuration


def resolve_config(config: DiffusionConfig, dataset: AbundanceDataset) -> DiffusionConfig:
    """Fill in what comes from the data: ``n_endmembers``, ``clr_scale`` (``logratio``) or the
    ``standard_*`` statistics (``standard``, whose ``dataset`` may be any
    :class:`~msfdiff.data.maps.MapDataset`), ``classes``."""
    where = str(dataset.folder)
    if config.n_endmembers not in (None, dataset.k):
        raise DataFormatError(f"{where}: k={dataset.k} but the config says {config.n_endmembers}")
    if min(dataset.height, dataset.width) < config.crop_size:
        raise DataFormatError(
            f"{where}: maps are {dataset.height}x{dataset.width}, smaller than the "
            f"{config.crop_size}x{config.crop_size} training crops"
        )
    changes: dict = {"n_endmembers": dataset.k}
    if config.conditional:
        unlabelled = int((dataset.class_indices < 0).sum())
        if not dataset.classes or unlabelled:
            raise DataFormatError(
                f"{where}: --conditional needs a label on every map ({unlabelled} unlabelled)"
            )
        changes["classes"] = tuple(dataset.classes)
    if config.representation == "logratio" and config.clr_scale is None:
        batches = estimation_rows(dataset)
        changes["clr_scale"] = estimate_clr_scale(batches, floor=config.clr_floor, dim=0)
    if config.representation == "standard" and config.standard_offset is None:
        codec = estimate_standard(estimation_rows(dataset), dim=0)
        changes |= {
            "standard_offset": codec.offset,
            "standard_scale": codec.scale,
            "standard_clip": codec.bound,
        }
    return config.replace(**changes)


def estimation_rows(dataset: AbundanceDataset) -> Iterator[torch.Tensor]:
    """Up to ``SCALE_ROWS`` maps (C, H, W) spread evenly over ``dataset``: what statistics of
    the data (the log-ratio scale, the standardisation) are estimated from."""
    rows = np.linspace(0, len(dataset) - 1, min(len(dataset), SCALE_ROWS)).astype(int)
    return (dataset[int(i)][0] for i in np.unique(rows))


def _mixed_precision(requested: str) -> str:
    bf16_ok = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if requested == "bf16" and not bf16_ok:
        raise ConfigError(
            "mixed_precision bf16 needs a GPU with native bf16 (17-70x slower on CPU)"
        )
    if requested == "auto":
        return "bf16" if bf16_ok else "no"
    return requested


# ----------------------------------------------------------------------------- randomness


@lru_cache(maxsize=4)
def _epoch_order(seed: int, n: int, epoch: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(derive_seed(seed, _STREAM_EPOCH, epoch))
    return torch.randperm(n, generator=generator)


# ----------------------------------------------------------------------------- trainer


class DiffusionTrainer:
    """Trains a UNet2DModel denoiser on an abundance dataset into a run folder (with the
    ``standard`` representation, on any :class:`~msfdiff.data.maps.MapDataset`).

    Build it with :meth:`start` (new run) or :meth:`resume` (continue the latest checkpoint),
    then iterate :meth:`steps` (one :class:`StepInfo` per step, for progress bars) or call
    :meth:`run`. Ctrl-C stops after the current step and saves a checkpoint
    (:attr:`interrupted` is then True).
    """

    def __init__(
        self,
        config: DiffusionConfig,
        dataset: AbundanceDataset,
        out_dir: Path,
        *,
        checkpoint: Path | None = None,
    ) -> None:
        self.config = config
        self.dataset = dataset
        self.out_dir = out_dir
        self.codec = config.codec
        self.interrupted = False
        train = config.training
        self.accelerator = Accelerator(
            cpu=not torch.cuda.is_available(),
            mixed_precision=_mixed_precision(train.mixed_precision),
        )
        self.noise_scheduler = build_scheduler(config)
        if checkpoint is None:
            torch.manual_seed(derive_seed(train.seed, _STREAM_INIT))
            model = build_unet(config)
            state = {"step": 0, "elapsed_s": 0.0}
        else:
            model = UNet2DModel.from_pretrained(checkpoint / UNET_DIR)
            state = torch.load(checkpoint / STATE_NAME, map_location="cpu", weights_only=True)
        self.step, self.elapsed = int(state["step"]), float(state["elapsed_s"])
        self._saved_step = self.step if checkpoint is not None else -1
        self.ema = None
        if train.ema_decay is not None:
            self.ema = EMAModel(
                model.parameters(),
                decay=train.ema_decay,
                use_ema_warmup=True,
                model_cls=UNet2DModel,
                model_config=model.config,
            )
            if checkpoint is not None:
                averaged = UNet2DModel.from_pretrained(checkpoint / EMA_DIR).parameters()
                self.ema.load_state_dict({**state["ema"], "shadow_params": list(averaged)})
            self.ema.to(self.accelerator.device)
        optimizer = torch.optim.Adam(model.parameters(), lr=train.learning_rate)
        # Stepped once per optimisation step on every process, so it is not given to accelerate
        # (which would step it num_processes times).
        self.lr_scheduler = get_scheduler(
            "constant_with_warmup", optimizer, num_warmup_steps=train.lr_warmup_steps
        )
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        if checkpoint is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.lr_scheduler.load_state_dict(state["lr_scheduler"])

    # -- construction -------------------------------------------------------

    @classmethod
    def start(
        cls,
        config: DiffusionConfig,
        dataset: AbundanceDataset,
        out_dir: str | os.PathLike,
        *,
        force: bool = False,
    ) -> DiffusionTrainer:
        """A new run in ``out_dir`` (refused if it exists, unless ``force`` wipes it)."""
        out_dir = Path(out_dir)
        check_room(out_dir, 0, what="the diffusion run")  # unwritable or full: fail now
        processes = process_state()  # shared with the Accelerator below
        exists = out_dir.exists()
        processes.wait_for_everyone()  # every process looks before the main one writes
        if exists and not force:
            raise OutputExistsError(
                f"{out_dir}: already exists (use --resume to continue or --force to restart)"
            )
        if exists and processes.is_main_process:
            shutil.rmtree(out_dir)
        config = resolve_config(config, dataset)
        trainer = cls(config, dataset, out_dir)
        if trainer.accelerator.is_main_process:
            out_dir.mkdir(parents=True)
            save_config(config, out_dir)
            trainer.noise_scheduler.save_pretrained(out_dir / SCHEDULER_DIR)
            _write_loss_rows(out_dir / LOSS_CSV, [])
        trainer.accelerator.wait_for_everyone()
        return trainer

    @classmethod
    def resume(
        cls,
        dataset: AbundanceDataset,
        out_dir: str | os.PathLike,
        *,
        max_steps: int | None = None,
    ) -> DiffusionTrainer:
        """Continue the run in ``out_dir`` from its latest checkpoint, optionally to max_steps."""
        out_dir = Path(out_dir)
        config = load_config(out_dir)
        if max_steps is not None:
            config = config.replace(training={"max_steps": max_steps})
        if dataset.k != config.n_endmembers:
            raise DataFormatError(
                f"{dataset.folder}: k={dataset.k}, but {out_dir} was trained with "
                f"k={config.n_endmembers}"
            )
        if config.conditional and tuple(dataset.classes) != config.classes:
            raise DataFormatError(
                f"{dataset.folder}: classes {dataset.classes} differ from the run's "
                f"{list(config.classes)}"
            )
        checkpoint = latest_checkpoint(out_dir / CHECKPOINTS_DIR)
        if checkpoint is None:
            raise DataNotFoundError(f"{out_dir}: no checkpoint to resume from")
        trainer = cls(config, dataset, out_dir, checkpoint=checkpoint)
        if trainer.accelerator.is_main_process:
            save_config(config, out_dir)
            rows = [
                row for row in _read_loss_rows(out_dir / LOSS_CSV) if int(row[0]) <= trainer.step
            ]
            _write_loss_rows(out_dir / LOSS_CSV, rows)
        trainer.accelerator.wait_for_everyone()
        return trainer

    # -- training -------------------------------------------------------------

    def run(self) -> DiffusionTrainer:
        """Train to ``config.training.max_steps`` (or until interrupted)."""
        for _ in self.steps():
            pass
        return self

    def steps(self) -> Iterator[StepInfo]:
        """Train step by step, yielding after each; checkpoints every ``checkpoint_every`` steps."""
        train = self.config.training
        started = time.perf_counter() - self.elapsed
        losses: list[float] = []
        with stop_on_interrupt() as stop, open(self.out_dir / LOSS_CSV, "a", newline="") as log:
            writer = csv.writer(log)
            while self.step < train.max_steps:
                loss = self._train_step()
                self.step += 1
                self.elapsed = time.perf_counter() - started
                losses.append(loss)
                lr = self.lr_scheduler.get_last_lr()[0]
                if self.step % train.log_every == 0 or self.step == train.max_steps:
                    if self.accelerator.is_main_process:
                        row = [
                            self.step,
                            f"{np.mean(losses):.6g}",
                            f"{lr:.6g}",
                            f"{self.elapsed:.2f}",
                        ]
                        writer.writerow(row)
                        log.flush()
                    losses.clear()
                if self.step % train.checkpoint_every == 0 or self.step == train.max_steps:
                    self.save_checkpoint()
                yield StepInfo(self.step, loss, lr, self.elapsed)
                if stop.is_set():
                    self.interrupted = True
                    if self._saved_step != self.step:
                        self.save_checkpoint()
                    return

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """This process's share of the global batch for the current step: maps (cropped and
        augmented), labels, timesteps and noise.

        Every draw of a sample comes from a generator seeded by its position in the global
        order, so ``N`` processes of ``batch_size / N`` see exactly the samples, crops,
        timesteps and noise of one process of ``batch_size``.
        """
        train, size = self.config.training, self.config.crop_size
        n, b = len(self.dataset), train.batch_size
        first = (self.step * self.accelerator.num_processes + self.accelerator.process_index) * b
        maps, labels, timesteps, noise = [], [], [], []
        for position in range(first, first + b):
            generator = torch.Generator().manual_seed(
                derive_seed(train.seed, _STREAM_SAMPLE, position)
            )
            row = int(_epoch_order(train.seed, n, position // n)[position % n])
            abundance, label = self.dataset[row]
            top = int(torch.randint(0, self.dataset.height - size + 1, (1,), generator=generator))
            left = int(torch.randint(0, self.dataset.width - size + 1, (1,), generator=generator))
            abundance = abundance[:, top : top + size, left : left + size]
            if train.augment:
                turns, flip = torch.randint(0, 4, (2,), generator=generator).tolist()
                abundance = torch.rot90(abundance, turns, dims=(1, 2))
                if flip % 2:
                    abundance = abundance.flip(2)
            maps.append(abundance)
            labels.append(label)
            timesteps.append(
                torch.randint(
                    0, self.config.schedule.num_train_timesteps, (1,), generator=generator
                )
            )
            noise.append(torch.randn(abundance.shape, generator=generator))
        return torch.stack(maps), torch.tensor(labels), torch.cat(timesteps), torch.stack(noise)

    def _train_step(self) -> float:
        train = self.config.training
        # dropout draws from the global (per-device) generator: per step and process
        torch.manual_seed(
            derive_seed(train.seed, _STREAM_STEP, self.step, self.accelerator.process_index)
        )
        abundances, labels, timesteps, noise = self._batch()
        device = self.accelerator.device
        x0 = self.codec.encode(abundances.to(device), dim=1)
        noise, timesteps = noise.to(device), timesteps.to(device)  # codecs keep the shape
        noisy = self.noise_scheduler.add_noise(x0, noise, timesteps)
        class_labels = labels.to(device) if self.config.conditional else None
        self.model.train()
        predicted = self.model(noisy, timesteps, class_labels=class_labels).sample.float()
        loss = self._loss(predicted, x0, noise, timesteps)
        self.accelerator.backward(loss)
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.step(self.accelerator.unwrap_model(self.model).parameters())
        return float(self.accelerator.reduce(loss.detach(), reduction="mean"))

    def _loss(
        self, predicted: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        train, kind = self.config.training, self.config.schedule.prediction_type
        target = training_target(self.noise_scheduler, kind, x0, noise, t)
        loss_fn = F.l1_loss if train.loss == "l1" else F.mse_loss
        per_sample = loss_fn(predicted, target, reduction="none").mean(dim=(1, 2, 3))
        if train.snr_gamma is not None:
            per_sample = per_sample * min_snr_weights(
                self.noise_scheduler, kind, t, train.snr_gamma
            )
        return per_sample.mean()

    # -- checkpoints ----------------------------------------------------------

    def save_checkpoint(self) -> None:
        """Write ``checkpoints/step_N``, drop old checkpoints, refresh ``unet/``."""
        if self.accelerator.is_main_process:
            keep = self.config.training.keep_checkpoints
            save_checkpoint(
                self.out_dir / CHECKPOINTS_DIR, self.step, self._write_checkpoint, keep=keep
            )
            with atomic_dir(self.out_dir / UNET_DIR, force=True) as tmp:
                self.sampling_unet().save_pretrained(tmp)
        self.accelerator.wait_for_everyone()
        self._saved_step = self.step

    def _write_checkpoint(self, folder: Path) -> None:
        model = self.accelerator.unwrap_model(self.model)
        model.save_pretrained(folder / UNET_DIR)
        state = {
            "step": self.step,
            "elapsed_s": self.elapsed,
            "optimizer": self.optimizer.state_dict(),
            "lr_scheduler": self.lr_scheduler.state_dict(),
        }
        if self.ema is not None:
            self.sampling_unet().save_pretrained(folder / EMA_DIR)
            ema_state = self.ema.state_dict()
            state["ema"] = {k: v for k, v in ema_state.items() if k != "shadow_params"}
        torch.save(state, folder / STATE_NAME)

    def pipeline(self) -> AbundancePipeline:
        """A sampler of the weights as they stand (EMA when enabled), on this process's device:
        what a monitor draws from during training."""
        scheduler = dict(self.noise_scheduler.config)
        return AbundancePipeline(self.sampling_unet(), scheduler, self.config).to(
            self.accelerator.device
        )

    def sampling_unet(self) -> UNet2DModel:
        """The network to sample with: a copy holding the EMA weights, or the trained model."""
        model = self.accelerator.unwrap_model(self.model)
        if self.ema is None:
            return model
        copy = UNet2DModel.from_config(model.config)
        self.ema.copy_to(copy.parameters())
        return copy


def train(
    config: DiffusionConfig,
    dataset: AbundanceDataset,
    out_dir: str | os.PathLike,
    *,
    force: bool = False,
) -> DiffusionTrainer:
    """Train a new run to ``config.training.max_steps``; see :class:`DiffusionTrainer`."""
    return DiffusionTrainer.start(config, dataset, out_dir, force=force).run()


def training_target(
    scheduler: DDPMScheduler, kind: str, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """What the network learns to output at timesteps ``t``: ε, x0, or the velocity v."""
    if kind == "epsilon":
        return noise
    if kind == "sample":
        return x0
    return scheduler.get_velocity(x0, noise, t)


def min_snr_weights(
    scheduler: DDPMScheduler, kind: str, t: torch.Tensor, gamma: float
) -> torch.Tensor:
    """Min-SNR-γ weights (Hang et al. 2023): each target's loss becomes min(SNR, γ)·‖x0 error‖².

    An ε error is an x0 error times 1/√SNR, a v error times 1/√(SNR+1), hence the divisions.
    """
    snr = compute_snr(scheduler, t)
    clipped = torch.clamp(snr, max=gamma)
    if kind == "epsilon":
        return clipped / snr
    if kind == "v_prediction":
        return clipped / (snr + 1)
    return clipped


def _read_loss_rows(path: Path) -> list[list[str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.reader(f))[1:]


def _write_loss_rows(path: Path, rows: list[list[str]]) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows([["step", "loss", "lr", "seconds"], *rows])

    atomic_write(path, write)
