"""Figures of an evaluation: per-band quality curves (paper Fig. 12), spectra, histograms.

Each function draws one PNG, written atomically, real set in blue and synthetic in orange.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes

from msfdiff.plotting import save_figure, subplots

REAL_COLOUR, SYNTHETIC_COLOUR = "tab:blue", "tab:orange"


def _mean_std_band(ax: Axes, x: np.ndarray, values: np.ndarray, colour: str, label: str) -> None:
    """Mean line and ±1 std band of ``values`` (n_samples, n_points) over its rows."""
    mean, std = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    ax.plot(x, mean, color=colour, label=label)
    ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.25, linewidth=0)


def plot_band_quality(
    real: Mapping[str, np.ndarray],
    synthetic: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    *,
    positions: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> Path:
    """No-reference scores along wavelength, mean ± std over images, one panel per metric.

    Parameters
    ----------
    real, synthetic : mapping of metric name to ndarray of shape (n_images, n_bands)
        Metrics present in both are drawn; the two sets may have different band counts.
    positions : (ndarray or None, ndarray or None)
        Wavelength (nm) of each set's bands; with None, bands are drawn by index.
    """
    names = [name for name in real if name in synthetic]
    by_index = positions[0] is None or positions[1] is None
    fig, axes = subplots(1, len(names), figsize=(4.2 * len(names), 3.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        for scores, x, colour, label in (
            (real[name], positions[0], REAL_COLOUR, "real"),
            (synthetic[name], positions[1], SYNTHETIC_COLOUR, "synthetic"),
        ):
            x = np.arange(1, scores.shape[1] + 1) if by_index else x
            _mean_std_band(ax, x, scores, colour, label)
        xlabel = "band" if by_index else "wavelength (nm)"
        ax.set(xlabel=xlabel, ylabel=f"{name.upper()} (lower is better)", title=name.upper())
        ax.legend(frameon=False)
    return save_figure(fig, path)


def plot_spectra(
    real_pixels: np.ndarray,
    synthetic_pixels: np.ndarray,
    path: str | os.PathLike,
    *,
    wavelengths_nm: np.ndarray | None = None,
) -> Path:
    """Mean ± std pixel spectrum of each set.

    Parameters
    ----------
    real_pixels, synthetic_pixels : ndarray of shape (n_pixels, n_bands)
    """
    fig, ax = subplots(figsize=(5.5, 3.5))
    if wavelengths_nm is None:
        x, xlabel = np.arange(1, real_pixels.shape[1] + 1), "band"
    else:
        x, xlabel = np.asarray(wavelengths_nm), "wavelength (nm)"
    _mean_std_band(ax, x, real_pixels, REAL_COLOUR, f"real ({len(real_pixels)} px)")
    _mean_std_band(
        ax, x, synthetic_pixels, SYNTHETIC_COLOUR, f"synthetic ({len(synthetic_pixels)} px)"
    )
    ax.set(xlabel=xlabel, ylabel="value", title="Pixel spectra, mean ± std")
    ax.legend(frameon=False)
    return save_figure(fig, path)


def plot_histograms(
    pairs: Mapping[str, tuple[np.ndarray, np.ndarray]],
    path: str | os.PathLike,
    *,
    bins: int = 50,
) -> Path:
    """Density histograms of real vs synthetic values, one panel per entry of ``pairs``.

    Parameters
    ----------
    pairs : mapping of panel title to (real values, synthetic values), 1-D arrays
    """
    n = len(pairs)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (title, (real, synthetic)) in zip(axes.flat, pairs.items(), strict=False):
        edges = np.histogram_bin_edges(np.concatenate([real, synthetic]), bins=bins)
        ax.hist(real, bins=edges, density=True, alpha=0.5, color=REAL_COLOUR, label="real")
        ax.hist(
            synthetic,
            bins=edges,
            density=True,
            alpha=0.5,
            color=SYNTHETIC_COLOUR,
            label="synthetic",
        )
        ax.set(title=title, ylabel="density")
        ax.legend(frameon=False)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    return save_figure(fig, path)


def plot_power_spectra(
    frequencies: np.ndarray,
    real: np.ndarray,
    synthetic: np.ndarray,
    path: str | os.PathLike,
) -> Path:
    """Radially averaged power spectra of abundance maps, one panel per endmember.

    Parameters
    ----------
    frequencies : ndarray of shape (n_bins,), cycles/pixel
    real, synthetic : ndarray of shape (n_endmembers, n_bins)
    """
    k = real.shape[0]
    fig, axes = subplots(1, k, figsize=(3.4 * k, 3.0), squeeze=False)
    for j, ax in enumerate(axes[0]):
        ax.loglog(frequencies, real[j], color=REAL_COLOUR, label="real")
        ax.loglog(frequencies, synthetic[j], color=SYNTHETIC_COLOUR, label="synthetic")
        ax.set(title=f"endmember {j + 1}", xlabel="cycles/pixel", ylabel="power")
        ax.legend(frameon=False)
    return save_figure(fig, path)


def plot_novelty(
    real_to_real: np.ndarray,
    nearest_training: np.ndarray,
    threshold: float,
    path: str | os.PathLike,
    *,
    to_source: np.ndarray | None = None,
    bins: int = 40,
) -> Path:
    """Nearest-map distances: real to real against sample to training (and to source).

    Samples left of the dashed memorisation threshold are closer to a training map than
    95 % of real maps are to theirs.
    """
    curves = [
        (real_to_real, REAL_COLOUR, "real → nearest other real"),
        (nearest_training, SYNTHETIC_COLOUR, "sample → nearest training"),
    ]
    if to_source is not None:
        curves.append((to_source, "tab:green", "sample → its source"))
    edges = np.histogram_bin_edges(np.concatenate([c[0] for c in curves]), bins=bins)
    fig, ax = subplots(figsize=(6.0, 3.5))
    for values, colour, label in curves:
        ax.hist(values, bins=edges, density=True, alpha=0.5, color=colour, label=label)
    ax.axvline(
        threshold, color="black", linestyle="--", linewidth=1, label="memorisation threshold"
    )
    ax.set(
        xlabel="distance (L1 over endmembers, mean over pixels)",
        ylabel="density",
        title="Novelty: distance to the nearest map",
    )
    ax.legend(frameon=False)
    return save_figure(fig, path)
