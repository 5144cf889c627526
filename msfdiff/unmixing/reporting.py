"""Unmixing jobs behind the CLI: held-out evaluation, photo inference, figures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from msfdiff.data.cube import HyperCube
from msfdiff.evaluation.reconstruction import match_endmembers, reconstruction_metrics
from msfdiff.plotting import (
    false_colour,
    plot_abundance_grid,
    plot_endmembers,
    plot_loss,
    plot_reconstruction,
    save_image,
)
from msfdiff.unmixing.estimator import SceneUnmixer

METRIC_KEYS = ("rmse", "psnr", "ssim", "sad_deg", "ergas")


def train_and_save(cubes: Sequence[HyperCube], target: Path, **kwargs) -> SceneUnmixer:
    """Fit a :class:`SceneUnmixer` (``kwargs`` are its arguments), checkpointing into
    ``target/checkpoints``; save it and its figures into ``target``."""
    unmixer = SceneUnmixer(checkpoint_dir=target / "checkpoints", **kwargs).fit(cubes)
    unmixer.save(target)
    write_unmixing_figures(unmixer, cubes, target / "figures")
    return unmixer


def evaluate_unmixer(
    unmixer: SceneUnmixer, cubes: Iterable[HyperCube], figures: Path | None = None
) -> dict:
    """Table 3 protocol: reconstruct each HSI from its own 3 bands; per-image rows and means."""
    rows = []
    for i, cube in enumerate(cubes):
        target = np.asarray(cube.data, dtype=np.float32)
        recon = unmixer.reconstruct(cube)
        rows.append({"source": cube.source, **reconstruction_metrics(recon, target)})
        if figures is not None and i < 8:
            plot_reconstruction(
                target, recon, cube.wavelengths_nm, figures / f"reconstruction_{i:02d}.png"
            )
    mean = {k: float(np.mean([r[k] for r in rows])) for k in METRIC_KEYS}
    return {"mean": mean, "images": rows}


def read_endmembers(path: Path, n_bands: int, *, key: str | None = None) -> np.ndarray:
    """Reference endmembers (k, n_bands) from .npy, .csv or .mat (either orientation).

    In a .mat file the array is ``key`` or the only 2-D array with an axis of ``n_bands``.
    """
    from msfdiff.errors import DataFormatError, DataNotFoundError

    if not path.exists():
        raise DataNotFoundError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            matrix = np.load(path)
        elif suffix in (".csv", ".txt"):
            matrix = np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=2)
        else:
            import scipy.io

            arrays = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
            if key is None:
                fits = [k for k, v in arrays.items() if np.ndim(v) == 2 and n_bands in np.shape(v)]
                if len(fits) != 1:
                    raise DataFormatError(
                        f"{path}: cannot tell which array holds the endmembers {fits}; pass a key"
                    )
                key = fits[0]
            if key not in arrays:
                raise DataFormatError(f"{path}: no array {key!r}; keys are {sorted(arrays)}")
            matrix = arrays[key]
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataFormatError):
            raise
        raise DataFormatError(f"{path}: not a readable endmember file ({exc})") from None
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or n_bands not in matrix.shape:
        raise DataFormatError(
            f"{path}: expected a (k, {n_bands}) endmember matrix, got shape {matrix.shape}"
        )
    return matrix if matrix.shape[1] == n_bands else matrix.T


def endmember_agreement(unmixer: SceneUnmixer, reference: np.ndarray) -> dict:
    """Hungarian-matched spectral angles between learned and reference endmembers."""
    order, sad = match_endmembers(unmixer.endmembers_, reference)
    return {
        "sad_deg": sad.tolist(),
        "mean_sad_deg": float(sad.mean()),
        "matched_learned_index": order.tolist(),
    }


def infer_photo_abundances(
    unmixer: SceneUnmixer,
    folder: Path,
    out: Path,
    *,
    size: int = 64,
    crop: str = "resize",
    force: bool = False,
    n_previews: int = 8,
) -> int:
    """Abundances of every photo under ``folder`` into an abundance dataset at ``out``.

    One brightness gain for the whole collection (from up to 64 photos) maps photo exposure
    onto the training reflectance level; see :meth:`SceneUnmixer.photo_gain`.
    """
    from msfdiff.cli._common import progress
    from msfdiff.data.abundances import AbundanceDatasetWriter
    from msfdiff.data.rgb import list_photos, read_photo

    photos = list_photos(folder)
    step = max(1, len(photos) // 64)
    gain = unmixer.photo_gain([read_photo(p.path, size=size, crop=crop) for p in photos[::step]])
    k = unmixer.config_.n_endmembers
    previews: list[tuple[str, np.ndarray, np.ndarray]] = []
    chunks = [photos[i : i + 16] for i in range(0, len(photos), 16)]
    with AbundanceDatasetWriter(
        out, n=len(photos), height=size, width=size, k=k, force=force
    ) as writer:
        row = 0
        for chunk in progress(
            chunks, total=len(chunks), description=f"inferring {len(photos)} photos"
        ):
            rgbs = np.stack([read_photo(p.path, size=size, crop=crop) for p in chunk])
            abundances = unmixer.transform(unmixer.rgb_from_photo(rgbs, gain=gain))
            for photo, rgb, abundance in zip(chunk, rgbs, abundances, strict=True):
                writer.write(row, abundance, source=str(photo.path), label=photo.label)
                row += 1
                if len(previews) < n_previews:
                    previews.append((Path(photo.path).name, rgb, abundance))
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


def write_unmixing_figures(unmixer: SceneUnmixer, cubes: Sequence[HyperCube], folder: Path) -> None:
    """Endmember spectra, abundance maps and reconstruction of the training HSIs, loss curve."""
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
