"""The two sides of an evaluation: sets of HSIs or photos read from files and folders.

A folder is read with the data layer's own rules, so ``msfdiff evaluate`` sees the same files
as the commands that trained on them: HSIs via :func:`~msfdiff.data.readers.expand_hsi_paths`
(recursive, hidden files and synthetic samples' abundance maps skipped), photos via
:func:`~msfdiff.data.rgb.list_photos` (recursive, so the AID class-folder layout works).
:func:`share_wavelengths` and :func:`same_bands` say how far two sets can be compared.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from msfdiff.data.formats import HSI_ONLY_SUFFIXES, PHOTO_ONLY_SUFFIXES
from msfdiff.data.readers import expand_hsi_paths, hsi_files, read_hsi_many
from msfdiff.data.rgb import list_photos, read_photo
from msfdiff.errors import DataFormatError, DataNotFoundError
from msfdiff.layout import GUIDANCE_SOURCES, SAMPLING_MANIFEST, sample_abundance_paths

SET_KINDS = ("auto", "hsi", "rgb")


@dataclass(frozen=True)
class SampleSet:
    """A set of images to evaluate: HSIs (with wavelengths) or RGB photos.

    Attributes
    ----------
    images : list of ndarray of shape (height, width, n_channels)
        Same channel count throughout; sizes may differ. RGB photos are floats in [0, 1].
    kind : {'hsi', 'rgb'}
    wavelengths_nm : ndarray of shape (n_channels,) or None
        Band centres of HSIs; needed to pick false-colour bands.
    name : str
        Shown in reports (usually the folder).
    sources : tuple of str
        The files the images came from.
    """

    images: list[np.ndarray]
    kind: str
    wavelengths_nm: np.ndarray | None = None
    name: str = ""
    sources: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        where = self.name or "set"
        if self.kind not in ("hsi", "rgb"):
            raise DataFormatError(f"{where}: kind must be 'hsi' or 'rgb', got {self.kind!r}")
        if not self.images:
            raise DataFormatError(f"{where}: no images")
        channels = {image.shape[-1] for image in self.images}
        if any(image.ndim != 3 for image in self.images) or len(channels) != 1:
            raise DataFormatError(f"{where}: images must all be (height, width, C) with one C")
        if self.kind == "rgb" and channels != {3}:
            raise DataFormatError(f"{where}: RGB photos need 3 channels, got {channels.pop()}")
        if self.wavelengths_nm is not None and len(self.wavelengths_nm) != self.n_channels:
            raise DataFormatError(
                f"{where}: {len(self.wavelengths_nm)} wavelengths for {self.n_channels} bands"
            )

    @property
    def n_channels(self) -> int:
        return int(self.images[0].shape[-1])

    def describe(self) -> dict[str, Any]:
        """The set as metrics.json records it."""
        shapes = sorted({image.shape[:2] for image in self.images})
        return {
            "name": self.name,
            "kind": self.kind,
            "n_images": len(self.images),
            "n_channels": self.n_channels,
            "image_sizes": [list(s) for s in shapes],
            "wavelengths_nm": None if self.wavelengths_nm is None else self.wavelengths_nm.tolist(),
        }


def load_set(
    paths: Sequence[str | os.PathLike],
    *,
    kind: str = "auto",
    wavelengths_nm: np.ndarray | None = None,
    key: str | None = None,
    scale: float | None = None,
    photo_size: int | None = None,
    max_images: int | None = None,
    seed: int = 0,
) -> SampleSet:
    """Read files and folders into a :class:`SampleSet`.

    Parameters
    ----------
    paths : sequence of path-like
        Files or folders. With ``kind='auto'`` a folder holding files that can only be cubes
        (``.mat``, ``.npy``, ``.npz``, ENVI ``.hdr``), or a samples folder of ``msfdiff
        sample``, is a folder of HSIs (TIFFs among them count as HSIs); any other folder is
        one of photos. A lone file is a photo when its suffix can only be a photo's.
    kind : {'auto', 'hsi', 'rgb'}
        Force the reading, e.g. ``'hsi'`` for a folder of multi-band TIFFs.
    wavelengths_nm : ndarray of shape (n_bands,), optional
        For HSI files that store none.
    key : str, optional
        Variable name inside ``.mat``/``.npz`` files.
    scale : float, optional
        Divide HSI data by this (65535 for uint16 reflectance), as the unmixer's training
        data was; integer HSIs need it.
    photo_size : int, optional
        Centre-crop and resize photos to this square size.
    max_images : int, optional
        Read only this many files, a seeded random choice (a full synthetic run can hold
        thousands of cubes).
    seed : int
        Seeds that choice.
    """
    if kind not in SET_KINDS:
        raise DataFormatError(f"unknown set kind {kind!r}; use auto, hsi or rgb")
    photo_files, cube_files = _split_files(paths, kind)
    name = ", ".join(os.fspath(p) for p in paths)
    if photo_files and cube_files:
        raise DataFormatError(f"{name}: mixes photos and hyperspectral files; give them separately")
    files = photo_files or cube_files
    if not files:
        raise DataNotFoundError(f"{name}: no images found")
    if max_images is not None and len(files) > max_images:
        rng = np.random.default_rng(seed)
        files = [files[i] for i in np.sort(rng.choice(len(files), size=max_images, replace=False))]
    if photo_files:
        images = [read_photo(f, size=photo_size) for f in files]
        return SampleSet(images, "rgb", None, name, tuple(map(str, files)))
    cubes = read_hsi_many(files, key=key, wavelengths=wavelengths_nm, scale=scale)
    images = [np.asarray(c.data, dtype=np.float32) for c in cubes]
    return SampleSet(images, "hsi", cubes[0].wavelengths_nm, name, tuple(c.source for c in cubes))


def _split_files(paths: Sequence[str | os.PathLike], kind: str) -> tuple[list[Path], list[Path]]:
    """The photo files and the HSI files that ``paths`` name, in order."""
    photos: list[Path] = []
    cubes: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise DataNotFoundError(f"{path}: no such file or folder")
        if path.is_file():
            is_photo = kind == "rgb" or (
                kind == "auto" and path.suffix.lower() in PHOTO_ONLY_SUFFIXES
            )
            (photos if is_photo else cubes).append(path)
        elif kind == "hsi" or (kind == "auto" and _holds_hsi(path)):
            cubes += expand_hsi_paths([path])
        else:
            photos += [photo.path for photo in list_photos(path)]
    return photos, cubes


def _holds_hsi(folder: Path) -> bool:
    """Whether ``folder`` is one of HSIs: a samples folder, or one with a file only a cube can be."""
    return bool(sample_abundance_paths(folder)) or any(
        path.suffix.lower() in HSI_ONLY_SUFFIXES for path in hsi_files(folder)
    )


def share_wavelengths(
    real: SampleSet, synthetic: SampleSet
) -> tuple[SampleSet, SampleSet, list[str]]:
    """Give an HSI set without wavelengths those of the other set when the band counts match.

    Typical case: real ``.mat`` patches that store none against synthetic ENVI files that do.
    Returns both sets and a note saying what was done, if anything.
    """
    if real.kind != "hsi" or synthetic.kind != "hsi" or real.n_channels != synthetic.n_channels:
        return real, synthetic, []
    if real.wavelengths_nm is None and synthetic.wavelengths_nm is not None:
        note = "the real set stores no wavelengths; those of the synthetic set were used"
        return replace(real, wavelengths_nm=synthetic.wavelengths_nm), synthetic, [note]
    if synthetic.wavelengths_nm is None and real.wavelengths_nm is not None:
        note = "the synthetic set stores no wavelengths; those of the real set were used"
        return real, replace(synthetic, wavelengths_nm=real.wavelengths_nm), [note]
    return real, synthetic, []


def same_bands(a: SampleSet, b: SampleSet) -> bool:
    """Two HSI sets whose pixels can be compared spectrum by spectrum."""
    if a.kind != "hsi" or b.kind != "hsi" or a.n_channels != b.n_channels:
        return False
    if a.wavelengths_nm is None or b.wavelengths_nm is None:
        return True
    return bool(np.allclose(a.wavelengths_nm, b.wavelengths_nm, atol=1e-3))


def abundance_maps(folder: str | os.PathLike) -> list[np.ndarray] | np.ndarray:
    """The maps of a samples folder (``*_abundance.npy``, index order) or of an abundance data
    set (memory-mapped (n, H, W, k), so a large training set is read block by block)."""
    from msfdiff.data.abundances import load_abundance_dataset

    paths = sample_abundance_paths(folder)
    if paths:
        return [np.load(path) for path in paths]
    return load_abundance_dataset(folder).array


def cycled_sources(sources: Sequence[np.ndarray] | np.ndarray, n: int) -> list[np.ndarray]:
    """The source map of each of ``n`` variations: sample ``i`` follows source ``i % m``, as
    :class:`msfdiff.generator.Guidance` draws them."""
    return [np.asarray(sources[i % len(sources)]) for i in range(n)]


def recorded_sources(
    samples_folder: str | os.PathLike, n: int
) -> tuple[list[np.ndarray] | None, str | None]:
    """The sources of the first ``n`` samples of a guided folder: the maps kept beside them
    (``guidance_sources.npy``), or the abundance data set its ``sampling.json`` names under
    ``like``. Else None, with a note when the samples started from real maps (the manifest
    has the ``like_sha256`` of :meth:`msfdiff.generator.Guidance.manifest`) not on file."""
    from msfdiff.data.abundances import load_abundance_dataset

    kept = Path(samples_folder) / GUIDANCE_SOURCES
    if kept.is_file():
        return cycled_sources(np.load(kept), n), None
    path = Path(samples_folder) / SAMPLING_MANIFEST
    manifest = json.loads(path.read_text()) if path.is_file() else {}
    like = manifest.get("like")
    if like is None:
        if "like_sha256" not in manifest:
            return None, None  # plain samples
        return None, f"distance to the source skipped: {path} names no source maps on file"
    try:
        sources = load_abundance_dataset(like).array
    except (DataNotFoundError, DataFormatError) as err:
        return None, f"distance to the source skipped: {err}"
    return cycled_sources(sources, n), None
