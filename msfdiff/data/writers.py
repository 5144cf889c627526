"""Write :class:`HyperCube` files that :func:`msfdiff.data.readers.read_hsi` reads back.

Each format keeps the wavelengths: ENVI in the header, .mat as a ``wavelengths`` array next
to ``HSI``, TIFF in the ImageDescription JSON, .npy in a ``<stem>.wavelengths.csv`` sidecar.
Files are written into a temporary folder beside the target and moved into place only when
complete (data before header), so a crash never leaves a half-written cube behind.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

from msfdiff._io import check_new
from msfdiff.data.cube import HyperCube
from msfdiff.data.formats import SIDECAR_SUFFIX, WRITE_SUFFIXES
from msfdiff.errors import DataFormatError

MAT_CUBE_KEY = "HSI"
_MATLAB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_MAT_V5_LIMIT = 2**31


def write_hsi(
    path: str | os.PathLike,
    cube: HyperCube,
    *,
    format: str | None = None,
    force: bool = False,
    extra: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write a cube as ENVI, MATLAB .mat, .npy or TIFF, atomically.

    Parameters
    ----------
    path : path
        Target; its suffix picks the format (``.hdr``/``.img`` ENVI, ``.mat``, ``.npy``,
        ``.tif``/``.tiff``).
    cube : HyperCube
        Data of shape (height, width, n_bands); written as float32.
    format : {'envi', 'npy', 'mat', 'tif'}, optional
        Must agree with the suffix when given.
    force : bool
        Overwrite existing files.
    extra : dict of str to ndarray, optional
        More arrays stored beside ``HSI`` in a .mat (e.g. ``Abu``, ``End``). A
        ``wavelengths`` entry must equal the cube's own.

    Returns
    -------
    Path
        The file to pass to ``read_hsi`` (the ``.hdr`` for ENVI).
    """
    path = Path(path)
    fmt = _format_of(path, format)
    if extra and fmt != "mat":
        raise DataFormatError(f"{path}: extra arrays can only be stored in a .mat file")
    arrays = _mat_arrays(path, cube, extra or {}) if fmt == "mat" else {}
    outputs = _outputs(path, fmt)
    for output in outputs:
        check_new(output, force=force)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as staging:
        staged = [Path(staging) / output.name for output in outputs]
        _WRITERS[fmt](staged[0], cube, arrays)
        for temp, output in zip(staged, outputs, strict=True):
            if temp.exists():
                os.replace(temp, output)
            else:  # e.g. a sidecar from an earlier cube that had wavelengths
                output.unlink(missing_ok=True)
    return outputs[-1] if fmt == "envi" else outputs[0]


def _format_of(path: Path, format: str | None) -> str:
    suffix = path.suffix.lower()
    by_suffix = next((f for f, sfx in WRITE_SUFFIXES.items() if suffix in sfx), None)
    if format is not None and format not in WRITE_SUFFIXES:
        raise DataFormatError(
            f"{path}: unknown format {format!r}; use one of {', '.join(WRITE_SUFFIXES)}"
        )
    if by_suffix is None or (format is not None and format != by_suffix):
        wanted = WRITE_SUFFIXES.get(format or "", sum(WRITE_SUFFIXES.values(), ()))
        raise DataFormatError(f"{path}: suffix must be one of {', '.join(wanted)}")
    return by_suffix


def _outputs(path: Path, fmt: str) -> list[Path]:
    """Final file names, in the order they are moved into place (data first)."""
    if fmt == "envi":
        return [path.with_suffix(".img"), path.with_suffix(".hdr")]
    if fmt == "npy":
        return [path, path.with_name(path.stem + SIDECAR_SUFFIX)]
    return [path]


def _mat_arrays(path: Path, cube: HyperCube, extra: dict[str, np.ndarray]) -> dict:
    """The variables of a .mat file, checked before anything is written."""
    arrays = {MAT_CUBE_KEY: np.asarray(cube.data, dtype=np.float32)}
    if arrays[MAT_CUBE_KEY].nbytes >= _MAT_V5_LIMIT:
        raise DataFormatError(f"{path}: cube is over 2 GiB, too large for .mat v5; write ENVI")
    if cube.wavelengths_nm is not None:
        arrays["wavelengths"] = cube.wavelengths_nm
    for name, value in extra.items():
        if name == MAT_CUBE_KEY or not _MATLAB_NAME.fullmatch(name):
            raise DataFormatError(f"{path}: {name!r} cannot be an extra .mat variable name")
        value = np.asarray(value)
        if name == "wavelengths" and cube.wavelengths_nm is not None:
            if value.shape != cube.wavelengths_nm.shape or not np.allclose(
                value, cube.wavelengths_nm
            ):
                raise DataFormatError(f"{path}: extra 'wavelengths' differ from the cube's")
        arrays[name] = value
    return arrays


def _write_envi(target: Path, cube: HyperCube, _: dict) -> None:
    from spectral.io import envi

    metadata = {"description": f"msfdiff cube from {cube.source}"}
    if cube.wavelengths_nm is not None:
        metadata |= {"wavelength": cube.wavelengths_nm.tolist(), "wavelength units": "nm"}
    envi.save_image(
        str(target.with_suffix(".hdr")),
        cube.data,
        dtype=np.float32,
        interleave="bip",  # pixels contiguous: patch reads touch few pages
        metadata=metadata,
        ext=".img",
        force=True,
    )


def _write_mat(target: Path, cube: HyperCube, arrays: dict) -> None:
    from scipy.io import savemat

    savemat(target, arrays, do_compression=False)


def _write_npy(target: Path, cube: HyperCube, _: dict) -> None:
    np.save(target, np.asarray(cube.data, dtype=np.float32))
    if cube.wavelengths_nm is not None:
        sidecar = target.with_name(target.stem + SIDECAR_SUFFIX)
        np.savetxt(sidecar, cube.wavelengths_nm, fmt="%.6f", header="wavelength (nm)", comments="")


def _write_tiff(target: Path, cube: HyperCube, _: dict) -> None:
    import tifffile

    metadata = {"source": cube.source}
    if cube.wavelengths_nm is not None:
        metadata["wavelengths_nm"] = cube.wavelengths_nm.tolist()
    tifffile.imwrite(
        target,
        np.moveaxis(np.asarray(cube.data, dtype=np.float32), 2, 0),
        photometric="minisblack",
        planarconfig="separate",
        metadata=metadata,
    )


_WRITERS = {"envi": _write_envi, "npy": _write_npy, "mat": _write_mat, "tif": _write_tiff}
