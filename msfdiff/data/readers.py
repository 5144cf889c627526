"""Read hyperspectral cubes from ENVI, MATLAB, TIFF and NumPy files into :class:`HyperCube`.

Every reader ends in the same place: a ``(height, width, bands)`` array of reflectance-like
floats, its wavelengths in nm when known, and a one-line error naming the file otherwise.

Axis order
----------
``layout`` names how the stored array is arranged: ``'hwb'`` (height, width, bands),
``'bhw'`` (bands first), ``'whb'`` (width, height, bands), ``'bands-by-pixels'`` or
``'pixels-by-bands'`` (2-D unmixing matrices). When it is not given, the band axis of a 3-D
array is taken, in this order, from

1. the file itself (ENVI interleave; TIFF axis labels: the axis that is not Y or X),
2. the wavelengths: the only end axis whose length equals their count,
3. a repeated spatial size: in (31, 512, 512) or (95, 95, 156) the odd axis out,
4. otherwise the last axis, the MATLAB/NumPy convention.

The smallest axis is *not* used as a rule: cropped scenes such as Salinas-A (83, 86, 224) or
HYDICE (100, 80, 162) have a spatial size smaller than the band count.

2-D matrices are bands x pixels with MATLAB's column-major pixel order (pixel ``c*H + r`` is
row ``r``, column ``c``), as in Samson or HySUPP. The smaller axis is taken as the bands
unless the wavelengths say otherwise. The image size comes from ``shape``, then from
``nRow``/``nCol`` scalars in the same .mat file, then from a square pixel count.

Values
------
Integer data must come with a ``scale`` (the value that means reflectance 1.0, e.g. 65535 for
uint16 or 255 for uint8): ``read_hsi`` divides by it. ENVI's ``reflectance scale factor`` is
used when ``scale`` is not given. Float files without scaling stay memory-mapped (ENVI, .npy
and uncompressed TIFF), so only the patches you slice are read; scaled or converted data is
loaded into memory as float32.
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from msfdiff.data.cube import HyperCube, check_finite
from msfdiff.data.formats import ENVI_SUFFIXES, HSI_SUFFIXES, PHOTO_SUFFIXES, SIDECAR_SUFFIX
from msfdiff.data.wavelengths import parse_wavelengths
from msfdiff.errors import DataFormatError, DataNotFoundError, MsfdiffError
from msfdiff.layout import is_sample_side_file

LAYOUTS = ("hwb", "bhw", "whb", "bands-by-pixels", "pixels-by-bands")

_WAVELENGTH_KEY = re.compile(r"(wave?lengths?|wls?|bands?|lambdas?)(_nm)?", re.IGNORECASE)
_ROWS_KEY = re.compile(r"n_?rows?", re.IGNORECASE)
_COLS_KEY = re.compile(r"n_?cols?", re.IGNORECASE)
_MICRONS = {"um", "µm", "micrometers", "micrometer", "micrometres", "micrometre", "microns"}
_NANOMETRES = {"nm", "nanometers", "nanometer", "nanometres", "nanometre"}
_ROWS_PER_CHUNK = 256
_BAND_NUMBER = re.compile(r"^(.*?)(\d+)$")


@dataclass
class _Stored:
    """What a format reader found, before it is arranged into (height, width, bands)."""

    array: np.ndarray
    fmt: str
    key: str | None = None
    wavelengths: np.ndarray | None = None
    scale: float | None = None
    band_axis: int | None = None
    image_shape: tuple[int, int] | None = None
    wavelength_candidates: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    good_bands: np.ndarray | None = None  # ENVI ``bbl``: False marks a bad band
    ignore_value: float | None = None  # ENVI ``data ignore value``: no-data pixels


@contextmanager
def _reading(path: Path, what: str, *also: type[BaseException]) -> Iterator[None]:
    """Turn library exceptions about unreadable bytes into one-line errors naming the file."""
    try:
        yield
    except MsfdiffError:
        raise
    except FileNotFoundError as exc:
        raise DataNotFoundError(f"{path}: {exc.strerror or exc}") from exc
    except (
        ValueError,
        OSError,
        EOFError,
        LookupError,
        NotImplementedError,
        zipfile.BadZipFile,
        zlib.error,
        struct.error,
        TypeError,  # parsers meeting garbage where a type tag should be (scipy.io, numpy)
        *also,
    ) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataFormatError(
            f"{path}: not a readable {what} file (truncated or corrupt?): {detail}"
        ) from exc


# --------------------------------------------------------------------------- public API


def read_hsi(
    path: str | os.PathLike,
    *,
    key: str | None = None,
    layout: str | None = None,
    wavelengths: str | os.PathLike | Sequence[float] | np.ndarray | None = None,
    scale: float | None = None,
    shape: tuple[int, int] | None = None,
) -> HyperCube:
    """Read a hyperspectral cube from ENVI, .mat (v5 or v7.3), TIFF, .npy or .npz.

    Parameters
    ----------
    path : path
        The file. For ENVI give the ``.hdr`` or the data file beside it.
    key : str, optional
        Array name inside a .mat/.npz. Picked automatically when exactly one array looks like a
        cube (a 3-D array with more than 3 bands, else a 2-D matrix; ``HSI`` wins a tie).
    layout : {'hwb', 'bhw', 'whb', 'bands-by-pixels', 'pixels-by-bands'}, optional
        How the stored array is arranged; inferred as described in the module docstring.
    wavelengths : str, path or array-like, optional
        Band centres in nm, or a spec for :func:`parse_wavelengths`. Otherwise they come from
        the file (ENVI header, a 1-D ``wavelength``/``wl``/``bands`` array in a .mat/.npz,
        TIFF description) or a ``<stem>.wavelengths.csv`` sidecar; else the cube has none.
    scale : float, optional
        Divide the data by this (65535 for uint16 reflectance). Required for integer data
        unless the ENVI header has a reflectance scale factor.
    shape : (height, width), optional
        Image size of a 2-D bands x pixels matrix whose pixel count is not a square.

    Returns
    -------
    HyperCube
        ``data`` of shape (height, width, n_bands); memory-mapped where the file allows.

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    DataFormatError
        Unknown format, unreadable or truncated file, ambiguous or unknown key, wrong number
        of dimensions or wavelengths, integer data without a scale, NaN/Inf values.
    """
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"{path}: file not found")
    if path.is_dir():
        files = band_image_files(path)
        if not files:
            raise DataFormatError(
                f"{path}: a folder, but not of band images (NAME_01.png, NAME_02.png, …)"
            )
        return read_band_images(files, wavelengths=wavelengths, scale=scale, source=str(path))
    if layout is not None and layout not in LAYOUTS:
        raise DataFormatError(f"{path}: unknown layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    stored = _read_stored(path, key)
    if wavelengths is not None:
        wl = parse_wavelengths(wavelengths, ascending=False)
        wl_origin = "given"
    else:
        wl, wl_origin = stored.wavelengths, "from the file"
        sidecar = path.with_name(path.stem + SIDECAR_SUFFIX)
        if wl is None and sidecar.is_file():
            wl, wl_origin = parse_wavelengths(sidecar, ascending=False), f"from {sidecar.name}"
    array, used_layout = _arrange(stored, path, layout=layout, n_wavelengths=_size(wl), shape=shape)
    n_bands = array.shape[2]
    if wl is None:
        wl = _matching_vector(stored, n_bands)
    if wl is not None and wl.size != n_bands:
        raise DataFormatError(
            f"{path}: {wl.size} wavelengths ({wl_origin}) for {n_bands} bands "
            f"(layout {used_layout})"
        )
    array, wl = _usable_bands(array, wl, stored, path)
    data = _to_reflectance(array, path, scale if scale is not None else stored.scale)
    if stored.ignore_value is not None:
        data = _blank_no_data(data, array, stored.ignore_value, path)
    for start in range(0, data.shape[0], _ROWS_PER_CHUNK):  # row blocks: memmap-friendly
        check_finite(data[start : start + _ROWS_PER_CHUNK], str(path))
    meta = {"format": stored.fmt, "key": stored.key, "layout": used_layout, **stored.meta}
    return HyperCube(data, wl, str(path), meta)


def read_hsi_many(paths: Iterable[str | os.PathLike], **kwargs) -> list[HyperCube]:
    """Read several cubes that must share their band count and wavelengths.

    Keyword arguments are passed to :func:`read_hsi` for every file.

    Raises
    ------
    DataFormatError
        Two files disagree; the message names both.
    """
    cubes: list[HyperCube] = []
    for path in paths:
        cube = read_hsi(path, **kwargs)
        if cubes:
            check_same_bands(cubes[0], cube)
        cubes.append(cube)
    if not cubes:
        raise DataNotFoundError("no hyperspectral files given")
    return cubes


def check_same_bands(first: HyperCube, other: HyperCube) -> None:
    """Raise a one-line error naming both sources if their bands differ."""
    if first.n_bands != other.n_bands:
        raise DataFormatError(
            f"{other.source}: {other.n_bands} bands, but {first.source} has {first.n_bands}"
        )
    wl_a, wl_b = first.wavelengths_nm, other.wavelengths_nm
    if (wl_a is None) != (wl_b is None) or (
        wl_a is not None and not np.allclose(wl_a, wl_b, atol=1e-3)
    ):
        raise DataFormatError(f"{other.source}: wavelengths differ from those of {first.source}")


def read_band_images(
    paths: Sequence[str | os.PathLike],
    *,
    wavelengths: str | os.PathLike | Sequence[float] | np.ndarray | None = None,
    scale: float | None = None,
    source: str | None = None,
) -> HyperCube:
    """Stack single-band images (one file per band, e.g. the CAVE PNGs) into a cube.

    Parameters
    ----------
    paths : sequence of paths
        One grey-scale image per band, in band order (PNG/BMP via Pillow, TIFF via tifffile).
    wavelengths, scale
        As for :func:`read_hsi`; CAVE's 16-bit PNGs need ``scale=65535``.
    source : str, optional
        Name used in messages; defaults to the first file's folder.
    """
    from PIL import Image

    paths = [Path(p) for p in paths]
    if not paths:
        raise DataNotFoundError("no band images given")
    source = source or str(paths[0].parent)
    bands = []
    for path in paths:
        if not path.is_file():
            raise DataNotFoundError(f"{path}: file not found")
        with _reading(path, "image"):
            if path.suffix.lower() in (".tif", ".tiff"):
                import tifffile

                band = tifffile.imread(path)
            else:
                with Image.open(path) as img:
                    band = np.asarray(img)
        if band.ndim != 2:
            raise DataFormatError(f"{path}: expected a single-band image, got shape {band.shape}")
        if bands and band.shape != bands[0].shape:
            raise DataFormatError(f"{path}: size {band.shape} differs from {bands[0].shape}")
        bands.append(band)
    array = np.stack(bands, axis=2)
    wl = None if wavelengths is None else parse_wavelengths(wavelengths)
    if wl is not None and wl.size != array.shape[2]:
        raise DataFormatError(f"{source}: {wl.size} wavelengths for {array.shape[2]} band images")
    data = _to_reflectance(array, Path(source), scale)
    check_finite(data, source)
    return HyperCube(data, wl, source, {"format": "band-images"})


# --------------------------------------------------------------------------- per-format readers


def _read_stored(path: Path, key: str | None) -> _Stored:
    suffix = path.suffix.lower()
    if suffix in ENVI_SUFFIXES:
        reader = _read_envi
    elif suffix == ".mat":
        reader = _read_mat
    elif suffix in (".tif", ".tiff"):
        reader = _read_tiff
    elif suffix in (".npy", ".npz"):
        reader = _read_numpy
    else:
        raise DataFormatError(
            f"{path}: unknown hyperspectral format {suffix!r} "
            "(use ENVI .hdr/.img, .mat, .tif, .npy or .npz)"
        )
    if key is not None and suffix not in (".mat", ".npz"):
        raise DataFormatError(f"{path}: --key applies to .mat and .npz files only")
    return reader(path, key)


def _read_envi(path: Path, key: str | None) -> _Stored:
    from spectral.io import envi

    if path.suffix.lower() == ".hdr":
        header, image = path, None
    else:
        candidates = [path.with_suffix(".hdr"), path.with_name(path.name + ".hdr")]
        header = next((c for c in candidates if c.is_file()), None)
        if header is None:
            raise DataNotFoundError(f"{path}: no ENVI header ({candidates[0].name}) beside it")
        image = str(path)
    with _reading(path, "ENVI"):
        try:
            img = envi.open(str(header), image)
        except envi.EnviDataFileNotFoundError as exc:
            raise DataNotFoundError(f"{header}: the ENVI data file beside it is missing") from exc
        except envi.EnviException as exc:
            raise DataFormatError(f"{header}: not a valid ENVI header: {exc}") from exc
        expected = int(img.offset) + int(np.prod(img.shape)) * np.dtype(img.dtype).itemsize
        actual = os.path.getsize(img.filename)
        if actual < expected:
            raise DataFormatError(
                f"{img.filename}: truncated ENVI data, expected {expected} bytes, found {actual}"
            )
        array = img.open_memmap(interleave="bip")
    unit = img.metadata.get("wavelength units")
    centers = img.bands.centers
    wl = _to_nm(np.asarray(centers, dtype=np.float64), unit) if centers else None
    factor = float(img.scale_factor) if "reflectance scale factor" in img.metadata else None
    bbl = img.metadata.get("bbl")
    good = np.asarray([float(b) != 0 for b in bbl]) if bbl else None
    ignore = img.metadata.get("data ignore value")
    return _Stored(
        array,
        "envi",
        wavelengths=wl,
        scale=factor,
        band_axis=2,
        good_bands=good,
        ignore_value=float(ignore) if ignore is not None else None,
    )


def _read_mat(path: Path, key: str | None) -> _Stored:
    import h5py

    if h5py.is_hdf5(path):
        return _read_mat73(path, key)
    from scipy.io import loadmat, whosmat
    from scipy.io.matlab import MatReadError

    with _reading(path, "MATLAB", MatReadError):
        listing = whosmat(path)
    numeric = {name: shape for name, shape, cls in listing if cls in _MATLAB_NUMERIC}
    name = _pick_key(path, numeric, [n for n, _, _ in listing], key)
    extras = _side_keys(numeric)
    with _reading(path, "MATLAB", MatReadError):
        contents = loadmat(path, variable_names=[name, *extras])
    return _with_side_arrays(path, "mat", name, contents[name], contents)


_MATLAB_NUMERIC = {
    "double", "single", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
}  # fmt: skip


def _read_mat73(path: Path, key: str | None) -> _Stored:
    """MATLAB v7.3 is HDF5 with every axis reversed: h5py's (B, W, H) is MATLAB's (H, W, B)."""
    import h5py

    with _reading(path, "MATLAB v7.3", RuntimeError), h5py.File(path, "r") as handle:
        datasets = {
            name: item.shape[::-1]
            for name, item in handle.items()
            if isinstance(item, h5py.Dataset) and item.dtype.kind in "biuf"
        }
        name = _pick_key(path, datasets, list(handle.keys()), key)
        contents = {n: handle[n][()].T for n in [name, *_side_keys(datasets)]}
    return _with_side_arrays(path, "mat-v7.3", name, contents[name], contents)


def _read_numpy(path: Path, key: str | None) -> _Stored:
    # a damaged .npy header reaches numpy's literal parser: SyntaxError, tokenize errors, …
    with _reading(path, "NumPy", Exception):
        if path.suffix.lower() == ".npy":
            return _Stored(np.load(path, mmap_mode="r"), "npy")
        with np.load(path) as archive:
            arrays = {name: archive[name] for name in archive.files}
    numeric = {n: a.shape for n, a in arrays.items() if a.dtype.kind in "biuf"}
    name = _pick_key(path, numeric, list(arrays), key)
    return _with_side_arrays(path, "npz", name, arrays[name], arrays)


def _read_tiff(path: Path, key: str | None) -> _Stored:
    import tifffile

    # tifffile meets damaged bytes with any exception type (ZeroDivisionError, IndexError, …)
    with _reading(path, "TIFF", Exception), tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes = series.axes
        metadata = tif.shaped_metadata[0] if tif.shaped_metadata else {}
        try:
            array = tifffile.memmap(path, mode="r")
        except ValueError:  # compressed or tiled: read it whole
            array = series.asarray()
        array = array.reshape(series.shape)
    squeezed = [(a, n) for a, n in zip(axes, array.shape, strict=True) if n > 1 or a in "YX"]
    array = array.reshape([n for _, n in squeezed])
    axes = "".join(a for a, _ in squeezed)
    if array.ndim != 3 or axes[1] not in "YX" or "Y" not in axes or "X" not in axes:
        raise DataFormatError(
            f"{path}: TIFF with axes {axes} {array.shape} is not a multi-band cube"
        )
    band_axis = 2 if axes[0] == "Y" else 0
    wl = metadata.get("wavelengths_nm", metadata.get("wavelength"))
    return _Stored(
        array,
        "tiff",
        wavelengths=None if wl is None else np.asarray(wl, dtype=np.float64),
        band_axis=band_axis,
        meta={"tiff_axes": axes},
    )


# --------------------------------------------------------------------------- helpers


def _pick_key(
    path: Path, shapes: dict[str, tuple[int, ...]], all_keys: list[str], key: str | None
) -> str:
    """Choose the cube inside a multi-array file, or explain which keys could be meant."""
    if key is not None:
        if key not in all_keys:
            raise DataFormatError(f"{path}: no array named {key!r}; keys: {', '.join(all_keys)}")
        if key not in shapes:
            raise DataFormatError(f"{path}: {key!r} is not a numeric array")
        return key
    cubes = [n for n, s in shapes.items() if len(s) == 3 and min(s) > 3]
    if not cubes:
        cubes = [n for n, s in shapes.items() if len(s) == 2 and min(s) > 3]
    if len(cubes) > 1:
        cubes = [n for n in cubes if n.lower() == "hsi"] or cubes
    if len(cubes) == 1:
        return cubes[0]
    listed = ", ".join(f"{n} {tuple(shapes[n])}" for n in (cubes or shapes))
    problem = "several arrays could be the cube" if cubes else "no array looks like a cube"
    raise DataFormatError(f"{path}: {problem} ({listed or 'none'}); pass --key NAME")


def _side_keys(shapes: dict[str, tuple[int, ...]]) -> list[str]:
    """Names of small arrays worth loading next to the cube: wavelength vectors, nRow/nCol."""
    keep = []
    for name, shape in shapes.items():
        is_vector = len(shape) >= 1 and sorted(shape)[-2:-1] in ([], [1])
        if is_vector and _WAVELENGTH_KEY.fullmatch(name):
            keep.append(name)
        elif int(np.prod(shape)) == 1 and (_ROWS_KEY.fullmatch(name) or _COLS_KEY.fullmatch(name)):
            keep.append(name)
    return keep


def _with_side_arrays(
    path: Path, fmt: str, name: str, array: np.ndarray, contents: dict
) -> _Stored:
    """Attach candidate wavelength vectors and nRow/nCol found beside the cube."""
    vectors = {
        n: np.asarray(v, dtype=np.float64).reshape(-1)
        for n, v in contents.items()
        if n != name and _WAVELENGTH_KEY.fullmatch(n)
    }
    scalars = {n.lower().replace("_", ""): v for n, v in contents.items() if np.size(v) == 1}
    rows = next((int(np.ravel(v)[0]) for n, v in scalars.items() if _ROWS_KEY.fullmatch(n)), None)
    cols = next((int(np.ravel(v)[0]) for n, v in scalars.items() if _COLS_KEY.fullmatch(n)), None)
    return _Stored(
        np.asarray(array),
        fmt,
        key=name,
        image_shape=(rows, cols) if rows and cols else None,
        wavelength_candidates=vectors,
    )


def _size(wl: np.ndarray | None) -> int | None:
    return None if wl is None else int(wl.size)


def _arrange(
    stored: _Stored,
    path: Path,
    *,
    layout: str | None,
    n_wavelengths: int | None,
    shape: tuple[int, int] | None,
) -> tuple[np.ndarray, str]:
    """Return the array as (height, width, bands) and the layout that was used."""
    array = stored.array
    if array.ndim == 3:
        if layout in ("bands-by-pixels", "pixels-by-bands"):
            raise DataFormatError(f"{path}: layout {layout} needs a 2-D matrix, got {array.shape}")
        layout = layout or _infer_cube_layout(array.shape, stored.band_axis, n_wavelengths)
        cube = {
            "hwb": array,
            "bhw": array.transpose(1, 2, 0),
            "whb": array.transpose(1, 0, 2),
        }[layout]
    elif array.ndim == 2:
        if layout not in (None, "bands-by-pixels", "pixels-by-bands"):
            raise DataFormatError(f"{path}: layout {layout} needs a 3-D array, got {array.shape}")
        layout = layout or _infer_matrix_layout(array.shape, n_wavelengths)
        matrix = array if layout == "bands-by-pixels" else array.T
        height, width = _image_shape(path, matrix.shape[1], shape or stored.image_shape)
        cube = matrix.reshape(matrix.shape[0], width, height).transpose(2, 1, 0)
    else:
        raise DataFormatError(
            f"{path}: expected a 3-D cube or a 2-D bands x pixels matrix, got shape {array.shape}"
        )
    return cube, layout


def _infer_cube_layout(
    dims: tuple[int, ...], band_axis: int | None, n_wavelengths: int | None
) -> str:
    if band_axis is None and n_wavelengths is not None:
        matches = [axis for axis in (0, 2) if dims[axis] == n_wavelengths]
        band_axis = matches[0] if len(matches) == 1 else None
    if band_axis is None and dims[0] == dims[1] != dims[2]:
        band_axis = 2
    if band_axis is None and dims[1] == dims[2] != dims[0]:
        band_axis = 0
    return "bhw" if band_axis == 0 else "hwb"


def _infer_matrix_layout(dims: tuple[int, ...], n_wavelengths: int | None) -> str:
    if n_wavelengths is not None and dims.count(n_wavelengths) == 1:
        return "bands-by-pixels" if dims[0] == n_wavelengths else "pixels-by-bands"
    return "bands-by-pixels" if dims[0] <= dims[1] else "pixels-by-bands"


def _image_shape(path: Path, n_pixels: int, shape: tuple[int, int] | None) -> tuple[int, int]:
    if shape is not None:
        height, width = (int(s) for s in shape)
        if height * width != n_pixels:
            raise DataFormatError(
                f"{path}: shape {height}x{width} = {height * width} pixels, file has {n_pixels}"
            )
        return height, width
    side = int(round(np.sqrt(n_pixels)))
    if side * side != n_pixels:
        raise DataFormatError(
            f"{path}: {n_pixels} pixels is not a square image; pass --shape HEIGHT,WIDTH"
        )
    return side, side


def _matching_vector(stored: _Stored, n_bands: int) -> np.ndarray | None:
    """The first wavelength-named vector stored beside the cube whose length is the band count."""
    for name, values in stored.wavelength_candidates.items():
        if values.size == n_bands:
            stored.meta["wavelength_key"] = name
            return _to_nm(values, None)
    return None


def _usable_bands(
    array: np.ndarray, wl: np.ndarray | None, stored: _Stored, path: Path
) -> tuple[np.ndarray, np.ndarray | None]:
    """Drop the bands the file marks bad and put the rest in wavelength order.

    Real sensors' band tables are not always ascending (AVIRIS's spectrometers overlap:
    675.6 nm is followed by 664.1 nm), and every later step (band selection, resampling,
    plots) needs ascending band centres, so the bands are reordered with their centres.
    ``meta["stored_bands"]`` then says where each band was in the file.
    """
    import warnings

    keep = np.arange(array.shape[2])
    if stored.good_bands is not None and stored.good_bands.size == keep.size:
        keep = keep[stored.good_bands]
        if keep.size == 0:
            raise DataFormatError(f"{path}: the header's bad-band list (bbl) marks every band bad")
        if keep.size < array.shape[2]:
            warnings.warn(
                f"{path}: {array.shape[2] - keep.size} bands marked bad in the header (bbl) "
                f"left out; {keep.size} remain",
                stacklevel=3,
            )
    if wl is not None:
        steps = np.diff(wl[keep])
        if np.any(steps < 0):
            i = int(np.argmax(steps < 0))
            warnings.warn(
                f"{path}: band table not ascending ({wl[keep][i]:g} nm is followed by "
                f"{wl[keep][i + 1]:g} nm); bands reordered by wavelength",
                stacklevel=3,
            )
            keep = keep[np.argsort(wl[keep], kind="stable")]
        centres = wl[keep]
        if np.any(np.diff(centres) == 0):
            twice = float(centres[np.argmax(np.diff(centres) == 0)])
            raise DataFormatError(f"{path}: two bands share the wavelength {twice:g} nm")
        wl = centres
    if keep.size == array.shape[2] and np.all(keep == np.arange(keep.size)):
        return array, wl
    # each band's position in the file, so a result can be put back in the order given
    stored.meta["stored_bands"] = keep.tolist()
    return np.asarray(array[..., keep]), wl


def _blank_no_data(data: np.ndarray, raw: np.ndarray, ignore: float, path: Path) -> np.ndarray:
    """Set pixels holding the header's ``data ignore value`` (in any band) to 0, and say so."""
    import warnings

    bad = np.concatenate(  # row blocks: a memory-mapped scene is never loaded whole here
        [
            np.any(np.asarray(raw[r : r + _ROWS_PER_CHUNK]) == ignore, axis=2)
            for r in range(0, raw.shape[0], _ROWS_PER_CHUNK)
        ]
    )
    if not bad.any():
        return data
    warnings.warn(
        f"{path}: {int(bad.sum())} pixels hold the no-data value {ignore:g} and are set to 0",
        stacklevel=3,
    )
    data = np.array(data, dtype=np.float32)
    data[bad] = 0.0
    return data


def _to_nm(values: np.ndarray, unit: str | None) -> np.ndarray:
    """Convert band centres to nm; without a known unit, values below 30 are taken as µm."""
    unit = (unit or "").strip().lower()
    if unit in _MICRONS or (unit not in _NANOMETRES and values.size and values.max() < 30):
        return values * 1000.0
    return values


def _to_reflectance(array: np.ndarray, path: Path, scale: float | None) -> np.ndarray:
    """Divide by ``scale`` into float32; keep unscaled float memmaps as they are."""
    if scale is None:
        if array.dtype.kind in "biu":
            raise DataFormatError(
                f"{path}: {array.dtype} data needs a scale, the value meaning reflectance 1.0 "
                "(pass --scale, e.g. 65535 for uint16 or 255 for uint8)"
            )
        if isinstance(array, np.memmap):
            return array
        return np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(scale) or scale <= 0:
        raise DataFormatError(f"{path}: scale must be a positive number, got {scale}")
    out = np.empty(array.shape, dtype=np.float32)
    for start in range(0, array.shape[0], _ROWS_PER_CHUNK):
        stop = start + _ROWS_PER_CHUNK
        out[start:stop] = np.asarray(array[start:stop], dtype=np.float32) / np.float32(scale)
    return out


def hsi_files(folder: str | os.PathLike) -> list[Path]:
    """The HSI files under ``folder``, recursively, sorted; possibly none.

    Hidden files and folders are skipped (an interrupted atomic write leaves ``.name…tmp``
    behind), and so are the abundance maps written beside synthetic HSIs.
    """
    folder = Path(folder)
    return sorted(
        path
        for path in folder.rglob("*")
        if path.suffix.lower() in HSI_SUFFIXES
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
        and not is_sample_side_file(path)
        and path.is_file()
    )


def band_image_files(folder: str | os.PathLike) -> list[Path]:
    """The single-band images of one cube in ``folder``, in band order, or [] if none.

    The common natural-scene layout (CAVE: ``scene_ms_01.png`` … ``scene_ms_31.png`` beside a
    ``scene_RGB.bmp``): the largest group of at least three images whose names differ only in
    a trailing band number.
    """
    groups: dict[str, list[tuple[int, Path]]] = {}
    for path in Path(folder).iterdir():
        match = _BAND_NUMBER.match(path.stem)
        if match and path.suffix.lower() in PHOTO_SUFFIXES and not path.name.startswith("."):
            groups.setdefault(match[1], []).append((int(match[2]), path))
    best = max(groups.values(), key=len, default=[])
    return [path for _, path in sorted(best)] if len(best) >= 3 else []


def _band_image_folders(folder: Path) -> list[Path]:
    """``folder`` and its sub-folders that hold band images, sorted."""
    candidates = [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]
    return [
        p
        for p in candidates
        if not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and band_image_files(p)
    ]


def expand_hsi_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given; folders expand to the HSI files they hold (see :func:`hsi_files`), or,
    holding none, to the folders of band images below them (one cube per folder)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = hsi_files(path) or _band_image_folders(path)
            if not found:
                raise DataNotFoundError(
                    f"{path}: folder holds no HSI files ({', '.join(HSI_SUFFIXES)}) "
                    "and no band images (NAME_01.png, NAME_02.png, …)"
                )
            out += found
        else:
            out.append(path)
    return out


def read_hsi_collection(paths: Iterable[str | os.PathLike], **kwargs) -> list[HyperCube]:
    """Read files and folders of HSIs that share their bands (see :func:`read_hsi_many`).

    59-band cubes without wavelengths get the official MSF-Diff Chikusei grid (bands 8–66,
    398.71–698.04 nm) with a loud warning: that is what the authors' patches are.
    """
    import warnings

    from msfdiff.data.wavelengths import chikusei_msfdiff_wavelengths

    cubes = read_hsi_many(expand_hsi_paths(paths), **kwargs)
    if cubes[0].wavelengths_nm is None and cubes[0].n_bands == 59:
        warnings.warn(
            f"{cubes[0].source}: no wavelengths in the data; assuming the official MSF-Diff Chikusei "
            "patches (Chikusei bands 8-66, 398.71-698.04 nm). Pass --wavelengths if not.",
            UserWarning,
            stacklevel=2,
        )
        wl = chikusei_msfdiff_wavelengths()
        cubes = [c.with_data(c.data, wl) for c in cubes]
    return cubes
