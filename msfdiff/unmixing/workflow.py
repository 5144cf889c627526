"""Phase 1 as jobs on disk: train and save an unmixer into a run, infer a photo collection.

The CLI commands and the pipeline stages both call these, handing in their own ``progress``
and ``log`` listeners (:mod:`msfdiff.progress`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from msfdiff._io import atomic_path, check_new, check_room
from msfdiff.data.abundances import ARRAY_NAME, AbundanceDatasetWriter, load_abundance_dataset
from msfdiff.data.cube import HyperCube
from msfdiff.data.rgb import list_photos, read_photo
from msfdiff.layout import RunLayout
from msfdiff.plotting import (
    false_colour,
    plot_abundance_grid,
    plot_endmembers,
    plot_loss,
    plot_reconstruction,
    save_image,
)
from msfdiff.processes import main_process_only, rank_and_world, wait_for_everyone
from msfdiff.progress import Log, Progress, no_log, no_progress
from msfdiff.unmixing.estimator import SceneUnmixer

PHOTO_BATCH = 16  # photos read and encoded at a time
GAIN_PHOTOS = 64  # photos sampled to set a collection's brightness gain


def train_and_save(
    unmixer: SceneUnmixer,
    cubes: Sequence[HyperCube],
    run_dir: str | os.PathLike,
    *,
    checkpoint_every: int = 200,
    resume: bool = False,
    progress: Progress | None = None,
    log: Log = no_log,
) -> SceneUnmixer:
    """Fit ``unmixer`` on ``cubes`` and save it with its figures as the run's unmixer.

    Checkpoints go to ``RUN/unmixing/checkpoints``; ``resume`` continues from the newest.
    Launched on several processes, the main one trains and the others load its unmixer.
    """
    layout = RunLayout(run_dir)
    check_room(layout.unmixing, 0, what="the unmixer")  # unwritable or full: fail now
    with main_process_only() as main:
        if main:
            unmixer.fit(
                cubes,
                checkpoint_dir=layout.unmixing_checkpoints,
                checkpoint_every=checkpoint_every,
                resume=resume,
                progress=progress,
                log=log,
            )
            unmixer.save(layout.unmixing)
            write_unmixing_figures(unmixer, cubes, layout.unmixing_figures)
    return unmixer if main else SceneUnmixer.load(layout.unmixing)


def infer_scene_abundances(
    unmixer: SceneUnmixer, cube: HyperCube, out: str | os.PathLike, *, force: bool = False
) -> np.ndarray:
    """The abundance map (H, W, k) of one scene, streamed into the .npy file ``out``.

    A memory-mapped scene larger than memory never is held whole (``transform`` reads it in
    row blocks and tiles): the map goes to an ``open_memmap`` under a temporary name, renamed
    when complete, so a killed run leaves no file that reads as a finished map. Returns the
    map, memory-mapped from ``out``.
    """
    out = Path(out)
    check_new(out, force=force)
    shape = (*cube.shape[:2], unmixer.config_.n_endmembers)
    check_room(out.parent, int(np.prod(shape)) * 4, what="the abundance map")
    with atomic_path(out) as tmp:
        abundances = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        unmixer.transform(cube, out=abundances)
        abundances.flush()
        del abundances
    return np.load(out, mmap_mode="r")


def infer_photo_abundances(
    unmixer: SceneUnmixer,
    folder: str | os.PathLike,
    out: str | os.PathLike,
    *,
    size: int = 64,
    crop: str = "resize",
    force: bool = False,
    n_previews: int = 8,
    progress: Progress | None = None,
    log: Log = no_log,
) -> int:
    """Abundances of every photo under ``folder`` into an abundance dataset at ``out``.

    One brightness gain for the whole collection (from up to ``GAIN_PHOTOS`` photos) maps
    photo exposure onto the training reflectance level; see :meth:`SceneUnmixer.photo_gain`.
    ``progress(done, total)`` counts this process's photos. Returns how many were written.

    Launched on N processes, process ``r`` owns the batches ``r, r + N, …`` of
    ``PHOTO_BATCH`` photos and writes them as a shard (itself an abundance dataset, hidden
    beside ``out``); the main process then gathers the shards into ``out``. Every batch is
    encoded as it would be on one process, so the dataset is the same byte for byte.
    """
    out = Path(out)
    check_new(out, force=force)  # every process, before any work
    notify = progress or no_progress
    photos = list_photos(folder)
    k = unmixer.config_.n_endmembers
    check_room(out.parent, len(photos) * size * size * k * 4, what="the abundance dataset")
    step = max(1, len(photos) // GAIN_PHOTOS)
    gain = unmixer.photo_gain([read_photo(p.path, size=size, crop=crop) for p in photos[::step]])
    log(f"inferring {len(photos)} photos at {size}×{size}, brightness gain {gain:.3g}")
    rank, world = rank_and_world()
    mine = _owned_rows(len(photos), rank, world)
    shard = out if world == 1 else _shard_path(out, rank, world)
    if mine:  # more processes than batches leave some idle
        with AbundanceDatasetWriter(
            shard, n=len(mine), height=size, width=size, k=k, force=force or world > 1
        ) as writer:
            for first in range(0, len(mine), PHOTO_BATCH):
                chunk = [photos[i] for i in mine[first : first + PHOTO_BATCH]]
                rgbs = np.stack([read_photo(p.path, size=size, crop=crop) for p in chunk])
                abundances = unmixer.transform(rgbs, gain=gain)
                for row, (photo, abundance) in enumerate(zip(chunk, abundances, strict=True)):
                    writer.write(first + row, abundance, source=str(photo.path), label=photo.label)
                notify(first + len(chunk), len(mine), "")
    if world > 1:
        wait_for_everyone()
        with main_process_only() as main:
            if main:
                _gather_shards(out, len(photos), world, force=force)
    if rank == 0:
        shown = photos[:n_previews]
        maps = np.load(out / ARRAY_NAME, mmap_mode="r")
        _write_previews(
            out / "previews",
            [(Path(p.path).name, read_photo(p.path, size=size, crop=crop), maps[i])
             for i, p in enumerate(shown)],
        )  # fmt: skip
    return len(photos)


def _owned_rows(n: int, rank: int, world: int) -> list[int]:
    """The rows of the batches ``rank, rank + world, …`` of ``PHOTO_BATCH`` rows."""
    starts = range(rank * PHOTO_BATCH, n, world * PHOTO_BATCH)
    return [i for start in starts for i in range(start, min(start + PHOTO_BATCH, n))]


def _shard_path(out: Path, rank: int, world: int) -> Path:
    return out.parent / f".{out.name}.shard-{rank}-of-{world}"


def _gather_shards(out: Path, n: int, world: int, *, force: bool) -> None:
    """Copy every shard's rows to their places in ``out`` (atomically), then drop the shards."""
    ranks = [r for r in range(world) if _owned_rows(n, r, world)]
    shards = {r: load_abundance_dataset(_shard_path(out, r, world)) for r in ranks}
    first = shards[0]
    with AbundanceDatasetWriter(
        out, n=n, height=first.height, width=first.width, k=first.k, force=force
    ) as writer:
        for rank, shard in shards.items():
            labels = [shard.classes[c] if c >= 0 else None for c in shard.class_indices]
            for j, i in enumerate(_owned_rows(n, rank, world)):
                writer.write(i, shard.array[j], source=shard.files[j], label=labels[j])
    for rank in ranks:
        shutil.rmtree(_shard_path(out, rank, world))


def _write_previews(folder: Path, previews: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> None:
    for name, rgb, _ in previews:
        save_image(rgb, folder / f"{Path(name).stem}_photo.png")
    plot_abundance_grid(
        [a for _, _, a in previews],
        folder / "abundance_grid.png",
        row_labels=[n for n, _, _ in previews],
    )


def write_unmixing_figures(
    unmixer: SceneUnmixer, cubes: Sequence[HyperCube], folder: str | os.PathLike
) -> None:
    """Endmember spectra, abundance maps and reconstruction of the training HSIs, loss curve."""
    folder = Path(folder)
    plot_endmembers(
        unmixer.endmembers_, unmixer.wavelengths_, folder / "endmembers.png", usage=unmixer.usage_
    )
    shown = list(cubes[:4])
    plot_abundance_grid([unmixer.transform(c) for c in shown], folder / "abundances.png")
    for i, cube in enumerate(shown):
        save_image(
            false_colour(np.asarray(cube.data), cube.wavelengths_nm),
            folder / f"train_{i:02d}_false_colour.png",
        )
    plot_reconstruction(
        np.asarray(shown[0].data),
        unmixer.reconstruct(shown[0]),
        shown[0].wavelengths_nm,
        folder / "reconstruction.png",
    )
    if unmixer.history_:
        plot_loss(
            unmixer.history_,
            folder / "loss.png",
            keys=("total", "recon", "sad"),
            title="unmixing loss",
        )
