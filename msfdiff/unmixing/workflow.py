"""Phase 1 as jobs on disk: train and save an unmixer into a run, infer a photo collection.

The CLI commands and the pipeline stages both call these, handing in their own ``progress``
and ``log`` listeners (:mod:`msfdiff.progress`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from msfdiff._io import atomic_path, check_new, check_room
from msfdiff.data.abundances import AbundanceDatasetWriter
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
from msfdiff.processes import main_process_only
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
    ``progress(done, total)`` counts photos. Returns how many were written.
    """
    out = Path(out)
    notify = progress or no_progress
    photos = list_photos(folder)
    step = max(1, len(photos) // GAIN_PHOTOS)
    gain = unmixer.photo_gain([read_photo(p.path, size=size, crop=crop) for p in photos[::step]])
    log(f"inferring {len(photos)} photos at {size}×{size}, brightness gain {gain:.3g}")
    k = unmixer.config_.n_endmembers
    previews: list[tuple[str, np.ndarray, np.ndarray]] = []
    with AbundanceDatasetWriter(
        out, n=len(photos), height=size, width=size, k=k, force=force
    ) as writer:
        for start in range(0, len(photos), PHOTO_BATCH):
            chunk = photos[start : start + PHOTO_BATCH]
            rgbs = np.stack([read_photo(p.path, size=size, crop=crop) for p in chunk])
            abundances = unmixer.transform(rgbs, gain=gain)
            for row, (photo, rgb, abundance) in enumerate(
                zip(chunk, rgbs, abundances, strict=True), start=start
            ):
                writer.write(row, abundance, source=str(photo.path), label=photo.label)
                if len(previews) < n_previews:
                    previews.append((Path(photo.path).name, rgb, abundance))
            notify(start + len(chunk), len(photos), "")
    _write_previews(out / "previews", previews)
    return len(photos)


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
