"""A samples folder (``msfdiff sample``'s output) as a data set: its complete samples, read
one at a time, so a set of thousands streams without loading it.

The folder's layout (names from :mod:`msfdiff.layout`, described in docs/samples.md)::

    OUT/sampling.json               the settings every sample was drawn with (format, seed, …)
    OUT/sample_NNNN<.npy|.hdr|…>    sample i's HSI (H, W, n_bands), with its wavelengths
    OUT/sample_NNNN_abundance.npy   its abundance map (H, W, k), written last (fused samples)
    OUT/shards/shard-R-of-N.json    the indices process R of N owned (sharded runs)
    OUT/samples.json                the whole set's index, once samples 0..n-1 are complete

A sample whose last file (its abundance map, or profiles without one) is missing is
unfinished and left out (:func:`~msfdiff.layout.complete_samples`): those files, not
``samples.json``, say what is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from msfdiff._io import write_json
from msfdiff.data.formats import WRITE_FORMATS
from msfdiff.data.readers import read_hsi
from msfdiff.errors import DataFormatError, DataNotFoundError
from msfdiff.layout import (
    SAMPLE_INDEX,
    SAMPLING_MANIFEST,
    complete_samples,
    sample_abundance_path,
    sample_file,
)


class Sample(NamedTuple):
    """One synthetic sample, its arrays memory-mapped where the file format allows."""

    hsi: np.ndarray
    """Of shape (height, width, n_bands)."""
    abundances: np.ndarray | None
    """Of shape (height, width, k); None for a cube drawn without abundances."""
    meta: dict[str, Any]
    """``index``, ``path`` (the HSI file), ``wavelengths_nm`` and ``class`` (or None)."""


class SampleFolder(Sequence):
    """The complete samples of a samples folder, in index order; item ``j`` is the ``j``-th
    complete sample as a :class:`Sample`, read from disk only when asked for.

    Build it with :func:`load_samples`. A plain sequence, so it also serves as a map-style
    torch data set (convert the arrays in your ``collate_fn``).
    """

    def __init__(self, folder: Path, settings: dict[str, Any], indices: list[int]) -> None:
        self.folder = folder
        self.settings = settings
        self.indices = indices
        self.fused = _fused(settings)
        self.suffix = WRITE_FORMATS[settings["format"]]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, position: int) -> Sample:  # type: ignore[override]
        index = self.indices[position]
        path = sample_file(self.folder, index, self.suffix)
        cube = read_hsi(path)
        abundances = _memmap(sample_abundance_path(self.folder, index)) if self.fused else None
        meta = {
            "index": index,
            "path": path,
            "wavelengths_nm": cube.wavelengths_nm,
            "class": self.class_of(index),
        }
        return Sample(cube.data, abundances, meta)

    def class_of(self, index: int) -> str | None:
        """Sample ``index``'s scene class: the one asked for, else ``classes[i % m]`` (a
        conditional model asked for none), else None."""
        classes = self.settings.get("classes") or []
        if self.settings.get("class") is not None or not classes:
            return self.settings.get("class")
        return classes[index % len(classes)]


def load_samples(folder: str | os.PathLike) -> SampleFolder:
    """Open a samples folder as a lazy sequence of its complete samples.

    Only ``sampling.json`` is read and the folder listed; each sample's files are opened when
    it is indexed. Unfinished samples (no completion marker) are left out.

    Raises
    ------
    DataNotFoundError
        ``folder`` has no ``sampling.json``.
    DataFormatError
        ``sampling.json`` is not a sampling manifest.

    Examples
    --------
    >>> for hsi, abundances, meta in load_samples("samples"):  # doctest: +SKIP
    ...     train_step(hsi[:], meta["class"])
    """
    folder = Path(folder)
    settings = read_sampling_manifest(folder)
    return SampleFolder(folder, settings, complete_samples(folder, fused=_fused(settings)))


def read_sampling_manifest(folder: str | os.PathLike) -> dict[str, Any]:
    """The settings in ``folder/sampling.json``, with a one-line error naming the file."""
    path = Path(folder) / SAMPLING_MANIFEST
    if not path.is_file():
        raise DataNotFoundError(f"{folder}: not a samples folder ({SAMPLING_MANIFEST} missing)")
    try:
        settings = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: not valid JSON ({exc.msg}); corrupt?") from None
    except UnicodeDecodeError:
        raise DataFormatError(f"{path}: not text; corrupt?") from None
    if not isinstance(settings, dict) or settings.get("format") not in WRITE_FORMATS:
        raise DataFormatError(f"{path}: not a sampling manifest (no known 'format')")
    return settings


def write_sample_index(folder: str | os.PathLike, n: int) -> Path | None:
    """Write ``samples.json``, the index of samples 0..n-1, when all of them are complete
    (else write nothing and return None).

    Every process of a sharded run calls this after its share: the last to finish sees the
    whole set, and concurrent writers write the same content atomically.
    """
    samples = load_samples(folder)
    if samples.indices[:n] != list(range(n)):
        return None
    entries = [
        {
            "index": i,
            "hsi": sample_file(samples.folder, i, samples.suffix).name,
            "abundance": sample_abundance_path(samples.folder, i).name if samples.fused else None,
        }
        for i in range(n)
    ]
    index = {"n": n, "format": samples.settings["format"], "samples": entries}
    return write_json(samples.folder / SAMPLE_INDEX, index)


def _fused(settings: dict[str, Any]) -> bool:
    """Whether the samples were fused from abundance maps (they carry the unmixer's digest)."""
    return settings.get("unmixer_sha256") is not None


def _memmap(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{path}: not a readable .npy array ({exc})") from None
