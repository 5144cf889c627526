"""File suffixes msfdiff reads and writes: the one list every reader, writer and loader uses."""

from __future__ import annotations

HSI_SUFFIXES = (".mat", ".hdr", ".tif", ".tiff", ".npy", ".npz")
"""Files read as hyperspectral cubes (ENVI by its .hdr)."""

ENVI_SUFFIXES = (".hdr", ".img", ".dat", ".raw", ".bsq", ".bil", ".bip")
"""An ENVI cube may be named by its header or by the data file beside it."""

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
"""Files read as RGB photos."""

AMBIGUOUS_SUFFIXES = tuple(s for s in PHOTO_SUFFIXES if s in HSI_SUFFIXES)
"""A .tif may be a photo or a cube: the caller decides (by its channels, or by the set it is in)."""

HSI_ONLY_SUFFIXES = tuple(s for s in HSI_SUFFIXES if s not in AMBIGUOUS_SUFFIXES)
"""Files that can only be cubes: one in a folder makes it a folder of HSIs."""

PHOTO_ONLY_SUFFIXES = tuple(s for s in PHOTO_SUFFIXES if s not in AMBIGUOUS_SUFFIXES)
"""Files that can only be photos."""

WRITE_SUFFIXES = {
    "envi": (".hdr", ".img"),
    "npy": (".npy",),
    "mat": (".mat",),
    "tif": (".tif", ".tiff"),
}
"""``--format`` name → suffixes a written HSI may have (the first is the one msfdiff picks)."""

WRITE_FORMATS = {name: suffixes[0] for name, suffixes in WRITE_SUFFIXES.items()}
"""``--format`` name → suffix of the HSI file written."""

SIDECAR_SUFFIX = ".wavelengths.csv"
"""Wavelengths beside a cube whose format cannot hold them (msfdiff writes one for .npy)."""
