"""The generator interface: what every synthesis model implements, and how samples are asked for.

In the style of scikit-learn and diffusers: hyperparameters go to the constructor, ``fit``
trains on a data set into a folder, ``generate`` draws samples, ``save_pretrained`` /
``from_pretrained`` write and read a folder, and :func:`load_generator` opens any saved
generator folder because its ``generator.json`` names the class that wrote it.

A generator outputs one of two spaces (:attr:`Generator.output_space`):

``"abundances"``
    maps (n, H, W, k) on the simplex, which :func:`msfdiff.generate.generate_samples` fuses
    with an unmixer's endmembers into HSIs (MSF-Diff's abundance diffusion);
``"hsi"``
    finished cubes (n, H, W, bands), written as they are (e.g. diffusion in cube space).

To add one: subclass :class:`Generator`, set ``output_space`` (and ``options``, if ``sample``
takes sampling options such as a sampler), implement the abstract methods. Nothing to
register: ``save_pretrained`` records the class, ``load_generator`` imports it.

A generator that can start from real maps (``guided = True``) also takes a :class:`Guidance`:
variations of real maps (SDEdit), inpainting and outpainting, harmonised collages.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import typing
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np

from msfdiff._io import write_json
from msfdiff.errors import ConfigError, DataFormatError, DataNotFoundError
from msfdiff.progress import Log, Progress, no_log

OutputSpace = Literal["abundances", "hsi"]
FitData = Literal["abundances", "cubes", "spectral_pairs"]
Sampler = Literal["ddpm", "ddim", "dpmsolver++", "dpmsolver++3m", "unipc"]
"""The samplers of generators that denoise step by step: DDPM ancestral, DDIM, DPM-Solver++
(2M), and the few-step multistep solvers DPM-Solver++ 3M and UniPC."""

GENERATOR_FILE = "generator.json"

VARIATION_STRENGTH = 0.1
"""Default strength of variations (``msfdiff sample --like``): of those measured on the
remote-sensing model, the largest whose maps kept edges above 0.8 of real (docs/diffusion.md)."""
COLLAGE_STRENGTH = 0.3
"""Default strength at which a collage's seams are regenerated (``--collage``)."""
COLLAGE_CELLS = 4
"""Default number of real maps a collage is cut from."""
COLLAGE_BAND = 3
"""Default width (px) each side of a collage's seams that is regenerated."""


@dataclass(frozen=True)
class SamplingSettings:
    """How samples are drawn and written: the one set of defaults of ``msfdiff sample``, the
    pipeline's sample stage and :meth:`Generator.generate`.

    ``sampler`` and ``steps`` go to generators that list them in :attr:`Generator.options`;
    ``steps=None`` is the sampler's own default (8 for UniPC and DPM-Solver++ 3M, 20 for
    DPM-Solver++, 50 for DDIM, all T for DDPM). UniPC-8 is the default because it is the
    cheapest sampler that held DPM-Solver++-20's quality on both models measured
    (benchmarks/sampling.py, docs/diffusion.md): 241× fewer seconds per map than DDPM-2000.
    ``noise`` adds the unmixer's per-band residual when abundances are fused.
    ``class_name=None`` on a class-conditional generator draws sample i from its i-th class
    in turn; ``size=None`` is the generator's own map size. ``batch_size`` changes speed and
    memory only: sample i depends on ``(seed, i)`` alone.
    """

    sampler: Sampler = "unipc"
    steps: int | None = None
    noise: bool = True
    format: str = "envi"
    seed: int = 0
    batch_size: int = 8
    class_name: str | None = None
    size: int | None = None

    def __post_init__(self) -> None:
        from msfdiff.data.formats import WRITE_FORMATS

        if self.sampler not in typing.get_args(Sampler):
            raise ConfigError(
                f"unknown sampler {self.sampler!r}; choose one of {list(typing.get_args(Sampler))}"
            )
        if self.format not in WRITE_FORMATS:
            raise ConfigError(
                f"unknown format {self.format!r}; choose one of {list(WRITE_FORMATS)}"
            )
        for name in ("steps", "batch_size", "size"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")


@dataclass(frozen=True, eq=False)
class Guidance:
    """Real abundance maps that samples start from instead of pure noise.

    Sample ``i`` follows source ``i % len(sources)``, so ``n`` samples of ``m`` sources give
    ``n / m`` different variations of each (its seed differs), and sample ``i`` still depends
    on ``(seed, i)`` alone.

    Parameters
    ----------
    sources : ndarray of shape (m, H, W, k)
        Abundance maps (on the simplex), e.g. inferred from photos; samples have their size.
    strength : float in [0, 1]
        How much of each source the noise replaces before denoising: 0 returns the sources,
        1 is plain sampling (the sources' content is ignored outside ``keep``). A generator
        defines it on its own noise scale (MSF-Diff: ``1 - sqrt(alpha_bar_t)``, docs/diffusion.md).
    keep : ndarray of shape (m, H, W) or (H, W), bool, optional
        Pixels copied from the source unchanged (inpainting: generate the rest).
    labels : sequence of str or None, optional
        Scene class of each source; a class-conditional generator draws its variations in
        that class unless a ``class_name`` is asked for.
    resample : int
        RePaint's resampling: each step is undone and redone this many extra times, so the
        generated region agrees better with the kept one (costs ``1 + resample`` x the steps).
    """

    sources: np.ndarray
    strength: float = 1.0
    keep: np.ndarray | None = None
    labels: Sequence[str | None] | None = None
    resample: int = 0

    def __post_init__(self) -> None:
        from msfdiff.data.abundances import check_simplex

        sources = np.ascontiguousarray(self.sources, dtype=np.float32)
        if sources.ndim != 4 or len(sources) == 0:
            raise DataFormatError(f"sources must be (m, H, W, k) maps, got shape {sources.shape}")
        check_simplex(sources, "sources")
        if not 0.0 <= self.strength <= 1.0:
            raise ConfigError(f"strength must be in [0, 1], got {self.strength}")
        if int(self.resample) != self.resample or self.resample < 0:
            raise ConfigError(f"resample must be a whole number >= 0, got {self.resample}")
        keep = self.keep
        if keep is not None:
            keep = np.asarray(keep)
            if keep.dtype != bool or keep.shape not in (sources.shape[1:3], sources.shape[:3]):
                raise DataFormatError(
                    f"keep must be a bool mask of shape {sources.shape[1:3]} or "
                    f"{sources.shape[:3]}, got {keep.dtype} {keep.shape}"
                )
            keep = np.ascontiguousarray(np.broadcast_to(keep, sources.shape[:3]))
        labels = None if self.labels is None else tuple(self.labels)
        if labels is not None and len(labels) != len(sources):
            raise DataFormatError(f"{len(labels)} labels for {len(sources)} sources")
        object.__setattr__(self, "sources", sources)
        object.__setattr__(self, "keep", keep)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "resample", int(self.resample))

    def source_of(self, index: int) -> int:
        """The source that sample ``index`` follows."""
        return index % len(self.sources)

    def label_of(self, index: int) -> str | None:
        return None if self.labels is None else self.labels[self.source_of(index)]

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the sources, masks and labels: a samples folder never mixes two guides."""
        digest = hashlib.sha256(self.sources.tobytes())
        if self.keep is not None:
            digest.update(np.packbits(self.keep).tobytes())
        digest.update(json.dumps(self.labels).encode())
        return digest.hexdigest()

    def manifest(self) -> dict[str, Any]:
        """What a sampling manifest records of the guide (compared when a folder resumes)."""
        return {
            "like_sha256": self.digest,
            "like_shape": list(self.sources.shape),
            "strength": self.strength,
            "inpainting": self.keep is not None,
            "resample": self.resample,
        }


class TrainingInterrupted(KeyboardInterrupt):
    """``fit`` stopped early on Ctrl-C after saving a checkpoint; ``fit(resume=True)`` goes on."""


class Generator(ABC):
    """A model that learns a set of maps or cubes and draws new ones.

    Sample ``i`` depends only on ``(seed, i)`` (and the class, size and options asked for),
    whatever the batch it is drawn in, so an interrupted set of samples can be completed.
    """

    output_space: ClassVar[OutputSpace]
    options: ClassVar[tuple[str, ...]] = ()
    """:class:`SamplingSettings` fields that :meth:`sample` takes as keywords, e.g.
    ``("sampler", "steps")``."""
    guided: ClassVar[bool] = False
    """Whether :meth:`sample` and :meth:`check_request` take ``guidance=`` (a :class:`Guidance`)."""
    wavelengths_nm: np.ndarray | None = None
    """Band centres of an ``"hsi"`` generator's cubes (abundances take the unmixer's)."""
    fit_data: ClassVar[FitData] = "abundances"
    """What :meth:`fit` learns from, so ``msfdiff compare`` can hand every row its data:
    ``"abundances"`` an :class:`~msfdiff.data.abundances.AbundanceDataset` of the photos'
    maps; ``"cubes"`` a :class:`~msfdiff.data.maps.MapDataset` of those maps fused into HSIs;
    ``"spectral_pairs"`` real HSIs, their 3-channel inputs and the photos to convert (MST++)."""

    @property
    @abstractmethod
    def classes(self) -> list[str]:
        """Scene classes it can be asked for (``class_name``); empty if unconditional."""

    @property
    @abstractmethod
    def n_channels(self) -> int:
        """Last axis of its samples: k endmembers, or the bands of a cube."""

    @abstractmethod
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
        """Train on ``dataset`` (an :class:`~msfdiff.data.abundances.AbundanceDataset` for
        abundances) into ``out_dir``, which then holds the saved generator.

        ``resume`` continues training saved in ``out_dir``; ``force`` replaces what is there.
        Ctrl-C may end training early with :class:`TrainingInterrupted`.
        """

    @abstractmethod
    def sample(
        self,
        indices: Sequence[int],
        *,
        seed: int,
        class_name: str | None,
        size: int | None,
        **options: Any,
    ) -> np.ndarray:
        """Samples ``indices``, drawn together as one batch: (len(indices), H, W, channels)."""

    @abstractmethod
    def fingerprint(self) -> str:
        """A digest of what was learned, so a samples folder never mixes two models."""

    @abstractmethod
    def _save_pretrained(self, folder: Path) -> None:
        """Write everything :meth:`from_pretrained` needs into ``folder`` (it exists)."""

    @classmethod
    @abstractmethod
    def from_pretrained(cls, folder: str | os.PathLike) -> Self:
        """Load a folder written by :meth:`save_pretrained` or :meth:`fit`."""

    def facts(self) -> dict[str, int | None]:
        """Size and budget for comparison tables: ``parameters`` and ``training_steps``
        (None where they do not apply, e.g. a GMM has no training steps)."""
        return {"parameters": None, "training_steps": None}

    def check_request(
        self, *, class_name: str | None = None, size: int | None = None, **options: Any
    ) -> dict[str, Any]:
        """Refuse a request it cannot draw, before any work; return its settings with the
        defaults filled in (``size`` and the options), which a sampling manifest records.
        A guided generator also checks ``guidance`` here."""
        if class_name is not None and class_name not in self.classes:
            raise ConfigError(f"unknown class {class_name!r}; choose one of {self.classes}")
        return {"size": size, **options}

    def generate(
        self,
        n: int,
        *,
        seed: int = SamplingSettings.seed,
        class_name: str | None = None,
        size: int | None = None,
        batch_size: int = SamplingSettings.batch_size,
        guidance: Guidance | None = None,
        **options: Any,
    ) -> np.ndarray:
        """Samples ``0 .. n-1`` as one array (n, H, W, channels); ``options`` (e.g. ``sampler``)
        default to :class:`SamplingSettings`'. ``guidance`` starts them from real maps."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise ConfigError(f"{type(self).__name__} takes no option(s) {unknown}")
        if n < 1 or batch_size < 1:
            raise ConfigError(f"n and batch_size must be >= 1, got {n} and {batch_size}")
        options = {
            name: options.get(name, getattr(SamplingSettings, name)) for name in self.options
        }
        options |= self.guidance_option(guidance)
        self.check_request(class_name=class_name, size=size, **options)
        batches = [
            self.sample(
                range(start, min(n, start + batch_size)),
                seed=seed,
                class_name=class_name,
                size=size,
                **options,
            )
            for start in range(0, n, batch_size)
        ]
        return np.concatenate(batches, axis=0)

    def guidance_option(self, guidance: Guidance | None) -> dict[str, Guidance]:
        """``{"guidance": guidance}`` to pass on, ``{}`` without one; refuses it if not guided."""
        if guidance is None:
            return {}
        if not self.guided:
            raise ConfigError(f"{type(self).__name__} cannot start from real maps (no guidance)")
        return {"guidance": guidance}

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write the generator into ``folder``; :func:`load_generator` reads it back."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_pretrained(folder)
        self.mark_folder(folder)
        return folder

    @classmethod
    def mark_folder(cls, folder: str | os.PathLike) -> Path:
        """Write ``generator.json`` naming ``cls``; for ``fit`` that trains straight into its
        folder."""
        spec = {"class": f"{cls.__module__}:{cls.__name__}", "output_space": cls.output_space}
        return write_json(Path(folder) / GENERATOR_FILE, spec)


def load_generator(folder: str | os.PathLike) -> Generator:
    """Load any saved generator: the class named in ``folder/generator.json``."""
    path = Path(folder) / GENERATOR_FILE
    if not path.is_file():
        raise DataNotFoundError(
            f"{folder}: not a trained generator ({GENERATOR_FILE} missing); "
            "train one first, e.g. `msfdiff diffusion train`"
        )
    try:
        name = str(json.loads(path.read_text())["class"])
        module, _, attr = name.partition(":")
        cls = getattr(importlib.import_module(module), attr)
    except (json.JSONDecodeError, KeyError, TypeError, ImportError, AttributeError, ValueError):
        raise DataFormatError(f"{path}: does not name an importable generator class") from None
    if not (isinstance(cls, type) and issubclass(cls, Generator)):
        raise DataFormatError(f"{path}: {name} is not a Generator")
    return cls.from_pretrained(folder)
