"""The msfdiff chain on a task's training samples: unmix, learn the maps per class, fuse.

Only what a classifier may train on enters (:class:`~msfdiff.downstream.task.Task`): the
unmixer learns from the task's unmixing cubes (training blocks plus their patches' reach, or
training images); the abundance diffusion model from the maps of the training samples, each
inferred from the sample alone, labelled by its class. Labelled data has no photos of its
own, so the photo modality of MSF-Diff is the data's own colour view: the encoder's RGB-like
input is rendered from the bands by the unmixer's band selection, exactly as for the HSIs of
the main pipeline (docs/downstream.md).

The U-Net samples maps whose side is a multiple of ``2 ** (levels - 1)``; samples of another
side ``S`` (odd patches) are mirrored out to the next such size ``M`` for training and
cropped back after sampling, so the model sees nothing outside them.

Three generation modes, one per way msfdiff makes new maps:

- ``conditional``: class-conditional sampling from noise;
- ``variations``: the class's real training maps, partly noised and denoised in their class
  (SDEdit, ``variation_strength``);
- ``collage``: Voronoi collages of the class's training maps with their seams regenerated
  (the crop of each cell keeps its position, so the centre pixel still comes from a patch of
  that class).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from msfdiff.config import merge_overrides
from msfdiff.data.cube import HyperCube
from msfdiff.data.maps import MapDataset
from msfdiff.errors import ConfigError, NotFittedError
from msfdiff.pipeline.stages import BarFactory, no_bar
from msfdiff.progress import Log, no_log

MODES = ("conditional", "variations", "collage")


@dataclass(frozen=True)
class ChainConfig:
    """The chain's settings (CPU-sized defaults).

    ``unmixer_overrides`` / ``diffusion_overrides`` change the presets as the experiment YAML
    does; ``unmixer_steps`` and ``diffusion_steps`` are the training budgets; ``batch_size``
    maps are sampled at once (small maps: large batches). ``noise`` adds the
    unmixer's per-band residual noise to fused patches (the paper's Eq. 5).
    """

    n_endmembers: int = 6
    unmixer_preset: str = "cpu"
    unmixer_steps: int = 800
    unmixer_overrides: dict[str, Any] = field(default_factory=dict)
    diffusion_preset: str = "cpu"
    diffusion_steps: int = 1500
    diffusion_overrides: dict[str, Any] = field(
        default_factory=lambda: {"training": {"batch_size": 32}}
    )
    # Pinned (not the sampling default, UniPC-8): the setting docs/downstream.md was measured with.
    sampler: str = "dpmsolver++"
    sampling_steps: int = 20
    batch_size: int = 64
    variation_strength: float = 0.5
    noise: bool = True

    def __post_init__(self) -> None:
        if self.n_endmembers < 2 or self.unmixer_steps < 1 or self.diffusion_steps < 1:
            raise ConfigError("chain: need n_endmembers >= 2 and positive step budgets")
        if not 0.0 < self.variation_strength <= 1.0:
            raise ConfigError(
                f"chain.variation_strength must lie in (0, 1], got {self.variation_strength}"
            )


class PatchSynthesizer:
    """Train the chain on one task and make labelled synthetic samples (n, S, S, C).

    Attributes (after :meth:`fit`)
    ------------------------------
    unmixer_ : SceneUnmixer
    generator_ : AbundanceDiffusion
        Class-conditional; its classes are the scene's class names with training patches.
    train_maps_ : ndarray of shape (n_train, M, M, k)
        The training samples' abundances, mirrored out to the sampled size ``M``.
    train_names_ : list of str
        Class name of each training map.
    """

    def __init__(self, config: ChainConfig | None = None, *, seed: int = 0) -> None:
        self.config = config
        self.seed = seed

    # -- training -------------------------------------------------------------

    def fit(
        self,
        cubes: Sequence[HyperCube],
        samples: np.ndarray,
        labels: np.ndarray,
        class_names: Sequence[str],
        folder: str | Path,
        *,
        log: Log = no_log,
        bar: BarFactory = no_bar,
    ) -> PatchSynthesizer:
        """Train (or resume) in ``folder``: ``unmixer/`` and ``diffusion/``.

        ``cubes`` are all the unmixer may learn from; ``samples`` (n, S, S, C) and their class
        indices ``labels`` what the diffusion model learns, as abundance maps.

        Raises :class:`~msfdiff.errors.DegenerateModelError` when the unmixer collapses
        (an endmember unused); the message says which, and nothing is generated from it.
        """
        from msfdiff.diffusion.generator import AbundanceDiffusion
        from msfdiff.unmixing.estimator import SceneUnmixer, is_saved_unmixer

        config = self.config or ChainConfig()
        folder = Path(folder)
        self.patch_size_ = samples.shape[1]
        self.class_names_ = list(class_names)
        unmixer_dir = folder / "unmixer"
        if is_saved_unmixer(unmixer_dir):
            self.unmixer_ = SceneUnmixer.load(unmixer_dir)
            log(f"chain: unmixer loaded from {unmixer_dir}")
        else:
            unmixer = SceneUnmixer(
                config.n_endmembers,
                preset=config.unmixer_preset,
                overrides={**config.unmixer_overrides, "steps": config.unmixer_steps},
                random_state=self.seed,
            )
            log(f"chain: unmixing {len(cubes)} training cubes, k={config.n_endmembers}")
            with bar("chain: unmixer", "step") as progress:
                unmixer.fit(
                    list(cubes),
                    checkpoint_dir=folder / "unmixer_checkpoints",
                    resume=True,
                    progress=progress,
                    log=log,
                )
            unmixer.save(unmixer_dir)
            self.unmixer_ = unmixer

        maps = self.unmixer_.transform(np.asarray(samples))
        self.size_ = sampled_size(
            self.patch_size_, config.diffusion_preset, config.diffusion_overrides
        )
        self.train_maps_ = mirror_out(maps, self.size_)
        self.train_names_ = [self.class_names_[i] for i in labels]
        dataset = MapDataset(self.train_maps_, self.train_names_, name="training sample maps")
        overrides = merge_overrides(
            config.diffusion_overrides,
            {"image_size": self.size_, "training": {"max_steps": config.diffusion_steps,
                                                    "crop_size": None}},
        )  # fmt: skip
        generator = AbundanceDiffusion(
            config.diffusion_preset, conditional=True, overrides=overrides
        )
        log(f"chain: diffusion on {len(dataset)} maps of {self.size_}x{self.size_}")
        with bar("chain: diffusion", "step") as progress:
            generator.fit(dataset, folder / "diffusion", resume=True, progress=progress, log=log)
        self.generator_ = generator
        self.config_ = config
        return self

    # -- generation -----------------------------------------------------------

    def generate(
        self, counts: Sequence[int] | np.ndarray, mode: str, *, seed: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """``counts[c]`` fused patches of each class ``c`` (0-based), made in ``mode``.

        Returns patches (n, P, P, C) float32 and their class indices (n,), grouped by class.
        Class ``c`` draws with seed ``(seed, c)``, so one class's count leaves another's
        samples alone. A class without training patches gets none.
        """
        from msfdiff.diffusion.collage import make_collages
        from msfdiff.fusion import fuse
        from msfdiff.generator import Guidance

        if not hasattr(self, "generator_"):
            raise NotFittedError("PatchSynthesizer: call fit first")
        if mode not in MODES:
            raise ConfigError(f"unknown generation mode {mode!r}; use one of {', '.join(MODES)}")
        config, unmixer = self.config_, self.unmixer_
        options = {
            "sampler": config.sampler,
            "steps": config.sampling_steps,
            "batch_size": config.batch_size,
        }
        made, labels = [], []
        for c, count in enumerate(np.asarray(counts, dtype=np.int64)):
            name = self.class_names_[c]
            members = [i for i, n in enumerate(self.train_names_) if n == name]
            if count <= 0 or not members:
                continue
            class_seed = int(np.random.SeedSequence([seed, c]).generate_state(1)[0] >> 1)
            sources = self.train_maps_[members]
            guidance = None
            if mode == "variations":
                guidance = Guidance(
                    sources, strength=config.variation_strength, labels=[name] * len(members)
                )
            elif mode == "collage":
                guidance = make_collages(
                    sources, int(count), labels=[name] * len(members), seed=class_seed
                )
            maps = self.generator_.generate(
                int(count), seed=class_seed, class_name=name, guidance=guidance, **options
            )
            maps = crop_back(maps, self.patch_size_)
            noise = unmixer.noise_std_ if config.noise else None
            made.append(fuse(unmixer.endmembers_, maps, noise_std=noise, rng=class_seed))
            labels.append(np.full(int(count), c, dtype=np.int64))
        if not made:
            bands = len(unmixer.endmembers_[0])
            return np.zeros((0, self.patch_size_, self.patch_size_, bands), np.float32), np.zeros(
                0, np.int64
            )
        return np.concatenate(made).astype(np.float32), np.concatenate(labels)


# ------------------------------------------------------------------------------ helpers


def sampled_size(
    patch_size: int, diffusion_preset: str, overrides: dict[str, Any] | None = None
) -> int:
    """The smallest map side >= ``patch_size`` the U-Net (preset plus overrides) can sample."""
    from msfdiff.diffusion.config import diffusion_config

    unet = diffusion_config(diffusion_preset, overrides=overrides).unet
    factor = 2 ** (len(unet.block_out_channels) - 1)
    return factor * math.ceil(patch_size / factor)


def mirror_out(maps: np.ndarray, size: int) -> np.ndarray:
    """(n, P, P, k) -> (n, size, size, k), mirrored at the borders (numpy ``reflect``)."""
    extra = size - maps.shape[1]
    before, after = extra // 2, extra - extra // 2
    if after >= maps.shape[1]:
        raise ConfigError(f"patches of {maps.shape[1]} px cannot be mirrored out to {size} px")
    return np.pad(maps, ((0, 0), (before, after), (before, after), (0, 0)), "reflect")


def crop_back(maps: np.ndarray, patch_size: int) -> np.ndarray:
    """The inverse of :func:`mirror_out`: the centre ``patch_size`` px."""
    before = (maps.shape[1] - patch_size) // 2
    return maps[:, before : before + patch_size, before : before + patch_size]
