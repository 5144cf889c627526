"""What every torch baseline shares, written once: hyperparameters in a frozen dataclass,
a step loop with checkpoints, exact resume and Ctrl-C, and a folder of ``config.json`` +
``weights.safetensors``.

A baseline subclasses :class:`TorchGenerator` and writes only its own parts: the modules
(:meth:`~TorchGenerator.build`), one training step (:meth:`~TorchGenerator.train_step`) and
drawing samples (:meth:`~msfdiff.generator.Generator.sample`). Every random draw of step ``s``
comes from a generator seeded with ``(seed, s)``, so a resumed run repeats an uninterrupted
one. Folder after ``fit``::

    config.json           {"class", "config": hyperparameters, "meta": facts from the data}
    weights.safetensors   every module's weights (no pickle on the loading path)
    losses.csv            step, each loss, seconds
    checkpoints/step_N/   weights.safetensors + state.pt (optimisers), msfdiff.checkpoints
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import shutil
import time
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from msfdiff._io import write_json
from msfdiff.checkpoints import (
    STATE_NAME,
    derive_seed,
    latest_checkpoint,
    save_checkpoint,
    stop_on_interrupt,
)
from msfdiff.errors import ConfigError, DataFormatError, NotFittedError, OutputExistsError
from msfdiff.generator import Generator, TrainingInterrupted
from msfdiff.progress import Log, Progress, no_log, no_progress

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "weights.safetensors"
LOSSES_NAME = "losses.csv"
CHECKPOINTS_DIR = "checkpoints"


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """The fields every baseline's config has (subclass it and add the model's own)."""

    max_steps: int = 1000
    batch_size: int = 16
    learning_rate: float = 1e-3
    checkpoint_every: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate}")


class TorchGenerator(Generator):
    """A generator whose state is torch modules trained step by step.

    Parameters
    ----------
    config : the class's ``Config`` dataclass, optional
    **changes
        Fields of ``Config`` to change, e.g. ``GaussianVAE(max_steps=200)``.

    Fitted attributes: ``modules_`` (name → module) and ``meta_`` (JSON-able facts read from
    the training data: channel count, map size, classes, normalisation).
    """

    Config: ClassVar[type[TrainingSettings]] = TrainingSettings

    def __init__(self, config: TrainingSettings | None = None, **changes: Any) -> None:
        try:
            self.config = dataclasses.replace(config or self.Config(), **changes)
        except TypeError as exc:
            raise ConfigError(f"{type(self).__name__}: {exc}") from None
        self.modules_: dict[str, nn.Module] | None = None
        self.meta_: dict[str, Any] | None = None

    # -- what a baseline writes --------------------------------------------------

    def describe(self, dataset: Any) -> dict[str, Any]:
        """Facts from the data the modules are built from (saved as ``meta``)."""
        return {"channels": dataset.k, "size": dataset.height, "classes": list(dataset.classes)}

    @abstractmethod
    def build(self, meta: Mapping[str, Any]) -> dict[str, nn.Module]:
        """The modules, freshly initialised (the seed is set before this is called)."""

    def make_optimizers(self, modules: Mapping[str, nn.Module]) -> dict[str, torch.optim.Optimizer]:
        """Adam over every module's parameters; a GAN overrides this with one per player."""
        params = [p for m in modules.values() for p in m.parameters() if p.requires_grad]
        return {"adam": torch.optim.Adam(params, lr=self.config.learning_rate)}

    @abstractmethod
    def train_step(
        self,
        dataset: Any,
        optimizers: Mapping[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> dict[str, float]:
        """One optimisation step (batch drawn with ``generator``); returns its losses."""

    # -- the shared machinery ------------------------------------------------------

    @property
    def modules(self) -> dict[str, nn.Module]:
        if self.modules_ is None:
            raise NotFittedError(f"{type(self).__name__}: call fit or from_pretrained first")
        return self.modules_

    @property
    def meta(self) -> dict[str, Any]:
        self.modules  # noqa: B018 (raises when not fitted)
        return self.meta_

    @property
    def classes(self) -> list[str]:
        return list(self.meta.get("classes", [])) if self.conditional else []

    @property
    def conditional(self) -> bool:
        return bool(getattr(self.config, "conditional", False))

    @property
    def n_channels(self) -> int:
        return int(self.meta["channels"])

    def fit(
        self,
        dataset: Any,
        out_dir: str | os.PathLike,
        *,
        resume: bool = False,
        force: bool = False,
        progress: Progress | None = None,
        log: Log = no_log,
    ) -> Self:
        out_dir = Path(out_dir)
        checkpoint = latest_checkpoint(out_dir / CHECKPOINTS_DIR) if resume else None
        if checkpoint is None:
            fresh_folder(out_dir, force=force or resume)
            self.meta_ = self.describe(dataset)
            write_json(out_dir / CONFIG_NAME, self._spec())
        else:  # the saved hyperparameters, trained on to this config's max_steps
            max_steps = self.config.max_steps
            self._read_spec(out_dir)
            self.config = dataclasses.replace(self.config, max_steps=max_steps)
            if self.describe(dataset) != self.meta_:
                raise DataFormatError(
                    f"{out_dir}: was trained on different data ({self.meta_}); "
                    "train afresh with --force"
                )
        torch.manual_seed(derive_seed(self.config.seed, _STREAM_INIT))
        self.modules_ = self.build(self.meta_)
        optimizers = self.make_optimizers(self.modules_)
        step, elapsed = 0, 0.0
        if checkpoint is not None:
            step, elapsed = self._load_checkpoint(checkpoint, optimizers)
            log(f"{out_dir}: resuming at step {step}")
        _keep_loss_rows(out_dir / LOSSES_NAME, step)
        step = self._train(dataset, out_dir, optimizers, step, elapsed, progress, log)
        self.mark_folder(out_dir)
        if step < self.config.max_steps:
            raise TrainingInterrupted(f"interrupted at step {step}; checkpoint saved in {out_dir}")
        return self

    def _train(
        self,
        dataset: Any,
        out_dir: Path,
        optimizers: Mapping[str, torch.optim.Optimizer],
        step: int,
        elapsed: float,
        progress: Progress | None,
        log: Log,
    ) -> int:
        total, report = self.config.max_steps, progress or no_progress
        name = type(self).__name__
        log(f"training {name} into {out_dir} from step {step} to {total} ({len(dataset)} maps)")
        started = time.perf_counter() - elapsed
        for module in self.modules.values():
            module.train()
        with stop_on_interrupt() as stop, open(out_dir / LOSSES_NAME, "a", newline="") as file:
            writer = csv.writer(file)
            while step < total:
                seed = derive_seed(self.config.seed, _STREAM_STEP, step)
                torch.manual_seed(seed)  # dropout and in-module draws
                losses = self.train_step(dataset, optimizers, torch.Generator().manual_seed(seed))
                step += 1
                elapsed = time.perf_counter() - started
                if not all(np.isfinite(v) for v in losses.values()):
                    raise DataFormatError(f"{name}: loss became {losses} at step {step}")
                writer.writerow([step, *(f"{v:.6g}" for v in losses.values()), f"{elapsed:.2f}"])
                report(step, total, ", ".join(f"{k} {v:.4g}" for k, v in losses.items()))
                done = step == total
                if done or step % self.config.checkpoint_every == 0 or stop.is_set():
                    file.flush()
                    self._save_checkpoint(out_dir, step, elapsed, optimizers)
                if stop.is_set():
                    break
        for module in self.modules.values():
            module.eval()
        self._save_pretrained(out_dir)
        log(f"trained {name} to step {step} in {elapsed:.0f} s")
        return step

    def _save_checkpoint(
        self, out_dir: Path, step: int, elapsed: float, optimizers: Mapping[str, Any]
    ) -> None:
        def write(folder: Path) -> None:
            self._write_weights(folder / WEIGHTS_NAME)
            state = {
                "step": step,
                "elapsed_s": elapsed,
                "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
            }
            torch.save(state, folder / STATE_NAME)

        save_checkpoint(out_dir / CHECKPOINTS_DIR, step, write, keep=2)

    def _load_checkpoint(
        self, checkpoint: Path, optimizers: Mapping[str, torch.optim.Optimizer]
    ) -> tuple[int, float]:
        self._read_weights(checkpoint / WEIGHTS_NAME)
        state = torch.load(checkpoint / STATE_NAME, map_location="cpu", weights_only=True)
        for name, optimizer in optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        return int(state["step"]), float(state["elapsed_s"])

    def _write_weights(self, path: Path) -> None:
        tensors = {
            f"{name}.{key}": value.detach().cpu().contiguous()
            for name, module in self.modules.items()
            for key, value in module.state_dict().items()
        }
        save_file(tensors, str(path))

    def _read_weights(self, path: Path) -> None:
        tensors = load_file(str(path))
        for name, module in self.modules.items():
            prefix = f"{name}."
            state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            module.load_state_dict(state)

    def _spec(self) -> dict[str, Any]:
        return {
            "class": f"{type(self).__module__}:{type(self).__name__}",
            "config": dataclasses.asdict(self.config),
            "meta": self.meta_,
        }

    def _read_spec(self, folder: Path) -> None:
        path = folder / CONFIG_NAME
        try:
            spec = json.loads(path.read_text())
            self.config = self.Config(**spec["config"])
            self.meta_ = dict(spec["meta"])
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataFormatError(f"{path}: not a {type(self).__name__} config ({exc})") from None

    def _save_pretrained(self, folder: Path) -> None:
        write_json(folder / CONFIG_NAME, self._spec())
        self._write_weights(folder / WEIGHTS_NAME)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> Self:
        folder = Path(folder)
        generator = cls()
        generator._read_spec(folder)
        generator.modules_ = generator.build(generator.meta_)
        generator._read_weights(folder / WEIGHTS_NAME)
        for module in generator.modules_.values():
            module.eval()
        return generator

    def facts(self) -> dict[str, int | None]:
        params = sum(p.numel() for m in self.modules.values() for p in m.parameters())
        return {"parameters": params, "training_steps": self.config.max_steps}

    def fingerprint(self) -> str:
        """SHA-256 of the config, the data facts and every weight."""
        digest = hashlib.sha256(json.dumps(self._spec(), sort_keys=True).encode())
        for name, module in sorted(self.modules.items()):
            for key, value in sorted(module.state_dict().items()):
                digest.update(f"{name}.{key}".encode())
                digest.update(
                    value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
                )
        return digest.hexdigest()

    def sample_generators(self, indices: Sequence[int], seed: int) -> list[torch.Generator]:
        """One generator per sample, seeded by ``(seed, i)``: sample i never depends on its batch."""
        return [
            torch.Generator().manual_seed(derive_seed(seed, _STREAM_SAMPLE, i)) for i in indices
        ]


_STREAM_INIT, _STREAM_STEP, _STREAM_SAMPLE = 0, 1, 2


def random_batch(
    dataset: Any,
    batch_size: int,
    generator: torch.Generator,
    *,
    crop: int | None = None,
    augment: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random items of ``dataset`` (rows drawn with replacement), optionally a
    random ``crop``² window of each, rotated/flipped when ``augment``: (B, C, h, w), labels."""
    rows = torch.randint(0, len(dataset), (batch_size,), generator=generator).tolist()
    maps, labels = [], []
    for row in rows:
        x, label = dataset[row]
        if crop is not None and crop < x.shape[-1]:
            top, left = torch.randint(0, x.shape[-1] - crop + 1, (2,), generator=generator).tolist()
            x = x[:, top : top + crop, left : left + crop]
        if augment:
            turns, flip = torch.randint(0, 4, (2,), generator=generator).tolist()
            x = torch.rot90(x, turns, dims=(1, 2))
            x = x.flip(2) if flip % 2 else x
        maps.append(x)
        labels.append(label)
    return torch.stack(maps), torch.tensor(labels)


def sample_noise(generators: Sequence[torch.Generator], shape: Sequence[int]) -> torch.Tensor:
    """Standard normal draws of ``shape`` per sample, each from its own generator: (n, *shape)."""
    return torch.stack([torch.randn(tuple(shape), generator=g) for g in generators])


def fresh_folder(out_dir: Path, *, force: bool) -> None:
    """Make ``out_dir`` an empty folder; one holding anything is replaced only with ``force``."""
    if out_dir.exists() and any(out_dir.iterdir()):
        if not force:
            raise OutputExistsError(f"{out_dir}: exists; pass --force to train afresh")
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)


def _keep_loss_rows(path: Path, step: int) -> None:
    """Drop loss rows past ``step`` (left by a run that died after its last checkpoint)."""
    if not path.is_file():
        return
    with open(path, newline="") as file:
        rows = [row for row in csv.reader(file) if row and int(row[0]) <= step]
    with open(path, "w", newline="") as file:
        csv.writer(file).writerows(rows)
