"""Measured spectral curves: colour matching, camera sensitivity, illuminants, reflectances.

Everything except the optional Jiang et al. (2013) 28-camera table ships with colour-science,
so rendering and synthetic scenes work without the shared data folder. Curves are returned
on their own wavelength grid; callers interpolate onto their cube's bands.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import numpy as np

from msfdiff.data.shared import shared_data_dir
from msfdiff.errors import DataFormatError, DataNotFoundError

CIE_1931 = "cie1931"
JIANG_PREFIX = "jiang2013:"
JIANG_FILE = Path("spectra") / "camspec_jiang2013_28cameras.txt"
_JIANG_GRID_NM = np.arange(400.0, 721.0, 10.0)
_COLOUR_CAMERAS = ("Nikon 5100 (NPL)", "Sigma SDMerill (NPL)")
_RAWTOACES_CANON = "Canon EOS 5D Mark II (rawtoaces)"
_EDGE_TOL_NM = 5.0

# name -> what it is; loaded by _load_reflectance_set
LIBRARY_SETS = {
    "colorchecker-ohta": "ColorChecker24, N. Ohta measurement (24 patches, 380-780 nm)",
    "colorchecker-babelcolor": "ColorChecker24, BabelColor average (24 patches, 380-730 nm)",
    "pmc": "Preferred memory colour chart, Luo 2024 (30 patches, 400-700 nm)",
    "cie-tcs": "CIE 2024 test colour samples for colour rendering (15, 360-830 nm)",
    "nist-cqs": "NIST CQS 9.0 saturated samples (15, 360-830 nm)",
    "rawtoaces-190": "rawtoaces training reflectances (190, 380-780 nm)",
}


def list_response_curves() -> list[str]:
    """Names accepted by :func:`response_curves`; Jiang cameras only when the file is found."""
    names = [CIE_1931, *_COLOUR_CAMERAS, _RAWTOACES_CANON]
    path = _jiang_path()
    if path is not None:
        names += [JIANG_PREFIX + camera for camera in read_jiang2013(path)]
    return names


def response_curves(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Spectral responses of an observer or camera.

    Parameters
    ----------
    name : str
        ``'cie1931'`` (CIE 1931 2° x̄, ȳ, z̄), a colour-science camera (``'Nikon 5100 (NPL)'``,
        ``'Sigma SDMerill (NPL)'``, ``'Canon EOS 5D Mark II (rawtoaces)'``), or
        ``'jiang2013:<camera>'`` from the 28-camera table in the shared data. Case-insensitive.

    Returns
    -------
    wavelengths_nm : ndarray of shape (n,)
    curves : ndarray of shape (n, 3)
        Columns R, G, B (or X, Y, Z for CIE 1931).
    """
    wanted = name.strip().lower()
    if wanted == CIE_1931:
        import colour

        return _msds_arrays(colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"])
    for camera in _COLOUR_CAMERAS:
        if wanted == camera.lower():
            import colour

            return _msds_arrays(colour.MSDS_CAMERA_SENSITIVITIES[camera])
    if wanted == _RAWTOACES_CANON.lower():
        return _rawtoaces_canon()
    if wanted.startswith(JIANG_PREFIX):
        path = _jiang_path()
        if path is None:
            raise DataNotFoundError(
                f"{JIANG_FILE}: not found in the shared data folder (set MSFDIFF_DATA)"
            )
        cameras = {k.lower(): v for k, v in read_jiang2013(path).items()}
        camera = wanted[len(JIANG_PREFIX) :].strip()
        if camera in cameras:
            return _JIANG_GRID_NM.copy(), cameras[camera].copy()
    raise DataFormatError(
        f"unknown response curves {name!r}; available: {', '.join(list_response_curves())}"
    )


def illuminant(name: str = "D65") -> tuple[np.ndarray, np.ndarray]:
    """A CIE illuminant's relative spectral power from colour-science (``'D65'``, ``'A'``, ...).

    Returns
    -------
    wavelengths_nm : ndarray of shape (n,)
    power : ndarray of shape (n,)
    """
    import colour

    if name not in colour.SDS_ILLUMINANTS:
        raise DataFormatError(f"unknown illuminant {name!r}; e.g. D65, D50, A, E")
    sd = colour.SDS_ILLUMINANTS[name]
    return np.asarray(sd.wavelengths, dtype=np.float64), np.asarray(sd.values, dtype=np.float64)


@cache
def read_jiang2013(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Parse the camspec database: a camera name line, then R, G and B rows of 33 values.

    Returns
    -------
    dict of str to ndarray of shape (33, 3)
        Sensitivities at 400, 410, ..., 720 nm, columns R, G, B.
    """
    path = Path(path)
    lines = [line.strip() for line in path.read_text().splitlines()]
    try:
        start = lines.index("---------") + 1
    except ValueError:
        raise DataFormatError(f"{path}: missing the '---------' line before the cameras") from None
    body = [line for line in lines[start:] if line]
    cameras: dict[str, np.ndarray] = {}
    for index in range(0, len(body), 4):
        block = body[index : index + 4]
        try:
            rows = np.array([[float(v) for v in row.split()] for row in block[1:]])
        except ValueError:
            rows = np.empty(0)
        if len(block) != 4 or rows.shape != (3, _JIANG_GRID_NM.size):
            raise DataFormatError(f"{path}: camera {block[0]!r} does not have 3 rows of 33 values")
        cameras[block[0]] = rows.T
    return cameras


def library_spectra(
    wavelengths_nm: np.ndarray, *, sets: tuple[str, ...] | list[str] | None = None
) -> tuple[list[str], np.ndarray]:
    """Measured reflectance spectra from colour-science, interpolated onto ``wavelengths_nm``.

    Handy for synthetic scenes with real material spectra and no shared data.

    Parameters
    ----------
    wavelengths_nm : ndarray of shape (n_bands,)
    sets : sequence of str, optional
        Keys of :data:`LIBRARY_SETS`. By default every set whose range covers the grid
        (within 5 nm, where the edge value is held).

    Returns
    -------
    names : list of str
        ``"<set>:<patch>"`` for each spectrum.
    spectra : ndarray of shape (n_spectra, n_bands)
        Reflectance in [0, 1].
    """
    grid = np.asarray(wavelengths_nm, dtype=np.float64)
    chosen = list(LIBRARY_SETS) if sets is None else list(sets)
    names: list[str] = []
    rows: list[np.ndarray] = []
    for set_name in chosen:
        if set_name not in LIBRARY_SETS:
            raise DataFormatError(
                f"unknown reflectance set {set_name!r}; use {', '.join(LIBRARY_SETS)}"
            )
        patches = _load_reflectance_set(set_name)
        start = max(wl[0] for wl, _ in patches.values())
        stop = min(wl[-1] for wl, _ in patches.values())
        if grid.min() < start - _EDGE_TOL_NM or grid.max() > stop + _EDGE_TOL_NM:
            if sets is None:
                continue
            raise DataFormatError(
                f"reflectance set {set_name!r} covers {start:g}-{stop:g} nm, "
                f"not {grid.min():g}-{grid.max():g} nm"
            )
        for patch, (wl, values) in patches.items():
            names.append(f"{set_name}:{patch}")
            rows.append(np.interp(grid, wl, values))
    if not rows:
        raise DataFormatError(
            f"no reflectance set covers {grid.min():g}-{grid.max():g} nm "
            "(colour-science sets span about 360-830 nm)"
        )
    return names, np.clip(np.stack(rows), 0.0, 1.0)


# --------------------------------------------------------------------------- loaders


def _jiang_path() -> Path | None:
    root = shared_data_dir()
    path = None if root is None else root / JIANG_FILE
    return path if path is not None and path.is_file() else None


def _msds_arrays(msds) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.asarray(msds.wavelengths, dtype=np.float64),
        np.asarray(msds.values, dtype=np.float64),
    )


@cache
def _rawtoaces_canon() -> tuple[np.ndarray, np.ndarray]:
    from colour.characterisation.aces_it import ROOT_RESOURCES_RAWTOACES
    from colour.io import read_sds_from_csv_file

    sds = read_sds_from_csv_file(
        os.path.join(ROOT_RESOURCES_RAWTOACES, "CANON_EOS_5DMark_II_RGB_Sensitivities.csv")
    )
    wl = np.asarray(sds["R"].wavelengths, dtype=np.float64)
    return wl, np.stack([np.asarray(sds[c].values, dtype=np.float64) for c in "RGB"], axis=1)


@cache
def _load_reflectance_set(name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One colour-science reflectance set as {patch: (wavelengths_nm, values)}."""
    import colour
    import colour.quality

    if name == "rawtoaces-190":
        from colour.characterisation import read_training_data_rawtoaces_v1

        msds = read_training_data_rawtoaces_v1()
        wl, values = _msds_arrays(msds)
        return {label: (wl, values[:, i]) for i, label in enumerate(msds.labels)}
    sds = {
        "colorchecker-ohta": lambda: colour.SDS_COLOURCHECKERS["ColorChecker N Ohta"],
        "colorchecker-babelcolor": lambda: colour.SDS_COLOURCHECKERS["BabelColor Average"],
        "pmc": lambda: colour.SDS_COLOURCHECKERS["PMC"],
        "cie-tcs": lambda: colour.quality.SDS_TCS["CIE 2024"],
        "nist-cqs": lambda: colour.quality.SDS_VS["NIST CQS 9.0"],
    }[name]()
    return {
        patch: (np.asarray(sd.wavelengths, dtype=np.float64), np.asarray(sd.values, np.float64))
        for patch, sd in sds.items()
    }
