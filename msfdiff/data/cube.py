"""The in-memory hyperspectral cube: pixels plus the wavelengths that give them meaning."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from msfdiff.errors import DataFormatError


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
    """Raise a one-line error if ``array`` holds NaN or Inf (checked in chunks, memmap-safe)."""
    flat = array.reshape(-1)
    step = 1 << 22
    for start in range(0, flat.size, step):
        chunk = np.asarray(flat[start : start + step])
        if not np.all(np.isfinite(chunk)):
            n_bad = int((~np.isfinite(chunk)).sum())
            raise DataFormatError(f"{source}: contains NaN/Inf values ({n_bad}+ elements)")
