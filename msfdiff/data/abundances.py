"""Abundance datasets on disk: the hand-off between unmixing inference and diffusion training.

A dataset is a folder holding

* ``abundances.npy`` -- ndarray of shape (n, height, width, k), float16 or float32, written with
  :func:`numpy.lib.format.open_memmap` so that training can memory-map it instead of loading
  thousands of maps into RAM;
* ``index.json`` -- ``{"n", "height", "width", "k", "files", "labels", "classes"}``: the
  source photo of each row, its scene label (or null) and the sorted distinct labels.

Every row is a map of fractional abundances: non-negative and summing to one over ``k``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from msfdiff._io import atomic_dir
from msfdiff.data.maps import MapDataset
from msfdiff.errors import DataFormatError, DataNotFoundError

ARRAY_NAME = "abundances.npy"
INDEX_NAME = "index.json"
SUM_TOLERANCE = 1e-3  # float16 storage rounds a sum of k values by at most 2**-11 < 1e-3
_DTYPES = ("float16", "float32")


def check_simplex(abundances: np.ndarray, where: str) -> None:
    """Raise a one-line error unless ``abundances`` (..., k) are finite, >= 0 and sum to one."""
    values = np.asarray(abundances, dtype=np.float32)
    if not np.all(np.isfinite(values)):
        raise DataFormatError(f"{where}: abundances contain NaN/Inf")
    low = float(values.min())
    if low < 0:
        raise DataFormatError(f"{where}: abundances must be >= 0, found {low:.3g}")
    worst = float(np.abs(values.sum(axis=-1) - 1.0).max())
    if worst > SUM_TOLERANCE:
        raise DataFormatError(
            f"{where}: abundances must sum to one over the last axis (off by up to {worst:.3g})"
        )


class AbundanceDatasetWriter:
    """Stream abundance maps into a new dataset folder; the folder appears only on :meth:`close`.

    Parameters
    ----------
    out_dir : path
        Folder to create. An existing folder is refused unless ``force``.
    n, height, width, k : int
        Number of maps and the shape (height, width, k) of each.
    dtype : {"float16", "float32"}
        Storage type; float16 halves the disk and page-cache footprint at ~5e-4 precision.
    force : bool
        Replace an existing ``out_dir``.

    Examples
    --------
    >>> with AbundanceDatasetWriter(tmp, n=1, height=2, width=2, k=2) as w:  # doctest: +SKIP
    ...     w.write(0, np.full((2, 2, 2), 0.5), source="a.jpg", label="farmland")
    """

    def __init__(
        self,
        out_dir: str | os.PathLike,
        *,
        n: int,
        height: int,
        width: int,
        k: int,
        dtype: str = "float32",
        force: bool = False,
    ) -> None:
        if dtype not in _DTYPES:
            raise DataFormatError(f"{out_dir}: dtype must be one of {list(_DTYPES)}, got {dtype!r}")
        if min(n, height, width, k) < 1:
            raise DataFormatError(f"{out_dir}: n, height, width and k must be >= 1")
        self.out_dir = Path(out_dir)
        self.shape = (n, height, width, k)
        self._folder = atomic_dir(self.out_dir, force=force)
        self._tmp = self._folder.__enter__()
        self._array = np.lib.format.open_memmap(
            self._tmp / ARRAY_NAME, mode="w+", dtype=dtype, shape=self.shape
        )
        self._files: list[str | None] = [None] * n
        self._labels: list[str | None] = [None] * n
        self._written = np.zeros(n, dtype=bool)

    def write(
        self, i: int, abundance: np.ndarray, *, source: str | os.PathLike, label: str | None = None
    ) -> None:
        """Store row ``i``: ``abundance`` of shape (height, width, k), inferred from ``source``."""
        if not 0 <= i < self.shape[0]:
            raise DataFormatError(f"{self.out_dir}: row {i} outside 0..{self.shape[0] - 1}")
        abundance = np.asarray(abundance)
        if abundance.shape != self.shape[1:]:
            raise DataFormatError(
                f"{source}: expected abundances of shape {self.shape[1:]}, got {abundance.shape}"
            )
        check_simplex(abundance, str(source))
        self._array[i] = abundance
        self._files[i] = os.fspath(source)
        self._labels[i] = label
        self._written[i] = True

    def close(self) -> Path:
        """Check every row was written, then move the folder into place atomically."""
        missing = np.flatnonzero(~self._written)
        if missing.size:
            self.abort()
            raise DataFormatError(
                f"{self.out_dir}: {missing.size} of {self.shape[0]} rows never written "
                f"(first: {int(missing[0])})"
            )
        self._array.flush()
        del self._array
        n, height, width, k = self.shape
        index = {
            "n": n,
            "height": height,
            "width": width,
            "k": k,
            "files": self._files,
            "labels": self._labels,
            "classes": sorted({label for label in self._labels if label is not None}),
        }
        (self._tmp / INDEX_NAME).write_text(json.dumps(index, indent=1))
        self._folder.__exit__(None, None, None)
        return self.out_dir

    def abort(self) -> None:
        """Discard everything written so far; ``out_dir`` is left untouched."""
        if hasattr(self, "_array"):
            del self._array
        self._folder.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self) -> AbundanceDatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class AbundanceDataset(MapDataset):
    """A memory-mapped abundance dataset; items are ``(tensor (k, H, W) float32, class index)``.

    The class index is the position of the row's label in :attr:`classes`, or -1 when unlabelled.
    Build it with :func:`load_abundance_dataset`, which validates the folder.
    """

    def __init__(self, folder: Path, array: np.ndarray, index: dict) -> None:
        super().__init__(array, index["labels"], name=str(folder), check=False)
        self.files: list[str] = list(index["files"])


def load_abundance_dataset(folder: str | os.PathLike, *, check_rows: int = 64) -> AbundanceDataset:
    """Open and validate an abundance dataset folder.

    Parameters
    ----------
    folder : path
        A folder written by :class:`AbundanceDatasetWriter`.
    check_rows : int
        How many rows (evenly spaced) to check for the simplex constraints; the rest are trusted
        so that opening a large dataset stays fast.
    """
    folder = Path(folder)
    array_path, index_path = folder / ARRAY_NAME, folder / INDEX_NAME
    for path in (array_path, index_path):
        if not path.is_file():
            raise DataNotFoundError(f"{folder}: not an abundance dataset ({path.name} missing)")
    try:
        index = json.loads(index_path.read_text())
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{index_path}: not valid JSON ({exc.msg})") from None
    keys = {"n", "height", "width", "k", "files", "labels", "classes"}
    if not isinstance(index, dict) or not keys <= set(index):
        raise DataFormatError(f"{index_path}: expected keys {sorted(keys)}")
    try:
        array = np.load(array_path, mmap_mode="r")
    except ValueError as exc:
        raise DataFormatError(f"{array_path}: not a readable .npy array ({exc})") from None
    expected = tuple(int(index[key]) for key in ("n", "height", "width", "k"))
    if array.shape != expected:
        raise DataFormatError(
            f"{folder}: {ARRAY_NAME} has shape {array.shape}, index says {expected}"
        )
    if array.dtype.name not in _DTYPES:
        raise DataFormatError(f"{folder}: {ARRAY_NAME} is {array.dtype}, expected float16/float32")
    n = expected[0]
    if len(index["files"]) != n or len(index["labels"]) != n:
        raise DataFormatError(f"{index_path}: 'files' and 'labels' must have {n} entries each")
    classes = sorted({label for label in index["labels"] if label is not None})
    if list(index["classes"]) != classes:
        raise DataFormatError(
            f"{index_path}: 'classes' must be the sorted distinct labels {classes}"
        )
    rows = np.unique(np.linspace(0, n - 1, num=min(n, check_rows)).round().astype(int))
    for i in rows:
        check_simplex(array[i], f"{folder} row {i}")
    return AbundanceDataset(folder, array, index)


def make_synthetic_abundances(
    n: int,
    height: int,
    width: int,
    k: int,
    *,
    smoothness: float = 4.0,
    sharpness: float = 3.0,
    seed: int = 0,
) -> np.ndarray:
    """Abundance-like maps for tests and demos: softmax of spatially smoothed Gaussian noise.

    ``smoothness`` is the Gaussian blur sigma in pixels (patch size of land-cover regions) and
    ``sharpness`` multiplies the logits, so larger values give purer pixels.

    Returns
    -------
    ndarray of shape (n, height, width, k), float32, each pixel on the simplex.
    """
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, height, width, k))
    smooth = gaussian_filter(noise, sigma=(0, smoothness, smoothness, 0), mode="wrap")
    logits = sharpness * smooth / smooth.std()
    logits -= logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)


def write_abundance_dataset(
    out_dir: str | os.PathLike,
    abundances: np.ndarray,
    *,
    files: Sequence[str] | None = None,
    labels: Sequence[str | None] | None = None,
    dtype: str = "float32",
    force: bool = False,
) -> Path:
    """Write an in-memory (n, H, W, k) array as a dataset folder (small data, tests, demos)."""
    n, height, width, k = abundances.shape
    files = list(files) if files is not None else [f"<array>[{i}]" for i in range(n)]
    labels = list(labels) if labels is not None else [None] * n
    with AbundanceDatasetWriter(
        out_dir, n=n, height=height, width=width, k=k, dtype=dtype, force=force
    ) as writer:
        for i in range(n):
            writer.write(i, abundances[i], source=files[i], label=labels[i])
    return Path(out_dir)
