"""Fusion (paper Section 4.3): synthetic HSI = abundances x endmembers + bias (+ noise).

Eq. (5), ``Y' = E A' + eps``, is the linear mixing model the unmixer's decoder learned, applied
to sampled abundances: the spectra come from real HSIs, the spatial layout from the diffusion.
``fuse`` is a pure function of arrays (the ``inverse_transform`` of the unmixer); the rest of this
module writes one sample's files (names from :mod:`msfdiff.layout`): the HSI, a false-colour
PNG, spectral profile plots (paper Fig. 11) and, for fused samples, the abundance map.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from msfdiff._io import atomic_path, check_new
from msfdiff.data.formats import WRITE_FORMATS
from msfdiff.errors import DataFormatError
from msfdiff.layout import (
    FALSE_COLOUR_SUFFIX,
    PROFILES_SUFFIX,
    sample_abundance_path,
    sample_file,
    sample_stem,
)

REGION_SIZE = 6  # paper Fig. 11(d): mean spectra of 6x6 regions


def fuse(
    endmembers: np.ndarray,
    abundances: np.ndarray,
    *,
    bias: np.ndarray | None = None,
    noise_std: np.ndarray | float | None = None,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Mix abundances with endmember spectra: ``abundances @ endmembers + bias + noise``.

    Parameters
    ----------
    endmembers : ndarray of shape (k, n_bands)
    abundances : ndarray of shape (..., k)
        One map (H, W, k) or a batch (N, H, W, k).
    bias : ndarray of shape (n_bands,), optional
        The decoder bias ``b`` of Eq. (3).
    noise_std : ndarray of shape (n_bands,) or float, optional
        Standard deviation of the zero-mean Gaussian ``eps`` of Eq. (5), per band; the unmixer's
        ``noise_std_`` (its residual on real HSIs) makes samples as noisy as the data it saw.
        Noise never takes a value below zero, so non-negative endmembers give non-negative HSIs.
    rng : numpy Generator or int seed, optional
        Source of the noise (only used with ``noise_std``).

    Returns
    -------
    ndarray of shape (..., n_bands), float32

    Examples
    --------
    >>> fuse(np.eye(2, 3), np.array([[[0.25, 0.75]]]))
    array([[[0.25, 0.75, 0.  ]]], dtype=float32)
    """
    endmembers = np.asarray(endmembers, dtype=np.float32)
    abundances = np.asarray(abundances, dtype=np.float32)
    if endmembers.ndim != 2:
        raise DataFormatError(f"endmembers must be (k, n_bands), got shape {endmembers.shape}")
    k, n_bands = endmembers.shape
    if abundances.shape[-1] != k:
        raise DataFormatError(
            f"abundances have {abundances.shape[-1]} endmember channels, endmembers have {k}"
        )
    hsi = abundances @ endmembers
    for name, vector in (("bias", bias), ("noise_std", noise_std)):
        if vector is not None and np.ndim(vector) and np.shape(vector) != (n_bands,):
            raise DataFormatError(f"{name} must have shape ({n_bands},), got {np.shape(vector)}")
    if bias is not None:
        hsi += np.asarray(bias, dtype=np.float32)
    if noise_std is not None:
        noise = np.random.default_rng(rng).standard_normal(hsi.shape, dtype=np.float32)
        noisy = hsi + noise * np.asarray(noise_std, dtype=np.float32)
        # reflectance is never negative: noise may not take a value below zero (a clean value
        # below zero, from unconstrained endmembers, is left visible as it is)
        hsi = np.maximum(noisy, np.minimum(hsi, 0))
    return hsi


def estimate_noise_std(residuals: np.ndarray) -> np.ndarray:
    """Per-band root-mean-square of residuals (..., n_bands): the ``noise_std`` for :func:`fuse`.

    The residual of a mixing model fitted with a bias has ~zero mean per band, so its RMS is the
    standard deviation of ``eps``.
    """
    residuals = np.asarray(residuals, dtype=np.float64)
    flat = residuals.reshape(-1, residuals.shape[-1])
    return np.sqrt(np.mean(flat**2, axis=0)).astype(np.float32)


# ----------------------------------------------------------------------------- sample files


def write_sample(
    out_dir: str | os.PathLike,
    index: int,
    abundances: np.ndarray | None,
    hsi: np.ndarray,
    *,
    wavelengths_nm: np.ndarray | None,
    endmembers: np.ndarray | None,
    format: str = "envi",
    force: bool = False,
) -> list[Path]:
    """Write one synthetic sample: HSI, false colour, spectral profiles, then its abundance map.

    Each file is written atomically and the abundance map (or, without one, the profiles) comes
    last, so an interrupted run can skip exactly the complete samples. The abundance map
    (``sample_NNNN_abundance.npy``, shape (H, W, k)) is written for fused samples; a ``.mat``
    HSI then also holds ``Abu`` (H, W, k) and ``End`` (n_bands, k), the keys of the authors'
    code. ``abundances=None`` writes a cube drawn directly by an ``"hsi"`` generator.

    Returns
    -------
    list of Path
        The files written (the HSI file is the one ``read_hsi`` takes).
    """
    from msfdiff.data.cube import HyperCube
    from msfdiff.data.writers import write_hsi
    from msfdiff.plotting import false_colour, save_image

    if format not in WRITE_FORMATS:
        raise DataFormatError(f"unknown format {format!r}; choose one of {list(WRITE_FORMATS)}")
    out_dir = Path(out_dir)
    stem = sample_stem(index)
    fused = abundances is not None
    cube = HyperCube(np.asarray(hsi, dtype=np.float32), wavelengths_nm, source=stem)
    extra = None
    if fused and format == "mat":
        extra = {"Abu": abundances, "End": np.asarray(endmembers).T}
    preview = out_dir / f"{stem}{FALSE_COLOUR_SUFFIX}"
    profiles = out_dir / f"{stem}{PROFILES_SUFFIX}"
    target = sample_abundance_path(out_dir, index)
    for path in (preview, profiles, target) if fused else (preview, profiles):
        check_new(path, force=force)
    written = [
        write_hsi(
            sample_file(out_dir, index, WRITE_FORMATS[format]), cube, force=force, extra=extra
        ),
        save_image(false_colour(cube.data, wavelengths_nm), preview),
        plot_spectral_profiles(cube.data, wavelengths_nm, profiles, seed=index),
    ]
    if not fused:
        return written
    with atomic_path(target) as tmp:
        np.save(tmp, np.asarray(abundances, dtype=np.float32))
    return [*written, target]


def plot_spectral_profiles(
    hsi: np.ndarray,
    wavelengths_nm: np.ndarray | None,
    path: str | os.PathLike,
    *,
    n_points: int = 5,
    seed: int = 0,
) -> Path:
    """Paper Fig. 11 (b-d): false colour with marked points, their spectra, 6x6-region means.

    Points are drawn at random (``seed``) away from the border; each region is the 6x6 block
    whose corner is the point, so the two panels describe the same places.
    """
    from matplotlib.patches import Rectangle

    from msfdiff.plotting import false_colour, save_figure, subplots

    height, width, n_bands = hsi.shape
    x = np.arange(n_bands) if wavelengths_nm is None else wavelengths_nm
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, max(1, height - REGION_SIZE), n_points)
    cols = rng.integers(0, max(1, width - REGION_SIZE), n_points)
    fig, axes = subplots(1, 3, figsize=(12, 3.4), gridspec_kw={"width_ratios": [1, 1.4, 1.4]})
    axes[0].imshow(false_colour(hsi, wavelengths_nm))
    for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
        colour = f"C{i}"
        axes[0].add_patch(
            Rectangle((c - 0.5, r - 0.5), REGION_SIZE, REGION_SIZE, fill=False, color=colour)
        )
        axes[1].plot(x, hsi[r, c], color=colour, lw=1.5, label=f"pixel ({r}, {c})")
        region = hsi[r : r + REGION_SIZE, c : c + REGION_SIZE].reshape(-1, n_bands)
        mean, std = region.mean(0), region.std(0)
        axes[2].plot(x, mean, color=colour, lw=1.5, label=f"region at ({r}, {c})")
        axes[2].fill_between(x, mean - std, mean + std, color=colour, alpha=0.15)
    axes[0].set_title("false colour")
    axes[0].axis("off")
    axes[1].set_title("sampled pixels")
    axes[2].set_title(f"{REGION_SIZE}x{REGION_SIZE} region means (±1 std)")
    for ax in axes[1:]:
        ax.set_xlabel("wavelength (nm)" if wavelengths_nm is not None else "band")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[1].set_ylabel("reflectance")
    return save_figure(fig, path)
