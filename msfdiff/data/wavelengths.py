"""Band centres: parsing them from the command line or a CSV, and resampling cubes between grids."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.interpolate import make_interp_spline

from msfdiff.data.cube import HyperCube
from msfdiff.errors import DataFormatError, DataNotFoundError

CHIKUSEI_MSFDIFF_NOTE = (
    "The MSF-Diff Chikusei patches hold bands 8-66 (1-based) of the 128-band Chikusei sensor, "
    "398.71-698.04 nm in steps of about 5.16 nm. The .mat files store no wavelengths; the range "
    "is inferred from the official code's band choice and the published Chikusei band table."
)

# Chikusei band centres 8..66 (1-based), nm, from the published 128-band table.
_CHIKUSEI_BANDS_8_TO_66 = (
    398.71, 403.87, 409.03, 414.19, 419.36, 424.52, 429.68, 434.84, 440.00, 445.16,
    450.32, 455.48, 460.64, 465.80, 470.96, 476.12, 481.29, 486.45, 491.61, 496.77,
    501.93, 507.09, 512.25, 517.41, 522.57, 527.73, 532.89, 538.06, 543.21, 548.38,
    553.54, 558.70, 563.86, 569.02, 574.18, 579.34, 584.50, 589.66, 594.83, 599.99,
    605.14, 610.31, 615.47, 620.63, 625.79, 630.95, 636.11, 641.27, 646.43, 651.59,
    656.75, 661.92, 667.07, 672.24, 677.40, 682.56, 687.72, 692.88, 698.04,
)  # fmt: skip

_RANGE_SPEC = re.compile(r"^\s*([-+\d.eE]+)\s*:\s*([-+\d.eE]+)\s*:\s*(\d+)\s*$")
_RESAMPLE_ORDER = {"linear": 1, "cubic": 3}
_EDGE_TOL_NM = 1e-6


def chikusei_msfdiff_wavelengths() -> np.ndarray:
    """Band centres of the 59-band MSF-Diff Chikusei patches, in nm.

    Returns
    -------
    ndarray of shape (59,)
        398.71 ... 698.04 nm. See :data:`CHIKUSEI_MSFDIFF_NOTE` for where they come from.

    Examples
    --------
    >>> wl = chikusei_msfdiff_wavelengths()
    >>> wl.shape, float(wl[0]), float(wl[-1])
    ((59,), 398.71, 698.04)
    """
    return np.array(_CHIKUSEI_BANDS_8_TO_66, dtype=np.float64)


def parse_wavelengths(
    spec: str | os.PathLike | Sequence[float] | np.ndarray, *, ascending: bool = True
) -> np.ndarray:
    """Turn a command-line wavelength spec into band centres in nm (ascending, unless
    ``ascending=False``: a reader that reorders the bands with their centres takes a sensor's
    own band table as it is).

    Parameters
    ----------
    spec : str, path or array-like
        ``"START:STOP:COUNT"`` for evenly spaced centres (``"400:700:31"``), the path of a
        one-column CSV of centres in nm (an optional header line and trailing commas are
        tolerated), or the values themselves.

    Returns
    -------
    ndarray of shape (n_bands,)

    Examples
    --------
    >>> parse_wavelengths("400:700:4").tolist()
    [400.0, 500.0, 600.0, 700.0]
    """
    if isinstance(spec, str | os.PathLike):
        text = os.fspath(spec)
        match = _RANGE_SPEC.match(text)
        if match:
            start, stop, count = float(match[1]), float(match[2]), int(match[3])
            if count < 1 or stop < start:
                raise DataFormatError(
                    f"{text}: START:STOP:COUNT needs START <= STOP and COUNT >= 1"
                )
            values, where = np.linspace(start, stop, count), text
        else:
            values, where = _read_wavelength_csv(Path(text)), text
    else:
        values, where = np.asarray(spec, dtype=np.float64), "wavelengths"
    if values.ndim != 1 or values.size == 0:
        raise DataFormatError(f"{where}: expected a non-empty list of wavelengths")
    if not np.all(np.isfinite(values)):
        raise DataFormatError(f"{where}: wavelengths contain NaN/Inf")
    if ascending and values.size > 1 and not np.all(np.diff(values) > 0):
        raise DataFormatError(f"{where}: wavelengths must be strictly ascending")
    return values


def _read_wavelength_csv(path: Path) -> np.ndarray:
    """Read one value per line; a first line that is not a number is taken as the header."""
    if not path.is_file():
        raise DataNotFoundError(
            f"{path}: wavelength file not found (or give START:STOP:COUNT, e.g. 400:700:31)"
        )
    values: list[float] = []
    seen_line = False
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        fields = [f for f in re.split(r"[,;\s]+", line.strip()) if f]
        if not fields:
            continue
        if not seen_line:
            seen_line = True
            if not _is_number(fields[0]):
                continue  # header
        if len(fields) != 1 or not _is_number(fields[0]):
            raise DataFormatError(f"{path}, line {line_no}: expected one number, got {line!r}")
        value = float(fields[0])
        if not np.isfinite(value):
            raise DataFormatError(f"{path}, line {line_no}: wavelength is {fields[0]}")
        values.append(value)
    if not values:
        raise DataFormatError(f"{path}: no wavelengths in the file")
    return np.array(values, dtype=np.float64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def resample(
    cube: HyperCube,
    target_nm: np.ndarray | Sequence[float] | str,
    *,
    method: str = "linear",
    rows_per_chunk: int = 64,
    out: np.ndarray | None = None,
) -> HyperCube:
    """Interpolate a cube onto new band centres.

    The cube is read a block of rows at a time, so a memory-mapped cube larger than memory
    works; pass ``out`` (e.g. a ``numpy.lib.format.open_memmap``) when the result is large too.

    Parameters
    ----------
    cube : HyperCube
        Source cube; it must carry wavelengths.
    target_nm : array-like of shape (n_target,) or str
        New band centres in nm (anything :func:`parse_wavelengths` accepts). They must lie
        inside the source range: extrapolating spectra invents data.
    method : {'linear', 'cubic'}
        Spline order along wavelength.
    rows_per_chunk : int
        Image rows interpolated at once.
    out : ndarray of shape (height, width, n_target), optional
        Where to write the result (float32 otherwise).

    Returns
    -------
    HyperCube
        Same pixels and source, new wavelengths.
    """
    if method not in _RESAMPLE_ORDER:
        raise DataFormatError(f"unknown resampling method {method!r}; use linear or cubic")
    source_nm = cube.require_wavelengths()
    target = parse_wavelengths(target_nm)
    lo, hi = source_nm[0], source_nm[-1]
    if target[0] < lo - _EDGE_TOL_NM or target[-1] > hi + _EDGE_TOL_NM:
        raise DataFormatError(
            f"{cube.source}: target {target[0]:g}-{target[-1]:g} nm lies outside the cube's "
            f"{lo:g}-{hi:g} nm; resampling would extrapolate"
        )
    target = np.clip(target, lo, hi)
    order = _RESAMPLE_ORDER[method]
    if source_nm.size <= order:
        raise DataFormatError(
            f"{cube.source}: {method} resampling needs more than {order} bands, "
            f"got {source_nm.size}"
        )
    height, width, _ = cube.shape
    if out is None:
        out = np.empty((height, width, target.size), dtype=np.float32)
    elif out.shape != (height, width, target.size):
        raise DataFormatError(
            f"{cube.source}: out has shape {out.shape}, expected {(height, width, target.size)}"
        )
    for start in range(0, height, rows_per_chunk):
        block = np.asarray(cube.data[start : start + rows_per_chunk], dtype=np.float64)
        spline = make_interp_spline(source_nm, block, k=order, axis=2)
        out[start : start + rows_per_chunk] = spline(target)
    return cube.with_data(out, target)
