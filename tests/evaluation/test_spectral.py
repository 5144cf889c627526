"""HSI-native distances: known values and an independent PCA + scipy computation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy import ndimage

from msfdiff.errors import DataFormatError
from msfdiff.evaluation import spectral


def _pixels(rng, n=2000, bands=12):
    """Spectra: random mixtures of 3 smooth endmembers plus a little noise."""
    wl = np.linspace(0, 1, bands)
    ends = np.stack([0.2 + 0.1 * np.sin(4 * wl + p) for p in (0.0, 1.5, 3.0)])
    abund = rng.dirichlet(np.ones(3), size=n)
    return abund @ ends + rng.normal(0, 0.002, (n, bands))


def test_spectral_fd_matches_pca_plus_scipy(rng):
    real, synthetic = _pixels(rng), _pixels(rng) * 1.1
    centred = real - real.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    basis = vt[:5].T
    a, b = real @ basis, synthetic @ basis
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(
        s1 + s2 - 2 * scipy.linalg.sqrtm(s1 @ s2).real
    )
    ours = spectral.spectral_frechet_distance(real, synthetic, n_components=5)
    assert ours == pytest.approx(expected, rel=1e-6)


def test_spectral_fd_zero_for_same_set_and_grows_with_bias(rng):
    real = _pixels(rng)
    assert spectral.spectral_frechet_distance(real, real) == pytest.approx(0, abs=1e-12)
    small = spectral.spectral_frechet_distance(real, real * 1.05)
    large = spectral.spectral_frechet_distance(real, real * 1.3)
    assert 0 < small < large


def test_spectral_angles_known_values():
    reference = np.array([1.0, 0.0])
    pixels = np.array([[2.0, 0.0], [1.0, 1.0], [0.0, 3.0]])
    np.testing.assert_allclose(spectral.spectral_angles_to(pixels, reference), [0, 45, 90])


def test_spectral_angle_distance_ignores_brightness_and_sees_shape(rng):
    real = _pixels(rng)
    assert spectral.spectral_angle_distance(real, real * 3.0) == pytest.approx(0, abs=1e-6)
    tilted = real * np.linspace(0.8, 1.2, real.shape[1])
    assert spectral.spectral_angle_distance(real, tilted) > 1.0


def test_spectral_angle_distance_equals_angle_shift():
    # real pixels at 10-20° from the x axis lie 0-5° from the real mean (15°); synthetic
    # pixels at 45° lie 30° from it, above all real mass, so W1 = 30° - mean real angle
    angles = np.radians(np.linspace(10, 20, 101))
    real = np.stack([np.cos(angles), np.sin(angles)], 1)
    synthetic = np.tile([np.cos(np.radians(45)), np.sin(np.radians(45))], (50, 1))
    expected = 30 - np.mean(np.abs(np.linspace(10, 20, 101) - 15))
    assert spectral.spectral_angle_distance(real, synthetic) == pytest.approx(expected, abs=1e-6)


def test_sample_pixels_draws_from_every_cube(rng):
    cubes = [np.full((10, 10, 2), i, dtype=float) for i in range(4)]
    pixels = spectral.sample_pixels(cubes, max_pixels=40, seed=1)
    assert pixels.shape == (40, 2)
    np.testing.assert_array_equal(np.bincount(pixels[:, 0].astype(int)), [10, 10, 10, 10])
    with pytest.raises(DataFormatError, match="channel counts"):
        spectral.sample_pixels([np.zeros((2, 2, 3)), np.zeros((2, 2, 4))])


def test_abundance_histogram_distance_of_a_shift(rng):
    real = rng.dirichlet(np.ones(3), size=5000)
    np.testing.assert_allclose(
        spectral.abundance_histogram_distances(real, real + [0.1, 0.0, -0.05]),
        [0.1, 0.0, 0.05],
        atol=1e-12,
    )


def test_power_spectrum_of_white_noise_is_its_variance(rng):
    maps = [rng.normal(0, 0.5, (64, 64, 2)) for _ in range(20)]
    freqs, power = spectral.radial_power_spectrum(maps, n_bins=32)
    assert freqs.shape == (32,) and power.shape == (2, 32)
    assert freqs[0] == pytest.approx(0.5 / 64)
    assert np.mean(power) == pytest.approx(0.25, rel=0.03)


def test_power_spectrum_peaks_at_a_sine_frequency():
    y = np.arange(64)[:, None]
    wave = np.sin(2 * np.pi * 8 / 64 * y) * np.ones((1, 64))  # 0.125 cycles/pixel
    freqs, power = spectral.radial_power_spectrum([wave[..., None]], n_bins=32)
    assert freqs[np.argmax(power[0])] == pytest.approx(0.125 - 0.5 / 64)


def test_power_spectrum_distance_of_scaled_maps_is_two_log10_scale(rng):
    real = [rng.random((32, 32, 3)) for _ in range(3)]
    synthetic = [m * [1.0, 2.0, 10.0] for m in real]
    np.testing.assert_allclose(
        spectral.power_spectrum_distances(real, synthetic), [0, 2 * np.log10(2), 2.0], atol=1e-12
    )


def test_edge_coherence_of_straight_edges_is_one_in_any_direction():
    y, x = np.mgrid[0:64, 0:64]
    for angle in (0.0, 0.6, np.pi / 4):
        along = np.cos(angle) * x + np.sin(angle) * y
        stripes = np.cos(2 * np.pi * along / 9)[..., None]
        assert spectral.edge_coherence([stripes]) == pytest.approx(1.0, abs=0.01)


def test_edge_coherence_of_isotropic_speckle_is_low_and_rises_with_blob_size(rng):
    fields = [rng.normal(size=(64, 64, 3)) for _ in range(4)]
    speckle = spectral.edge_coherence(fields)
    blobs = spectral.edge_coherence([ndimage.gaussian_filter(f, (4, 4, 0)) for f in fields])
    assert speckle < 0.2 < blobs < 0.8


def test_edge_coherence_pools_channels_and_skips_flat_maps():
    y, x = np.mgrid[0:32, 0:32]
    crossed = np.stack([np.cos(np.pi * x / 4), np.cos(np.pi * y / 4)], axis=-1)  # at right angles
    assert spectral.edge_coherence([crossed]) < 0.05
    assert spectral.edge_coherence([crossed[..., :1], np.ones((8, 8, 2))]) == pytest.approx(
        1.0, abs=0.01
    )
    assert np.isnan(spectral.edge_coherence([np.zeros((8, 8, 2))]))


def test_composition_spread_is_the_std_of_scene_means(rng):
    scenes = [np.full((6, 6, 2), (a, 1 - a)) for a in (0.2, 0.4, 0.6, 0.8)]
    assert spectral.composition_spread(scenes) == pytest.approx(np.std([0.2, 0.4, 0.6, 0.8]))
    # within-map texture around one shared make-up adds (almost) nothing
    texture = [0.5 + 0.2 * rng.standard_normal((32, 32, 1)) for _ in range(4)]
    same = [np.concatenate([t, 1 - t], axis=2) for t in texture]
    assert spectral.composition_spread(same) < 0.02
