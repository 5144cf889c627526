"""The in-memory hyperspectral cube: pixels plus the wavelengths that give them meaning."""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field

import numpy as np

from msfdiff.errors import DataFormatError

_CHECK_ELEMENTS = 1 << 22  # values checked at a time by check_finite


@dataclass(frozen=True)
class HyperCube:
    """A hyperspectral image and its band centres.

    Attributes
    ----------
    data : ndarray of shape (height, width, n_bands)
        Reflectance-like values (float32 unless memory-mapped from disk).
    wavelengths_nm : ndarray of shape (n_bands,) or None
        Band centres in nanometres, ascending; None when the source carries none.
    source : str
        Where the cube came from (file path), quoted in error messages.
    """

    data: np.ndarray
    wavelengths_nm: np.ndarray | None = None
    source: str = "<array>"
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.data.ndim != 3:
            raise DataFormatError(
                f"{self.source}: expected a (height, width, bands) cube, got shape {self.data.shape}"
            )
        if self.wavelengths_nm is not None:
            wl = np.asarray(self.wavelengths_nm, dtype=np.float64)
            if wl.shape != (self.n_bands,):
                raise DataFormatError(
                    f"{self.source}: {wl.size} wavelengths given for {self.n_bands} bands"
                )
            if not np.all(np.isfinite(wl)):
                raise DataFormatError(f"{self.source}: wavelengths contain NaN/Inf")
            object.__setattr__(self, "wavelengths_nm", wl)

    @property
    def n_bands(self) -> int:
        return int(self.data.shape[2])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)  # type: ignore[return-value]

    def require_wavelengths(self) -> np.ndarray:
        """Return the wavelengths or raise a one-line error naming the file."""
        if self.wavelengths_nm is None:
            raise DataFormatError(
                f"{self.source}: no wavelengths in the file; pass --wavelengths (CSV or START:STOP:COUNT)"
            )
        return self.wavelengths_nm

    def with_data(self, data: np.ndarray, wavelengths_nm: np.ndarray | None = None) -> HyperCube:
        """A copy with new pixels (and optionally new wavelengths), same source."""
        wl = self.wavelengths_nm if wavelengths_nm is None else wavelengths_nm
        return HyperCube(data, wl, self.source, dict(self.meta))


def check_finite(array: np.ndarray, source: str) -> None:
    """Raise a one-line error if ``array`` holds NaN or Inf.

    Checked in blocks of whole rows (a transposed memmap is never copied whole), dropping the
    pages read from a memory-mapped file as it goes (:func:`release_pages`).
    """
    array = array.reshape(1) if array.ndim == 0 else array
    rows = max(1, _CHECK_ELEMENTS // max(1, array[:1].size))
    for start in range(0, array.shape[0], rows):
        block = np.asarray(array[start : start + rows])
        if not np.all(np.isfinite(block)):
            n_bad = int((~np.isfinite(block)).sum())
            raise DataFormatError(f"{source}: contains NaN/Inf values ({n_bad}+ elements)")
        release_pages(array)


def release_pages(array: np.ndarray) -> None:
    """Unmap the resident pages of the file ``array`` is memory-mapped from; else do nothing.

    Pages read through a memmap stay mapped into the process and count towards its resident
    size until the kernel needs the memory, so a pass over a scene larger than memory would
    seem to hold all of it. Dropping them after each block keeps the resident size at one
    block: the data stay in the page cache (written back first if changed), and a later read
    maps them again.
    """
    node, owner = array, None
    while node is not None and not isinstance(node, mmap.mmap):
        owner = node if isinstance(node, np.memmap) else owner
        node = getattr(node, "base", None)
    # a copy-on-write map ("c") would lose its changes, and a map of unknown mode might
    if node is None or owner is None or owner.mode == "c" or node.closed:
        return
    if hasattr(mmap, "MADV_DONTNEED"):
        node.flush()  # a no-op for a read-only map
        node.madvise(mmap.MADV_DONTNEED)
