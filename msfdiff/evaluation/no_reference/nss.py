"""Natural-scene statistics shared by NIQE, PIQE and BRISQUE.

All three look at mean-subtracted contrast-normalised (MSCN) coefficients of a grey image on
a 0-255 scale; :func:`band_to_gray` puts each HSI band on that scale, :func:`fit_aggd` fits
the asymmetric generalised Gaussians NIQE and BRISQUE describe them with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import correlate1d
from scipy.special import gamma as gamma_fn

# Shape parameters searched when fitting a (asymmetric) generalised Gaussian, as in the
# MATLAB releases: 0.2, 0.201, ..., 10.
_SHAPE_GRID = np.arange(200, 10001) / 1000.0
_SHAPE_RATIO = gamma_fn(2 / _SHAPE_GRID) ** 2 / (
    gamma_fn(1 / _SHAPE_GRID) * gamma_fn(3 / _SHAPE_GRID)
)


def band_to_gray(band: np.ndarray) -> np.ndarray:
    """Stretch one band to 0-255 (min to max, like MATLAB's ``mat2gray`` then x255).

    The quality models were built on 8-bit grey images; a reflectance band peaking at 0.4
    would otherwise look like a nearly black photograph. A constant band maps to zeros.
    """
    band = np.asarray(band, dtype=np.float64)
    lo, hi = float(band.min()), float(band.max())
    if hi <= lo:
        return np.zeros_like(band)
    return (band - lo) * (255.0 / (hi - lo))


def _gaussian_kernel_1d(size: int = 7, sigma: float = 7 / 6) -> np.ndarray:
    """1-D factor of MATLAB's ``fspecial('gaussian', size, sigma)`` (which is separable)."""
    x = np.arange(size) - (size - 1) / 2
    kernel = np.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def mscn(image: np.ndarray, *, c: float = 1.0, mode: str = "nearest") -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients ``(I - mu) / (sigma + c)``.

    ``mu`` and ``sigma`` are local mean and deviation under a 7x7 Gaussian window
    (sigma 7/6); ``mode`` is the border rule (``nearest`` = MATLAB ``replicate``,
    ``constant`` = zero padding).
    """
    kernel = _gaussian_kernel_1d()

    def blur(x: np.ndarray) -> np.ndarray:
        return correlate1d(correlate1d(x, kernel, axis=0, mode=mode), kernel, axis=1, mode=mode)

    mu = blur(image)
    sigma = np.sqrt(np.abs(blur(image * image) - mu * mu))
    return (image - mu) / (sigma + c)


@dataclass(frozen=True)
class AggdFit:
    """Asymmetric generalised Gaussian fit of rows of samples (all arrays of shape (n_rows,)).

    ``left_rms``/``right_rms`` are the RMS of the negative/positive samples; ``left_scale``
    and ``right_scale`` the AGGD scale parameters; ``mean`` the distribution mean.
    """

    shape: np.ndarray
    left_rms: np.ndarray
    right_rms: np.ndarray

    @property
    def _scale_factor(self) -> np.ndarray:
        return np.sqrt(gamma_fn(1 / self.shape) / gamma_fn(3 / self.shape))

    @property
    def left_scale(self) -> np.ndarray:
        return self.left_rms * self._scale_factor

    @property
    def right_scale(self) -> np.ndarray:
        return self.right_rms * self._scale_factor

    @property
    def mean(self) -> np.ndarray:
        ratio = gamma_fn(2 / self.shape) / gamma_fn(1 / self.shape)
        return (self.right_scale - self.left_scale) * ratio


def fit_aggd(samples: np.ndarray) -> AggdFit:
    """Moment-matching AGGD fit (Lasmar et al. 2009), one fit per row, shape on a 0.001 grid.

    Rows without negative (or positive) samples get NaN, as MATLAB's ``mean([])`` does.

    Parameters
    ----------
    samples : ndarray of shape (n_rows, n_samples)
    """
    samples = np.asarray(samples, dtype=np.float64)
    squares = samples**2
    neg, pos = samples < 0, samples > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt((squares * neg).sum(axis=1) / neg.sum(axis=1))
        right = np.sqrt((squares * pos).sum(axis=1) / pos.sum(axis=1))
        ratio = left / right
        r_hat = np.abs(samples).mean(axis=1) ** 2 / squares.mean(axis=1)
        r_norm = r_hat * (ratio**3 + 1) * (ratio + 1) / (ratio**2 + 1) ** 2
    best = np.argmin((_SHAPE_RATIO[None, :] - r_norm[:, None]) ** 2, axis=1)
    shape = np.where(np.isfinite(r_norm), _SHAPE_GRID[best], np.nan)
    return AggdFit(shape, left, right)


def split_blocks(image: np.ndarray, size: int) -> np.ndarray:
    """Non-overlapping ``size`` x ``size`` blocks, shape (n_blocks, size, size)."""
    rows, cols = image.shape[0] // size, image.shape[1] // size
    return (
        image[: rows * size, : cols * size]
        .reshape(rows, size, cols, size)
        .transpose(0, 2, 1, 3)
        .reshape(-1, size, size)
    )
