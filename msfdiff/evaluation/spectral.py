"""HSI-native distances between real and synthetic sets.

Inception sees three bands. These see all of them: the distribution of pixel spectra
(Fréchet distance on a PCA basis fitted to the real set), the distribution of spectral angles,
and, for abundance maps, the per-endmember value histograms and spatial power spectra.
Definitions and units are in docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from scipy.stats import wasserstein_distance
from sklearn.decomposition import PCA

from msfdiff.errors import DataFormatError
from msfdiff.evaluation.generative import frechet_feature_distance

POWER_FLOOR = 1e-12  # power below this is treated as this, so log10 of a flat map stays finite


def sample_pixels(
    cubes: Sequence[np.ndarray], *, max_pixels: int = 100_000, seed: int = 0
) -> np.ndarray:
    """Pixels drawn from a set of cubes, about equally many from each, without replacement.

    Parameters
    ----------
    cubes : sequence of ndarray of shape (height, width, n_channels)
        Same channel count; the size may differ.
    max_pixels : int
        Upper bound on the rows returned.

    Returns
    -------
    ndarray of shape (n_pixels, n_channels), float64
    """
    if not cubes:
        raise DataFormatError("no cubes to sample pixels from")
    n_channels = {cube.shape[-1] for cube in cubes}
    if len(n_channels) != 1:
        raise DataFormatError(f"cubes have different channel counts: {sorted(n_channels)}")
    rng = np.random.default_rng(seed)
    per_cube = max(1, max_pixels // len(cubes))
    rows = []
    for cube in cubes:
        flat = np.asarray(cube).reshape(-1, cube.shape[-1])
        take = rng.choice(len(flat), size=min(per_cube, len(flat)), replace=False)
        rows.append(flat[np.sort(take)].astype(np.float64))
    return np.concatenate(rows)


def spectral_frechet_distance(
    real_pixels: np.ndarray, synthetic_pixels: np.ndarray, *, n_components: int = 10
) -> float:
    """Fréchet distance between the pixel-spectrum distributions, on the real set's PCA basis.

    Both sets are projected on the first ``n_components`` principal components of the real
    pixels (not whitened, so the value is in squared reflectance units) and compared as
    Gaussians, as FID does with Inception features.

    Parameters
    ----------
    real_pixels, synthetic_pixels : ndarray of shape (n_pixels, n_bands)
    """
    _check_pixels(real_pixels, synthetic_pixels)
    n_components = min(n_components, real_pixels.shape[1], len(real_pixels) - 1)
    pca = PCA(n_components=n_components).fit(real_pixels)
    return frechet_feature_distance(pca.transform(real_pixels), pca.transform(synthetic_pixels))


def spectral_angles_to(pixels: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Angle in degrees between each pixel spectrum and ``reference`` (shape (n_bands,))."""
    norms = np.linalg.norm(pixels, axis=1) * np.linalg.norm(reference)
    cosine = pixels @ reference / np.maximum(norms, np.finfo(np.float64).tiny)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


def spectral_angle_distance(real_pixels: np.ndarray, synthetic_pixels: np.ndarray) -> float:
    """1-Wasserstein distance (degrees) between the spectral-angle distributions of two sets.

    Angles are measured to the mean spectrum of the real set, so the distribution describes
    how far, in shape, pixels stray from the typical real spectrum, independent of brightness.
    """
    _check_pixels(real_pixels, synthetic_pixels)
    reference = real_pixels.mean(axis=0)
    return float(
        wasserstein_distance(
            spectral_angles_to(real_pixels, reference),
            spectral_angles_to(synthetic_pixels, reference),
        )
    )


def _check_pixels(real: np.ndarray, synthetic: np.ndarray) -> None:
    if real.ndim != 2 or synthetic.ndim != 2 or real.shape[1] != synthetic.shape[1]:
        raise DataFormatError(
            f"pixel sets must be (n, bands) with equal bands, got {real.shape}, {synthetic.shape}"
        )
    if len(real) < 2 or len(synthetic) < 2:
        raise DataFormatError("need at least 2 pixels in each set")


def abundance_histogram_distances(
    real_pixels: np.ndarray, synthetic_pixels: np.ndarray
) -> np.ndarray:
    """Per-endmember 1-Wasserstein distance between abundance value distributions.

    Parameters
    ----------
    real_pixels, synthetic_pixels : ndarray of shape (n_pixels, n_endmembers)
        Abundance vectors (e.g. from :func:`sample_pixels` of the maps) of the real set,
        inferred by the unmixer, and of the synthetic set, in the same endmember order.

    Returns
    -------
    ndarray of shape (n_endmembers,)
        In abundance units (fractions); 0.1 means the histograms are, on average, a tenth of
        the abundance range apart.
    """
    _check_pixels(real_pixels, synthetic_pixels)
    return np.array(
        [
            wasserstein_distance(real_pixels[:, j], synthetic_pixels[:, j])
            for j in range(real_pixels.shape[1])
        ]
    )


def common_bin_count(*map_sets: Sequence[np.ndarray]) -> int:
    """Frequency bins that stay populated for every map: half the smallest side."""
    return max(1, min(min(m.shape[:2]) for maps in map_sets for m in maps) // 2)


def radial_power_spectrum(
    maps: Sequence[np.ndarray], *, n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged spatial power spectrum of each channel, averaged over a set of maps.

    Power is ``|FFT(map - mean)|² / (height * width)``, so white noise of variance s² gives a
    flat spectrum at s². Radial frequency is in cycles per pixel, binned on (0, 0.5].

    Parameters
    ----------
    maps : sequence of ndarray of shape (height, width, n_channels)
    n_bins : int
        Frequency bins; at most half the smallest side keeps every bin populated.

    Returns
    -------
    frequencies : ndarray of shape (n_bins,)
        Bin centres, cycles/pixel.
    power : ndarray of shape (n_channels, n_bins)
    """
    edges = np.linspace(0.0, 0.5, n_bins + 1)
    total, count = 0.0, 0
    for image in maps:
        height, width, _ = image.shape
        data = np.asarray(image, dtype=np.float64)
        spectrum = np.fft.fft2(data - data.mean(axis=(0, 1)), axes=(0, 1))
        power = np.abs(spectrum) ** 2 / (height * width)
        radius = np.hypot(
            *np.meshgrid(np.fft.fftfreq(height), np.fft.fftfreq(width), indexing="ij")
        )
        which = np.digitize(radius, edges, right=True) - 1  # bin i holds (edges[i], edges[i+1]]
        valid = (radius > 0) & (radius <= 0.5)
        sums = np.stack(
            [np.bincount(which[valid], power[..., c][valid], n_bins) for c in range(data.shape[2])]
        )
        hits = np.bincount(which[valid], minlength=n_bins)
        total = total + sums / np.maximum(hits, 1)
        count += 1
    if count == 0:
        raise DataFormatError("no maps to compute a power spectrum of")
    return (edges[:-1] + edges[1:]) / 2, total / count


def power_spectrum_distances(
    real_maps: Sequence[np.ndarray], synthetic_maps: Sequence[np.ndarray]
) -> np.ndarray:
    """Per-channel mean absolute difference of log10 radial power spectra.

    A value of 0.3 means the synthetic maps carry, on average over frequencies, about twice
    (10^0.3) or half the real maps' power: too smooth, too noisy, or the wrong texture scale.

    Returns
    -------
    ndarray of shape (n_channels,)
    """
    n_bins = common_bin_count(real_maps, synthetic_maps)
    _, real = radial_power_spectrum(real_maps, n_bins=n_bins)
    _, synthetic = radial_power_spectrum(synthetic_maps, n_bins=n_bins)
    if real.shape != synthetic.shape:
        raise DataFormatError(
            f"real maps have {real.shape[0]} channels, synthetic {synthetic.shape[0]}"
        )
    log_real = np.log10(np.maximum(real, POWER_FLOOR))
    log_synthetic = np.log10(np.maximum(synthetic, POWER_FLOOR))
    return np.mean(np.abs(log_real - log_synthetic), axis=1)


def edge_coherence(maps: Sequence[np.ndarray], *, sigma: float = 3.0) -> float:
    """How much of the maps' gradient energy runs along one local direction (0 to 1).

    The power spectrum cannot tell a field of blobs from roads and roof lines with the same
    spectrum; the structure tensor can. Per map, the gradients of all channels are pooled
    into one tensor J (Gaussian window ``sigma`` pixels), and the coherence is
    ``Σ (λ1 − λ2) / Σ (λ1 + λ2)`` over pixels: 1 for straight edges, low for isotropic
    speckle. Smooth blobs larger than the window also look locally straight, so read it
    beside a roughness or power-spectrum figure. Flat maps (no gradient energy) are skipped.

    Returns
    -------
    float
        Mean over maps with edges; NaN when no map has any.
    """
    values = []
    for image in maps:
        data = np.asarray(image, dtype=np.float64)
        gy = ndimage.sobel(data, axis=0)
        gx = ndimage.sobel(data, axis=1)
        jxx, jxy, jyy = (
            ndimage.gaussian_filter((a * b).sum(axis=2), sigma)
            for a, b in ((gx, gx), (gx, gy), (gy, gy))
        )
        energy = (jxx + jyy).sum()
        if energy > 0:
            values.append(np.sqrt((jxx - jyy) ** 2 + 4 * jxy**2).sum() / energy)
    return float(np.mean(values)) if values else float("nan")


def composition_spread(maps: Sequence[np.ndarray]) -> float:
    """How much the maps differ in make-up: the std over maps of each endmember's mean
    abundance, averaged over endmembers.

    Pixel histograms pool all maps, so a model that draws the *same* mixed scene every time
    can match them; real scenes differ (a field, a town, a lake), and this sees it.
    """
    means = np.stack(
        [np.asarray(m, dtype=np.float64).reshape(-1, m.shape[-1]).mean(0) for m in maps]
    )
    return float(means.std(axis=0).mean())
