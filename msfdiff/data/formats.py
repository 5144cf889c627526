"""File suffixes msfdiff reads and writes: the one list every reader, writer and loader uses."""

from __future__ import annotations

HSI_SUFFIXES = (".mat", ".hdr", ".tif", ".tiff", ".npy", ".npz")
"""Files read as hyperspectral cubes (ENVI by its .hdr)."""

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
"""Files read as RGB photos."""

AMBIGUOUS_SUFFIXES = tuple(s for s in PHOTO_SUFFIXES if s in HSI_SUFFIXES)
"""A .tif may be either: the number of channels decides."""

WRITE_FORMATS = {"envi": ".hdr", "npy": ".npy", "mat": ".mat", "tif": ".tif"}
"""``--format`` name → suffix of the HSI file written."""

SIDECAR_SUFFIX = ".wavelengths.csv"
"""Wavelengths written beside formats that cannot hold them (.npy, .tif)."""
