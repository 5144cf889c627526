"""NIQE (Mittal, Soundararajan & Bovik 2013): how far an image's statistics are from nature's.

A Mahalanobis-like distance between a Gaussian fitted to patch statistics of the image and
one fitted to pristine natural images (the original model, see
:mod:`~msfdiff.evaluation.no_reference.models`). The MATLAB feature pipeline is reproduced,
including ``imresize(im, 0.5)`` (bicubic, anti-aliased), so scores match the original release.
"""

from __future__ import annotations

import numpy as np

from msfdiff.errors import DataFormatError
from msfdiff.evaluation.no_reference.models import NiqeModel, load_niqe_model
from msfdiff.evaluation.no_reference.nss import fit_aggd, mscn, split_blocks

# circshift offsets (rows, cols) of the four neighbour products, in MATLAB's order:
# horizontal, vertical, main diagonal, secondary diagonal.
_NIQE_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB ``imresize`` 'bicubic')."""
    ax = np.abs(x)
    near = (1.5 * ax**3 - 2.5 * ax**2 + 1) * (ax <= 1)
    far = (-0.5 * ax**3 + 2.5 * ax**2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))
    return near + far


def imresize_half(image: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(image, 0.5)`` (bicubic, anti-aliased) for even-sized images.

    At scale 1/2 output pixel ``i`` is centred between inputs ``2i`` and ``2i + 1``; the
    anti-aliasing kernel ``0.5 * cubic(0.5 x)`` spans 8 inputs at offsets ±0.5 … ±3.5, and
    MATLAB mirrors the image at its borders (edge sample repeated).
    """
    offsets = np.arange(-3.5, 4.0)
    weights = 0.5 * _cubic(0.5 * offsets)
    weights /= weights.sum()
    out = np.asarray(image, dtype=np.float64)
    for axis in (0, 1):
        padded = np.pad(out, [(4, 4) if a == axis else (0, 0) for a in (0, 1)], mode="symmetric")
        n_out = out.shape[axis] // 2
        acc = 0.0
        for tap, w in enumerate(weights):
            # input 2i - 3 + tap sits at padded index 2i + 1 + tap
            taken = np.take(padded, np.arange(n_out) * 2 + 1 + tap, axis=axis)
            acc = acc + w * taken
        out = acc
    return out


def niqe_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 NIQE statistics of each block of MSCN coefficients (MATLAB ``computefeature``).

    Parameters
    ----------
    blocks : ndarray of shape (n_blocks, size, size)

    Returns
    -------
    ndarray of shape (n_blocks, 18)
        AGGD shape and mean scale of the coefficients, then shape, mean, left and right scale
        of the products with each circularly shifted neighbour (within the block).
    """
    flat = blocks.reshape(len(blocks), -1)
    fit = fit_aggd(flat)
    columns = [fit.shape, (fit.left_scale + fit.right_scale) / 2]
    for shift in _NIQE_SHIFTS:
        products = flat * np.roll(blocks, shift, axis=(1, 2)).reshape(len(blocks), -1)
        fit = fit_aggd(products)
        columns += [fit.shape, fit.mean, fit.left_scale, fit.right_scale]
    return np.stack(columns, axis=1)


def niqe(image: np.ndarray, *, model: NiqeModel | None = None, patch_size: int = 96) -> float:
    """NIQE of a grey image on a 0-255 scale (lower = more natural).

    Parameters
    ----------
    image : ndarray of shape (height, width)
        At least ``patch_size`` on each side; cropped to a whole number of patches.
    model : NiqeModel, optional
        Loaded with :func:`load_niqe_model` when omitted.
    patch_size : int
        96 as in the original; smaller (even) sizes allow smaller images, but the pristine
        model was fitted on 96-pixel patches, so such scores are only comparable to each other.

    Returns
    -------
    float
        NaN when no patch has a usable statistic (e.g. a flat image). An image with a single
        patch has zero sample covariance (MATLAB's ``nancov`` would instead treat the one row
        as 36 observations of a single variable).
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise DataFormatError(f"NIQE needs a 2-D grey image, got shape {image.shape}")
    if patch_size % 2 or min(image.shape) < patch_size:
        raise DataFormatError(
            f"NIQE needs an even patch size within the image; got {patch_size} for {image.shape}"
        )
    model = model if model is not None else load_niqe_model()
    rows, cols = (s // patch_size * patch_size for s in image.shape)
    scale1 = image[:rows, :cols]
    scale2 = imresize_half(scale1)
    feats = np.hstack(
        [
            niqe_features(split_blocks(mscn(scale1), patch_size)),
            niqe_features(split_blocks(mscn(scale2), patch_size // 2)),
        ]
    )
    complete = feats[np.all(np.isfinite(feats), axis=1)]
    if len(complete) == 0:
        return float("nan")
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(np.where(np.isfinite(feats), feats, np.nan), axis=0)
    cov = np.cov(complete, rowvar=False) if len(complete) > 1 else np.zeros((36, 36))
    diff = model.mean - mean
    return float(np.sqrt(diff @ np.linalg.pinv((model.cov + cov) / 2) @ diff))
