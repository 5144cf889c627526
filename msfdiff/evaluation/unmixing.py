"""How well an unmixer does (paper Table 3): held-out reconstruction, reference endmembers."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.io

from msfdiff.data.cube import HyperCube
from msfdiff.errors import DataFormatError, DataNotFoundError
from msfdiff.evaluation.reconstruction import match_endmembers, reconstruction_metrics
from msfdiff.plotting import plot_reconstruction
from msfdiff.progress import Progress, track
from msfdiff.unmixing.estimator import SceneUnmixer

METRIC_KEYS = ("rmse", "psnr", "ssim", "sad_deg", "ergas")
FIGURES_SHOWN = 8  # held-out images that get a reconstruction figure


def evaluate_unmixer(
    unmixer: SceneUnmixer,
    cubes: Sequence[HyperCube],
    figures: str | os.PathLike | None = None,
    *,
    progress: Progress | None = None,
) -> dict:
    """Table 3 protocol: reconstruct each HSI from its own 3 bands; per-image rows and means.

    ``progress(done, total)`` counts images; the first ``FIGURES_SHOWN`` get a figure in
    ``figures`` when it is given.
    """
    rows = []
    for i, cube in enumerate(track(cubes, len(cubes), progress)):
        target = np.asarray(cube.data, dtype=np.float32)
        recon = unmixer.reconstruct(cube)
        rows.append({"source": cube.source, **reconstruction_metrics(recon, target)})
        if figures is not None and i < FIGURES_SHOWN:
            plot_reconstruction(
                target, recon, cube.wavelengths_nm, Path(figures) / f"reconstruction_{i:02d}.png"
            )
    mean = {k: float(np.mean([r[k] for r in rows])) for k in METRIC_KEYS}
    return {"mean": mean, "images": rows}


def endmember_agreement(unmixer: SceneUnmixer, reference: np.ndarray) -> dict:
    """Hungarian-matched spectral angles between learned and reference endmembers."""
    order, sad = match_endmembers(unmixer.endmembers_, reference)
    return {
        "sad_deg": sad.tolist(),
        "mean_sad_deg": float(sad.mean()),
        "matched_learned_index": order.tolist(),
    }


def read_endmembers(path: str | os.PathLike, n_bands: int, *, key: str | None = None) -> np.ndarray:
    """Reference endmembers (k, n_bands) from .npy, .csv or .mat (either orientation).

    In a .mat file the array is ``key`` or the only 2-D array with an axis of ``n_bands``.
    """
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            matrix = np.load(path)
        elif suffix in (".csv", ".txt"):
            matrix = np.loadtxt(path, delimiter="," if suffix == ".csv" else None, ndmin=2)
        else:
            matrix = _mat_endmembers(path, n_bands, key)
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


def _mat_endmembers(path: Path, n_bands: int, key: str | None) -> np.ndarray:
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
    return arrays[key]
