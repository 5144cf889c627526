"""Colour photos: finding them in folders and reading them as (H, W, 3) floats in R, G, B order.

Photos are returned as stored (sRGB-encoded); turning them into the encoder's input domain
is :meth:`msfdiff.data.bands.BandSelector.photo_to_input`'s job.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from msfdiff.data.formats import PHOTO_SUFFIXES
from msfdiff.errors import DataFormatError, DataNotFoundError

CROPS = ("center", "resize")
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}


class Photo(NamedTuple):
    """A photo file and its class label (its first-level sub-folder, or None)."""

    path: Path
    label: str | None


def list_photos(folder: str | os.PathLike) -> list[Photo]:
    """Find photos under ``folder``, recursively, sorted by path.

    A photo directly in ``folder`` has no label; one in ``folder/<class>/...`` is labelled
    ``<class>`` (the AID layout). A single photo file may be given instead of a folder.

    Raises
    ------
    DataNotFoundError
        The folder does not exist or holds no photo.
    """
    folder = Path(folder)
    if folder.is_file() and folder.suffix.lower() in PHOTO_SUFFIXES:
        return [Photo(folder, None)]
    if not folder.is_dir():
        raise DataNotFoundError(f"{folder}: folder not found")
    photos = [
        Photo(path, path.relative_to(folder).parts[0] if path.parent != folder else None)
        for path in sorted(folder.rglob("*"))
        if path.suffix.lower() in PHOTO_SUFFIXES and path.is_file()
    ]
    if not photos:
        raise DataNotFoundError(
            f"{folder}: no photos ({', '.join(s[1:] for s in PHOTO_SUFFIXES)}) found"
        )
    return photos


def read_photo(
    path: str | os.PathLike,
    *,
    size: int | tuple[int, int] | None = None,
    crop: str = "center",
) -> np.ndarray:
    """Read a colour photo as floats in [0, 1], R, G, B order.

    8- and 16-bit files are divided by their maximum code value; an alpha channel is
    dropped. Pillow reads 16-bit colour PNGs with 8-bit precision; 16-bit TIFFs keep theirs.

    Parameters
    ----------
    path : path
    size : int or (height, width), optional
        Output size; an int means square.
    crop : {'center', 'resize'}
        ``'center'`` scales the shorter side to fit, then cuts the centre (no distortion);
        ``'resize'`` stretches to ``size``.

    Returns
    -------
    ndarray of shape (height, width, 3), float32

    Raises
    ------
    DataNotFoundError
        Missing file.
    DataFormatError
        Not a readable image, or grey-scale (a colour photo is needed).
    """
    path = Path(path)
    if crop not in CROPS:
        raise DataFormatError(f"unknown crop {crop!r}; use one of {', '.join(CROPS)}")
    if not path.is_file():
        raise DataNotFoundError(f"{path}: photo not found")
    rgb = _read_tiff(path) if path.suffix.lower() in (".tif", ".tiff") else _read_pillow(path)
    if rgb.ndim == 2 or rgb.shape[2] < 3 or _channels_equal(rgb):
        raise DataFormatError(f"{path}: is grey-scale, need a colour photo")
    rgb = rgb[..., :3]
    max_code = np.iinfo(rgb.dtype).max if rgb.dtype.kind in "ui" else 1.0
    image = rgb.astype(np.float32) / np.float32(max_code)
    if size is not None:
        image = _fit(image, (size, size) if isinstance(size, int) else tuple(size), crop)
    return np.clip(image, 0.0, 1.0)


def _read_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode not in _GREY_MODES | {"RGB", "RGBA"}:  # palette, CMYK, YCbCr, ...
                img = img.convert("RGB")
            mode, array = img.mode, np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataFormatError(f"{path}: not a readable image ({exc})") from exc
    if mode in _GREY_MODES:
        raise DataFormatError(f"{path}: is grey-scale, need a colour photo")
    return array


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        return tifffile.imread(path)
    except (ValueError, OSError, IndexError, KeyError) as exc:
        raise DataFormatError(f"{path}: not a readable image ({exc})") from exc


def _channels_equal(rgb: np.ndarray) -> bool:
    """True for a grey picture saved with three identical channels."""
    return bool(
        np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2])
    )


def _fit(image: np.ndarray, size: tuple[int, int], crop: str) -> np.ndarray:
    """Resize each channel with Pillow's bicubic filter (float mode keeps 16-bit precision)."""
    from PIL import Image

    out_h, out_w = size
    height, width = image.shape[:2]
    if crop == "center":
        scale = max(out_h / height, out_w / width)
        new_h, new_w = max(out_h, round(height * scale)), max(out_w, round(width * scale))
    else:
        new_h, new_w = out_h, out_w
    channels = [
        np.asarray(Image.fromarray(image[..., c]).resize((new_w, new_h), Image.Resampling.BICUBIC))
        for c in range(3)
    ]
    resized = np.stack(channels, axis=2)
    top, left = (new_h - out_h) // 2, (new_w - out_w) // 2
    return resized[top : top + out_h, left : left + out_w]
