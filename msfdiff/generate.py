"""Samples of any generator written as HSI files: the body of ``msfdiff sample`` and of the
pipeline's sample stage.

An ``"abundances"`` generator's maps are fused with the unmixer's endmembers (phases 2+3 of
MSF-Diff); an ``"hsi"`` generator's cubes are written as they are. Output folder (names from
:mod:`msfdiff.layout`)::

    OUT/sampling.json                 settings (model digest, sampler, steps, seed, classes, …)
    OUT/sample_NNNN.<hdr|npy|mat|tif> the synthetic HSI, with wavelengths
    OUT/sample_NNNN_false_colour.png  preview;  OUT/sample_NNNN_profiles.png  Fig. 11 profiles
    OUT/sample_NNNN_abundance.npy     its abundance map (H, W, k), written last (fused samples)
    OUT/shards/shard-R-of-N.json      the indices process R of N owned (sharded runs)
    OUT/samples.json                  index of the whole set, once samples 0..n-1 are complete

A sample whose last file exists is complete, so an interrupted run resumes where it stopped,
and sample ``i`` is the same whatever the batch size (the generator seeds it by index). So
several processes can share one folder (a :class:`Shard` each): each owns the indices
``i % world == rank``, never writes another's files, and the set they make is the one a single
process makes, whatever their number, also when a run is resumed with another number.
:func:`msfdiff.data.samples.load_samples` reads the set back lazily (docs/samples.md).

A guided generator may start from real maps (a :class:`~msfdiff.generator.Guidance`);
:func:`load_sources` reads them from an abundance data set or infers them from photos.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from msfdiff._io import atomic_write, check_room, create_json, write_json
from msfdiff.data.abundances import INDEX_NAME, load_abundance_dataset
from msfdiff.data.samples import read_sampling_manifest, write_sample_index
from msfdiff.errors import ConfigError, DataFormatError, OutputExistsError
from msfdiff.fusion import fuse, write_sample
from msfdiff.generator import Generator, Guidance, SamplingSettings
from msfdiff.layout import (
    GUIDANCE_SOURCES,
    SAMPLING_MANIFEST,
    complete_samples,
    sample_leftovers,
    shard_manifest_path,
)
from msfdiff.processes import rank_and_world
from msfdiff.progress import Log, Progress, no_log, no_progress

if TYPE_CHECKING:
    from msfdiff.unmixing import SceneUnmixer


@dataclass(frozen=True)
class Shard:
    """The share of process ``rank`` of ``world`` sampling into one folder: the indices ``i``
    with ``i % world == rank``, so no two processes ever write the same file.

    Examples
    --------
    >>> list(Shard(1, 3).indices(8))
    [1, 4, 7]
    """

    rank: int = 0
    world: int = 1

    def __post_init__(self) -> None:
        if self.world < 1 or not 0 <= self.rank < self.world:
            raise ConfigError(f"a shard is R/N with 0 <= R < N, got {self}")

    def __str__(self) -> str:
        return f"{self.rank}/{self.world}"

    def indices(self, n: int) -> range:
        """The indices below ``n`` this shard owns."""
        return range(self.rank, n, self.world)

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"R/N"``, or ``"auto"``: the rank and process count a launcher (``accelerate
        launch``, ``torchrun``) set (one process, ``0/1``, without one)."""
        if text == "auto":
            return cls(*rank_and_world())
        rank, slash, world = text.partition("/")
        if not (slash and rank.isdigit() and world.isdigit()):
            raise ConfigError(f"--shard must be R/N (e.g. 0/2) or auto, got {text!r}")
        return cls(int(rank), int(world))


def generate_samples(
    generator: Generator,
    out: str | Path,
    *,
    unmixer: SceneUnmixer | None = None,
    n: int,
    settings: SamplingSettings = SamplingSettings(),
    guidance: Guidance | None = None,
    shard: Shard = Shard(),
    force: bool = False,
    progress: Progress | None = None,
    log: Log = no_log,
) -> Path:
    """Write ``n`` synthetic HSIs into ``out`` (resuming a folder made with the same settings).

    ``unmixer`` (a fitted :class:`~msfdiff.unmixing.SceneUnmixer`, needed for abundances)
    gives the fusion its ``endmembers_`` (decoder bias folded in, exact on the simplex), the
    wavelengths and, with ``settings.noise``, its per-band residual ``noise_std_`` (the ε of
    Eq. 5). ``guidance`` starts sample ``i`` from source ``i % len(sources)`` (a guided
    generator only); the manifest records its digest and strength. ``shard`` makes only this
    process's share of the ``n`` (the other processes, with the same settings, make the rest
    into the same ``out``); whichever finds all ``n`` complete writes ``samples.json``.
    Everything is checked before ``out`` is touched; ``progress`` hears of each sample.
    """
    out = Path(out)
    fused = generator.output_space == "abundances"
    if fused and unmixer is None:
        raise ConfigError("an abundance generator needs the unmixer whose endmembers it fuses")
    if fused and np.shape(unmixer.endmembers_)[0] != generator.n_channels:
        raise DataFormatError(
            f"the unmixer has {np.shape(unmixer.endmembers_)[0]} endmembers, "
            f"the generator {generator.n_channels}"
        )
    options = {name: getattr(settings, name) for name in generator.options}
    options |= generator.guidance_option(guidance)
    request = generator.check_request(class_name=settings.class_name, size=settings.size, **options)
    manifest = {
        "model_sha256": generator.fingerprint(),
        "unmixer_sha256": _unmixer_digest(unmixer) if fused else None,
        **request,
        "seed": settings.seed,
        "class": settings.class_name,
        # a conditional generator asked for no class draws sample i from classes[i % len(classes)]
        "classes": [] if settings.class_name is not None else generator.classes,
        "format": settings.format,
        "noise": settings.noise and fused,
        **(guidance.manifest() if guidance is not None else {}),
    }
    own = shard.indices(n)
    need = len(own) * _sample_bytes(request["size"], generator, unmixer)
    check_room(out, need, what=f"{len(own)} samples")
    _prepare_out(out, manifest, force=force)
    if guidance is not None:  # what distance-to-source is measured against, later
        atomic_write(out / GUIDANCE_SOURCES, lambda p: np.save(p, guidance.sources))
    if shard.world > 1:
        record = {"rank": shard.rank, "world": shard.world, "n": n, "indices": list(own)}
        write_json(shard_manifest_path(out, shard.rank, shard.world), record)
    complete = set() if force else set(complete_samples(out, fused=fused))
    todo = [i for i in own if i not in complete]
    for leftover in sample_leftovers(out, todo):  # a killed run's; these samples are ours
        if leftover.is_dir():
            shutil.rmtree(leftover)
        else:
            leftover.unlink(missing_ok=True)
    if len(todo) < len(own):
        share = f"{len(own)} samples" + (f" of shard {shard}" if shard.world > 1 else "")
        log(f"{len(own) - len(todo)} of {share} already in {out}; making the other {len(todo)}")
    endmembers = np.asarray(unmixer.endmembers_) if fused else None
    wavelengths = unmixer.wavelengths_ if fused else generator.wavelengths_nm
    noise_std = unmixer.noise_std_ if fused and settings.noise else None
    report = progress or no_progress
    for start in range(0, len(todo), settings.batch_size):
        batch = todo[start : start + settings.batch_size]
        drawn = generator.sample(
            batch, seed=settings.seed, class_name=settings.class_name, size=settings.size, **options
        )
        for done, (i, sample) in enumerate(zip(batch, drawn, strict=True), start=start + 1):
            if fused:
                rng = np.random.default_rng([settings.seed, i])
                abundances, hsi = sample, fuse(endmembers, sample, noise_std=noise_std, rng=rng)
            else:
                abundances, hsi = None, sample
            # force: leftovers of an interrupted sample are ours (OUT was checked above)
            write_sample(
                out,
                i,
                abundances,
                hsi,
                wavelengths_nm=wavelengths,
                endmembers=endmembers,
                format=settings.format,
                force=True,
            )
            report(done, len(todo), "")
    write_sample_index(out, n)
    return out


def load_sources(
    path: str | os.PathLike,
    *,
    unmixer: SceneUnmixer | None = None,
    size: int = 64,
    log: Log = no_log,
) -> tuple[np.ndarray, list[str | None]]:
    """Abundance maps (m, H, W, k) and their scene labels to start guided samples from.

    ``path`` is an abundance data set (``msfdiff unmix infer``'s folder), read as it is, or
    photos (a folder, class sub-folders as labels, or one file), inferred at ``size`` by the
    ``unmixer`` exactly as ``msfdiff unmix infer`` does (one brightness gain per collection).
    """
    from msfdiff.unmixing.workflow import infer_photo_abundances

    path = Path(path)
    if (path / INDEX_NAME).is_file():
        dataset = load_abundance_dataset(path)
        return np.asarray(dataset.array, dtype=np.float32), dataset.labels
    if unmixer is None:
        raise ConfigError(f"{path}: photos need the unmixer that turns them into abundances")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "sources"
        infer_photo_abundances(unmixer, path, folder, size=size, n_previews=1, log=log)
        dataset = load_abundance_dataset(folder)
        return np.array(dataset.array, dtype=np.float32), dataset.labels


PREVIEW_BYTES = 300 * 1024
"""About what a sample's two preview PNGs take."""


def _sample_bytes(
    size: int | list[int] | None, generator: Generator, unmixer: SceneUnmixer | None
) -> int:
    """Bytes one sample writes: its float32 cube, its abundance map (fused) and previews
    (previews only when the generator does not say its size before sampling)."""
    if size is None:
        return PREVIEW_BYTES
    height, width = (size, size) if isinstance(size, int) else size
    if generator.output_space == "abundances":
        channels = np.shape(unmixer.endmembers_)[1] + generator.n_channels
    else:
        channels = generator.n_channels
    return height * width * channels * 4 + PREVIEW_BYTES


def _unmixer_digest(unmixer: SceneUnmixer) -> str:
    """SHA-256 of what fusion takes from the unmixer, so resuming never mixes two unmixers."""
    digest = hashlib.sha256()
    for values in (unmixer.endmembers_, unmixer.noise_std_, unmixer.wavelengths_):
        if values is not None:
            digest.update(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _prepare_out(out: Path, settings: dict, *, force: bool) -> None:
    """Create OUT or check it holds samples made with the same settings (then they are reused).

    Shards may prepare OUT at the same moment: the first to create the manifest wins and the
    others compare theirs with it, so two settings never share a folder (files starting with
    ``.`` are another process's writes in flight, not foreign files).
    """
    manifest = out / SAMPLING_MANIFEST
    if out.is_dir() and not force and not manifest.is_file():
        if any(not path.name.startswith(".") for path in out.iterdir()):
            raise OutputExistsError(f"{out}: exists and is not a sampling folder; use --force")
    out.mkdir(parents=True, exist_ok=True)
    if force:
        write_json(manifest, settings)
    elif not create_json(manifest, settings):
        previous = read_sampling_manifest(out)
        differ = sorted(key for key in settings if previous.get(key) != settings[key])
        if differ:
            raise OutputExistsError(
                f"{out}: holds samples made with other settings ({', '.join(differ)}); "
                "use --force or another --out"
            )
