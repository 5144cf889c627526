"""Square training patches cut from large cubes, listed in a JSON-serialisable manifest.

Only offsets are stored; pixels are sliced from the (usually memory-mapped) cube when a patch
is needed, and the pages read are released again, so a scene larger than memory can feed
training. The train/validation split is by patch and seeded, so the same manifest arguments
always give the same split.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from msfdiff.data.cube import HyperCube, release_pages
from msfdiff.data.readers import check_same_bands, read_hsi
from msfdiff.errors import ConfigError, DataFormatError

CubeReader = Callable[[str], HyperCube]


def extract_patches(
    cube: HyperCube | np.ndarray, *, size: int, stride: int
) -> list[tuple[int, int]]:
    """Top-left (row, col) offsets of a sliding window over a cube.

    Windows start at 0 and step by ``stride`` while they fit; pixels beyond the last full
    window (fewer than ``stride``) are not covered.

    Parameters
    ----------
    cube : HyperCube or ndarray of shape (height, width, ...)
    size : int
        Patch side in pixels.
    stride : int
        Step between patch origins; smaller than ``size`` gives overlapping patches.

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> extract_patches(np.zeros((5, 7, 3)), size=4, stride=3)
    [(0, 0), (0, 3)]
    """
    data, source = (cube.data, cube.source) if isinstance(cube, HyperCube) else (cube, "<array>")
    if size < 1 or stride < 1:
        raise ConfigError(f"patch size and stride must be positive, got {size} and {stride}")
    height, width = data.shape[:2]
    if height < size or width < size:
        raise DataFormatError(f"{source}: image {height}x{width} is smaller than patch size {size}")
    return [
        (row, col)
        for row in range(0, height - size + 1, stride)
        for col in range(0, width - size + 1, stride)
    ]


def make_manifest(
    paths: Iterable[str | os.PathLike],
    *,
    size: int,
    stride: int,
    val_fraction: float = 0.1,
    seed: int = 0,
    reader: CubeReader = read_hsi,
) -> dict:
    """List every patch of every cube and split them into train and validation sets.

    Parameters
    ----------
    paths : iterable of paths
        Cubes sharing band count and wavelengths (checked).
    size, stride : int
        As for :func:`extract_patches`.
    val_fraction : float
        Share of patches held out, in [0, 1); at least one patch when positive.
    seed : int
        Seeds the split.
    reader : callable
        Opens a path as a HyperCube, e.g. ``functools.partial(read_hsi, key="Y")``.

    Returns
    -------
    dict
        ``{"size", "stride", "seed", "val_fraction", "n_bands", "wavelengths_nm",
        "train": [{"source", "row", "col"}, ...], "val": [...]}``, ready for JSON.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction}")
    entries: list[dict] = []
    first: HyperCube | None = None
    for path in paths:
        cube = reader(os.fspath(path))
        if first is None:
            first = cube
        else:
            check_same_bands(first, cube)
        offsets = extract_patches(cube, size=size, stride=stride)
        entries += [{"source": os.fspath(path), "row": r, "col": c} for r, c in offsets]
    if first is None:
        raise ConfigError("make_manifest needs at least one cube")
    order = np.random.default_rng(seed).permutation(len(entries))
    n_val = int(round(val_fraction * len(entries)))
    if val_fraction > 0 and len(entries) > 1:
        n_val = min(max(n_val, 1), len(entries) - 1)
    wl = first.wavelengths_nm
    return {
        "size": size,
        "stride": stride,
        "seed": seed,
        "val_fraction": val_fraction,
        "n_bands": first.n_bands,
        "wavelengths_nm": None if wl is None else wl.tolist(),
        "train": [entries[i] for i in sorted(order[n_val:])],
        "val": [entries[i] for i in sorted(order[:n_val])],
    }


def load_patch(
    entry: Mapping, cubes_or_reader: Mapping[str, HyperCube] | CubeReader, *, size: int
) -> np.ndarray:
    """Slice one manifest entry out of its cube.

    Parameters
    ----------
    entry : mapping
        ``{"source", "row", "col"}`` from :func:`make_manifest`.
    cubes_or_reader : mapping of source to HyperCube, or callable
        Open cubes keyed by source, or a function that opens a source.
    size : int
        Patch side (the manifest's ``size``).

    Returns
    -------
    ndarray of shape (size, size, n_bands), float32
        A copy: the cube's pages are released once it is read (:func:`release_pages`), so
        reading every patch of a memory-mapped scene never holds the scene.
    """
    source = entry["source"]
    if callable(cubes_or_reader):
        cube = cubes_or_reader(source)
    else:
        cube = cubes_or_reader[source]
    row, col = int(entry["row"]), int(entry["col"])
    height, width = cube.data.shape[:2]
    if row < 0 or col < 0 or row + size > height or col + size > width:
        raise DataFormatError(
            f"{source}: patch at ({row}, {col}) of size {size} exceeds the {height}x{width} image"
        )
    patch = np.array(cube.data[row : row + size, col : col + size], dtype=np.float32)
    release_pages(cube.data)
    return patch


class PatchSet(Sequence):
    """The patches of one manifest split, read lazily; each cube is opened once.

    Parameters
    ----------
    manifest : dict
        From :func:`make_manifest` (or its JSON).
    split : {'train', 'val'}
    reader : callable
        Opens a source path as a HyperCube; use the same one as for the manifest.

    Examples
    --------
    ``PatchSet(manifest, "train")[0]`` is an ndarray of shape (size, size, n_bands).
    """

    def __init__(self, manifest: Mapping, split: str = "train", *, reader: CubeReader = read_hsi):
        if split not in ("train", "val"):
            raise ConfigError(f"split must be 'train' or 'val', got {split!r}")
        self.size = int(manifest["size"])
        self.entries = list(manifest[split])
        self._reader = reader
        self._cubes: dict[str, HyperCube] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        return load_patch(self.entries[index], self._cube, size=self.size)

    def _cube(self, source: str) -> HyperCube:
        if source not in self._cubes:
            self._cubes[source] = self._reader(source)
        return self._cubes[source]
