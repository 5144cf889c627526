"""Pictures people look at: false colour, endmember spectra, abundance maps, spectral profiles.

Figures are built with matplotlib's object API (``Figure``), never pyplot, so drawing needs
no backend, leaves no global state and works in threads; PNGs are written atomically.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from msfdiff._io import atomic_path

DPI = 110

FALSE_COLOUR_NM = (640.0, 550.0, 460.0)


def false_colour(
    hsi: np.ndarray, wavelengths_nm: np.ndarray | None, *, percentile: float = 99.0
) -> np.ndarray:
    """RGB preview (H, W, 3) in [0, 1] from the bands nearest 640/550/460 nm.

    Without wavelengths, bands at 3/4, 1/2 and 1/4 of the cube stand in. One robust gain
    (the ``percentile`` of all three bands) keeps the colour balance of the scene.
    """
    n = hsi.shape[-1]
    if wavelengths_nm is None:
        idx = [int(n * 0.75), n // 2, n // 4]
    else:
        idx = [int(np.argmin(np.abs(wavelengths_nm - w))) for w in FALSE_COLOUR_NM]
    rgb = np.asarray(hsi[..., idx], dtype=np.float32)
    hi = np.percentile(rgb, percentile)
    return np.clip(rgb / max(float(hi), 1e-8), 0, 1)


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """``(Figure, axes)`` like ``pyplot.subplots`` (``figsize`` and ``subplot`` keywords)."""
    fig = Figure(figsize=kwargs.pop("figsize", None))
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG atomically (every figure of msfdiff at one resolution)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    return Path(path)


def save_image(rgb: np.ndarray, path: str | Path) -> Path:
    """Save an (H, W, 3) float image in [0, 1] as PNG atomically."""
    from PIL import Image

    arr = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    with atomic_path(path) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG")
    return Path(path)


def plot_endmembers(
    endmembers: np.ndarray,
    wavelengths_nm: np.ndarray | None,
    path: str | Path,
    *,
    title: str = "",
    usage: np.ndarray | None = None,
) -> Path:
    """Endmember spectra against wavelength (paper Fig. 6 style); ``usage`` (mean abundance
    per endmember) goes into the legend, so an unused endmember is seen as one."""
    x = np.arange(endmembers.shape[1]) if wavelengths_nm is None else wavelengths_nm
    fig, ax = subplots(figsize=(6, 3.6))
    for i, spectrum in enumerate(endmembers):
        label = f"endmember {i + 1}"
        if usage is not None:
            label += f" (mean abundance {usage[i]:.0%})"
        ax.plot(x, spectrum, lw=1.8, label=label)
    ax.set_xlabel("wavelength (nm)" if wavelengths_nm is not None else "band")
    ax.set_ylabel("reflectance")
    ax.set_title(title or "Endmember spectra")
    # beside the axes, not on the curves (usage labels make the legend wide)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_abundance_grid(
    abundances: Sequence[np.ndarray],
    path: str | Path,
    *,
    row_labels: Sequence[str] | None = None,
    stretch: bool = False,
) -> Path:
    """Rows of abundance maps (one row per image, one column per endmember; paper Fig. 3).

    The colour scale is 0..1, or with ``stretch`` 0 to the 99th percentile of each endmember
    over all rows: faint endmembers show their structure, and a column still shares one
    scale, so rows (e.g. real and synthetic) stay comparable.
    """
    n, k = len(abundances), abundances[0].shape[-1]
    tops = np.ones(k)
    if stretch:
        pooled = np.concatenate([a.reshape(-1, k) for a in abundances])
        tops = np.maximum(np.percentile(pooled, 99, axis=0), 1e-3)
    fig, axes = subplots(n, k, figsize=(1.6 * k, 1.6 * n), squeeze=False)
    for r, abundance in enumerate(abundances):
        for c in range(k):
            ax = axes[r, c]
            ax.imshow(abundance[..., c], cmap="viridis", vmin=0, vmax=tops[c])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                title = f"E{c + 1}" + (f" (0–{tops[c]:.2f})" if stretch else "")
                ax.set_title(title, fontsize=8)
            if c == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[r], fontsize=7)
    return save_figure(fig, path)


def plot_reconstruction(
    original: np.ndarray,
    reconstructed: np.ndarray,
    wavelengths_nm: np.ndarray | None,
    path: str | Path,
    *,
    n_pixels: int = 4,
    seed: int = 0,
) -> Path:
    """Original vs reconstructed false colour, and spectra of a few random pixels."""
    x = np.arange(original.shape[-1]) if wavelengths_nm is None else wavelengths_nm
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, original.shape[0], n_pixels)
    cols = rng.integers(0, original.shape[1], n_pixels)
    fig, axes = subplots(1, 3, figsize=(11, 3.4), gridspec_kw={"width_ratios": [1, 1, 1.6]})
    for ax, cube, name in (
        (axes[0], original, "original"),
        (axes[1], reconstructed, "reconstructed"),
    ):
        ax.imshow(false_colour(cube, wavelengths_nm))
        ax.scatter(cols, rows, s=14, c="white", edgecolors="black")
        ax.set_title(name)
        ax.axis("off")
    for i, (r, c) in enumerate(zip(rows, cols, strict=True)):
        line = axes[2].plot(x, original[r, c], lw=1.6, label=f"pixel {i + 1}")[0]
        axes[2].plot(x, reconstructed[r, c], "--", lw=1.2, color=line.get_color())
    axes[2].set_title("spectra: solid original, dashed reconstructed", fontsize=9)
    axes[2].set_xlabel("wavelength (nm)" if wavelengths_nm is not None else "band")
    axes[2].legend(fontsize=7)
    axes[2].grid(alpha=0.3)
    return save_figure(fig, path)


def plot_loss(
    history: Sequence[dict], path: str | Path, *, keys: Sequence[str] = ("total",), title: str = ""
) -> Path:
    """Training-loss curve(s) on a log scale, smoothed with a running mean."""
    fig, ax = subplots(figsize=(6, 3.2))
    steps = np.array([row["step"] for row in history])
    for key in keys:
        values = np.array([row[key] for row in history], dtype=float)
        window = max(1, len(values) // 50)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1 :], smooth, label=key)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title or "training loss")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
