"""Labelled data for the downstream test: a scene with a per-pixel class map, or class folders.

A labelled scene is a cube plus a label map of the same height and width, 0 meaning
"unlabelled" and 1..K the classes named by ``class_names``. A scene-classification set is a
folder per class of HSIs (HSRS-SC style), read into an :class:`ImageSet` of one image size. Salinas-A and Indian Pines, the
two scenes in ``../shared/data/hsi``, have loaders that apply what that folder's README says
about their keys, class orders, removed bands and wavelengths, so the command and the tests
read them the same way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from msfdiff.data.cube import HyperCube
from msfdiff.data.readers import hsi_files, read_hsi
from msfdiff.data.shared import shared_data_dir
from msfdiff.data.wavelengths import parse_wavelengths
from msfdiff.errors import ConfigError, DataFormatError, DataNotFoundError

ClassNames = Sequence[str] | Mapping[int, str]

# Salinas-A keeps the Salinas class numbers; they become 1..6 in this order.
SALINAS_A_CLASSES = {
    1: "Brocoli_green_weeds_1",
    10: "Corn_senesced_green_weeds",
    11: "Lettuce_romaine_4wk",
    12: "Lettuce_romaine_5wk",
    13: "Lettuce_romaine_6wk",
    14: "Lettuce_romaine_7wk",
}
# Label_M_IP_16.mat numbers the 16 Purdue classes alphabetically.
INDIAN_PINES_CLASSES = [
    "Alfalfa", "Bldg-Grass-Tree-Drives", "Corn", "Corn-mintill", "Corn-notill",
    "Grass-pasture-mowed", "Grass-pasture", "Grass-trees", "Hay-windrowed", "Oats",
    "Soybean-clean", "Soybean-mintill", "Soybean-notill", "Stone-Steel-Towers", "Wheat", "Woods",
]  # fmt: skip


def _one_based(*spans: tuple[int, int]) -> list[int]:
    """0-based indices of the 1-based inclusive band ranges a README states."""
    return [band - 1 for first, last in spans for band in range(first, last + 1)]


# Water-absorption bands, 1-based as the README gives them.
SALINAS_A_DROPPED = _one_based((108, 112), (154, 167), (224, 224))  # 224 -> 204 bands
INDIAN_PINES_DROPPED = _one_based((104, 108), (150, 163), (220, 220))  # 220 -> 200 bands


@dataclass(frozen=True, eq=False)
class LabelledScene:
    """A cube and its per-pixel classes.

    Attributes
    ----------
    cube : HyperCube
        ``data`` of shape (height, width, n_bands), float32.
    labels : ndarray of shape (height, width), int64
        0 = unlabelled, ``k`` = ``class_names[k - 1]``.
    class_names : list of str
    """

    cube: HyperCube
    labels: np.ndarray
    class_names: list[str]

    def __post_init__(self) -> None:
        source = self.cube.source
        if self.labels.shape != self.cube.data.shape[:2]:
            raise DataFormatError(
                f"{source}: label map is {self.labels.shape}, cube is {self.cube.data.shape[:2]}"
            )
        if self.labels.size and (self.labels.min() < 0 or self.labels.max() > self.n_classes):
            raise DataFormatError(
                f"{source}: labels must lie in 0..{self.n_classes} "
                f"(0 = unlabelled), got {self.labels.min()}..{self.labels.max()}"
            )

    @property
    def data(self) -> np.ndarray:
        return self.cube.data

    @property
    def wavelengths_nm(self) -> np.ndarray | None:
        return self.cube.wavelengths_nm

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def counts(self) -> np.ndarray:
        """Labelled pixels per class, shape (n_classes,)."""
        return np.bincount(self.labels.ravel(), minlength=self.n_classes + 1)[1:]


def read_labelled_scene(
    cube_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    *,
    cube_key: str | None = None,
    labels_key: str | None = None,
    class_names: ClassNames | None = None,
    unlabelled: int = 0,
    wavelengths: str | os.PathLike | Sequence[float] | np.ndarray | None = None,
    drop_bands: Sequence[int] | None = None,
    scale: float | None = None,
) -> LabelledScene:
    """Read a cube and its label map into a :class:`LabelledScene`.

    Parameters
    ----------
    cube_path, cube_key, scale
        As for :func:`msfdiff.data.read_hsi` (integer cubes need ``scale``).
    labels_path : path
        A 2-D integer map in .mat (v5), .npy, .npz, .png or .tif.
    labels_key : str, optional
        Array name inside a .mat/.npz; needed only when several 2-D arrays are stored.
    class_names : list or dict, optional
        A list names stored labels 1..K in order. A dict ``{stored value: name}`` also
        renumbers: its keys become 1..K in the dict's order (Salinas-A stores 1, 10..14).
        Without names, the stored values present become 1..K, named by their value.
    unlabelled : int
        The stored value meaning "no label" (0 by default, -1 in Label_M_IP_16.mat).
    wavelengths : path, spec or array, optional
        Band centres in nm, either one per stored band (they are dropped with the bands) or
        one per band kept. Bands are then put in ascending wavelength order (AVIRIS's
        spectrometers overlap, so its tables are not).
    drop_bands : sequence of int, optional
        0-based indices of the bands as :func:`read_hsi` returns them (the stored order,
        unless the file carries its own non-ascending band table), e.g. water bands.
    """
    cube = read_hsi(cube_path, key=cube_key, scale=scale)
    data, wl = select_bands(cube, wavelengths, drop_bands)
    raw = _read_label_map(Path(labels_path), labels_key)
    labels, names = _number_classes(raw, class_names, unlabelled, Path(labels_path))
    cube = HyperCube(data, wl, str(cube_path), dict(cube.meta))
    return LabelledScene(cube, labels, names)


def select_bands(
    cube: HyperCube,
    wavelengths: str | os.PathLike | Sequence[float] | np.ndarray | None = None,
    drop_bands: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """A cube's float32 data without ``drop_bands``, in ascending wavelength order.

    ``wavelengths`` (nm) replace the file's own table, one per stored band (dropped with the
    bands) or one per band kept. AVIRIS's spectrometers overlap, so its tables are not
    ascending; sorting here lets every later step assume they are.
    """
    source = cube.source
    data, wl = np.asarray(cube.data, dtype=np.float32), cube.wavelengths_nm
    n_stored = data.shape[2]
    drop = np.unique(np.asarray(drop_bands if drop_bands is not None else [], dtype=int))
    if drop.size and (drop.min() < 0 or drop.max() >= n_stored):
        raise DataFormatError(f"{source}: drop_bands must lie in 0..{n_stored - 1}")
    keep = np.setdiff1d(np.arange(n_stored), drop)
    data = data[..., keep]
    if wavelengths is not None:
        wl = parse_wavelengths(wavelengths, ascending=False)
        if wl.size == n_stored:
            wl = wl[keep]
        elif wl.size != keep.size:
            raise DataFormatError(
                f"{source}: {wl.size} wavelengths for {n_stored} stored / {keep.size} kept bands"
            )
    elif wl is not None:
        wl = wl[keep]
    if wl is not None:
        order = np.argsort(wl, kind="stable")
        data, wl = data[..., order], wl[order]
        if np.any(np.diff(wl) == 0):
            raise DataFormatError(f"{source}: two bands share a wavelength")
    return np.ascontiguousarray(data), wl


def _read_label_map(path: Path, key: str | None) -> np.ndarray:
    """The stored 2-D label array, integer-valued (MATLAB often stores them as doubles)."""
    if not path.is_file():
        raise DataNotFoundError(f"{path}: file not found")
    suffix = path.suffix.lower()
    try:
        if suffix in (".mat", ".npz"):
            if suffix == ".mat":
                import scipy.io

                arrays = {k: v for k, v in scipy.io.loadmat(path).items() if not k.startswith("__")}
            else:
                with np.load(path, allow_pickle=False) as stored:
                    arrays = {k: stored[k] for k in stored.files}
            maps = [k for k, v in arrays.items() if np.ndim(v) == 2 and min(np.shape(v)) > 1]
            if key is None and len(maps) != 1:
                raise DataFormatError(
                    f"{path}: pass labels_key, one of {sorted(maps)}"
                    if maps
                    else f"{path}: no 2-D label array inside"
                )
            key = key if key is not None else maps[0]
            if key not in arrays:
                raise DataFormatError(f"{path}: no array {key!r} (has {sorted(arrays)})")
            array = np.asarray(arrays[key])
        elif suffix == ".npy":
            array = np.load(path, allow_pickle=False)
        elif suffix in (".tif", ".tiff"):
            import tifffile

            array = tifffile.imread(path)
        elif suffix == ".png":
            from PIL import Image

            with Image.open(path) as image:
                array = np.asarray(image)
        else:
            raise DataFormatError(
                f"{path}: unknown label format {suffix!r} (.mat .npy .npz .png .tif)"
            )
    except (OSError, ValueError) as exc:
        if isinstance(exc, DataFormatError):
            raise
        raise DataFormatError(f"{path}: not a readable label file: {exc}") from exc
    if array.ndim != 2:
        raise DataFormatError(f"{path}: labels must be a 2-D map, got shape {array.shape}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array) & (array == np.round(array))):
        raise DataFormatError(f"{path}: labels are not integers")
    if array.dtype.kind not in "biuf":
        raise DataFormatError(f"{path}: labels are not integers (dtype {array.dtype})")
    return array.astype(np.int64)


def _number_classes(
    raw: np.ndarray, class_names: ClassNames | None, unlabelled: int, path: Path
) -> tuple[np.ndarray, list[str]]:
    """Renumber stored values to 0 (unlabelled) and 1..K, with the K names."""
    values = np.unique(raw[raw != unlabelled])
    if class_names is None:
        mapping = {int(v): str(int(v)) for v in values}
    elif isinstance(class_names, Mapping):
        mapping = {int(k): str(v) for k, v in class_names.items()}
    else:
        mapping = {i: str(name) for i, name in enumerate(class_names, start=1)}
    unknown = sorted(set(values.tolist()) - set(mapping))
    if unknown:
        raise DataFormatError(f"{path}: label values {unknown[:5]} have no class name")
    labels = np.zeros(raw.shape, dtype=np.int64)
    for new, stored in enumerate(mapping, start=1):
        labels[raw == stored] = new
    return labels, list(mapping.values())


# --------------------------------------------------------------------------- the shared scenes


def _shared_hsi(data_dir: str | os.PathLike | None, name: str) -> Path:
    root = Path(data_dir) if data_dir is not None else shared_data_dir()
    if root is None:
        raise DataNotFoundError(f"{name}: shared data not found (set MSFDIFF_DATA)")
    return root / "hsi"


def load_salinas_a(data_dir: str | os.PathLike | None = None) -> LabelledScene:
    """Salinas-A (83 x 86, 204 bands, 6 classes) from the shared data folder.

    The stored cube is the uncorrected 224-band version (int16, -9..8373); the 20
    water-absorption bands EHU removes for ``SalinasA_corrected`` are dropped. Values are
    divided by 10000, a convention, not a calibration: the flight's scaling is not stored.
    Wavelengths are the generic AVIRIS table (the 1998 flight's own centres are not stored).
    """
    hsi = _shared_hsi(data_dir, "Salinas-A")
    return read_labelled_scene(
        hsi / "salinas_a" / "SalinasA.mat",
        hsi / "salinas_a" / "SalinasA_gt.mat",
        cube_key="salinasA",
        labels_key="salinasA_gt",
        class_names=SALINAS_A_CLASSES,
        wavelengths=hsi / "wavelengths" / "aviris.csv",
        drop_bands=SALINAS_A_DROPPED,
        scale=10000.0,
    )


def load_indian_pines(data_dir: str | os.PathLike | None = None) -> LabelledScene:
    """Indian Pines (145 x 145, 200 bands, 16 classes) from the shared data folder.

    ``IP_200_M.mat`` holds each band min-max rescaled to 0..255 (not radiance), read as
    value / 255. Its labels (``Label_M_IP_16.mat``, -1 = unlabelled) number the classes
    alphabetically. Wavelengths: the 220-band 1992 table minus bands 104-108, 150-163 and 220,
    the usual removal, inferred from the band count (the file does not say).
    """
    hsi = _shared_hsi(data_dir, "Indian Pines")
    return read_labelled_scene(
        hsi / "indian_pines" / "IP_200_M.mat",
        hsi / "indian_pines" / "Label_M_IP_16.mat",
        cube_key="data_M",
        labels_key="label_M",
        class_names=INDIAN_PINES_CLASSES,
        unlabelled=-1,
        wavelengths=read_spc_centres(hsi / "wavelengths" / "aviris_1992_92AV3C.spc")[
            np.setdiff1d(np.arange(220), INDIAN_PINES_DROPPED)
        ],
        scale=255.0,
    )


def read_spc_centres(path: str | os.PathLike) -> np.ndarray:
    """Band centres (nm) from an AVIRIS ``.spc`` table: a title, a rule, then one band a row
    (centre, FWHM, their uncertainties, band number)."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"{path}: file not found")
    try:
        return np.loadtxt(path, skiprows=2, usecols=0, ndmin=1)
    except ValueError as exc:
        raise DataFormatError(f"{path}: not an AVIRIS .spc band table: {exc}") from exc


# --------------------------------------------------------------------------- class folders


@dataclass(frozen=True, eq=False)
class ImageSet:
    """A scene-classification set: images of one size and band table, a class each.

    Attributes
    ----------
    images : ndarray of shape (n_images, S, S, n_bands), float32
    labels : ndarray of shape (n_images,), int64
        Class index, 0-based: ``class_names[labels[i]]``.
    class_names : list of str
    wavelengths_nm : ndarray or None
    paths : list of str
        The file each image came from.
    source : str
        The set's root folder.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    wavelengths_nm: np.ndarray | None
    paths: list[str]
    source: str

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def list_class_folders(root: str | os.PathLike) -> tuple[list[Path], np.ndarray, list[str]]:
    """The files of a set laid out as ``ROOT/<class>/<image>`` (HSRS-SC style).

    Returns
    -------
    paths : list of Path
    labels : ndarray of shape (n_images,), int64
        Class index (0-based) of each image.
    class_names : list of str
        Folder names, sorted.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataNotFoundError(f"{root}: folder not found")
    paths: list[Path] = []
    labels: list[int] = []
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(names) < 2:
        raise DataFormatError(f"{root}: needs a folder per class, at least two")
    for index, name in enumerate(names):
        files = hsi_files(root / name)
        if not files:
            raise DataFormatError(f"{root / name}: class folder holds no HSI files")
        paths += files
        labels += [index] * len(files)
    return paths, np.array(labels, dtype=np.int64), names


def read_class_folders(
    root: str | os.PathLike,
    *,
    image_size: int | None = None,
    key: str | None = None,
    scale: float | None = None,
    wavelengths: str | os.PathLike | Sequence[float] | np.ndarray | None = None,
    drop_bands: Sequence[int] | None = None,
) -> ImageSet:
    """Read every image of ``ROOT/<class>/<image>`` into an :class:`ImageSet`.

    ``key``, ``scale``, ``wavelengths`` and ``drop_bands`` apply to every file as in
    :func:`read_labelled_scene`; all images must then have the same bands. With
    ``image_size``, each image is centre-cropped to a square and area-averaged to
    ``image_size`` px (HSRS-SC's 256 px images would make CPU networks and the diffusion
    model slow); without it, all images must already share one square size.
    """
    if image_size is not None and image_size < 4:
        raise ConfigError(f"image_size must be at least 4, got {image_size}")
    paths, labels, names = list_class_folders(root)
    images, table = [], None
    for path in paths:
        data, wl = select_bands(read_hsi(path, key=key, scale=scale), wavelengths, drop_bands)
        if images and data.shape[2] != images[0].shape[2]:
            raise DataFormatError(
                f"{path}: {data.shape[2]} bands, {paths[0]} has {images[0].shape[2]}"
            )
        if table is not None and wl is not None and not np.allclose(wl, table, atol=0.5):
            raise DataFormatError(f"{path}: its band table differs from {paths[0]}'s")
        table = wl if table is None else table
        images.append(_square(data, image_size, path))
        if images[-1].shape != images[0].shape:
            raise DataFormatError(
                f"{path}: {images[-1].shape[:2]} px, {paths[0]} has {images[0].shape[:2]}; "
                "set image_size to bring every image to one size"
            )
    return ImageSet(np.stack(images), labels, names, table, [str(p) for p in paths], str(root))


def _square(data: np.ndarray, size: int | None, path: Path) -> np.ndarray:
    """The centred square of ``data``, area-averaged to ``size`` px (None: as it is)."""
    height, width = data.shape[:2]
    if size is None:
        if height != width:
            raise DataFormatError(f"{path}: {height} x {width} px is not square; set image_size")
        return data
    side = min(height, width)
    if side < size:
        raise DataFormatError(f"{path}: {height} x {width} px is smaller than image_size {size}")
    top, left = (height - side) // 2, (width - side) // 2
    square = data[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    import torch

    pooled = torch.nn.functional.adaptive_avg_pool2d(
        torch.from_numpy(np.ascontiguousarray(square)).permute(2, 0, 1), size
    )
    return pooled.permute(1, 2, 0).contiguous().numpy()
