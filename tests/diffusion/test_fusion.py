"""Fusion (Eq. 5) against a numpy reference, its noise model, and the per-sample files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from scipy.io import loadmat

from msfdiff.data.abundances import make_synthetic_abundances
from msfdiff.errors import DataFormatError, OutputExistsError
from msfdiff.fusion import estimate_noise_std, fuse, write_sample

N_BANDS = 12


@pytest.fixture
def scene(rng):
    endmembers = rng.uniform(0.05, 0.6, size=(4, N_BANDS))
    abundances = make_synthetic_abundances(2, 10, 9, 4, seed=5)
    bias = rng.normal(0, 0.01, N_BANDS)
    return endmembers, abundances, bias


def test_fuse_matches_the_mixing_model(scene):
    endmembers, abundances, bias = scene
    expected = np.einsum("nhwk,kc->nhwc", abundances, endmembers) + bias
    hsi = fuse(endmembers, abundances, bias=bias)
    assert hsi.shape == (2, 10, 9, N_BANDS) and hsi.dtype == np.float32
    np.testing.assert_allclose(hsi, expected, atol=1e-6)
    np.testing.assert_allclose(fuse(endmembers, abundances[0]), expected[0] - bias, atol=1e-6)


def test_noise_has_the_requested_per_band_std(scene):
    endmembers, _, bias = scene
    abundances = make_synthetic_abundances(1, 200, 200, 4, seed=6)[0]
    std = np.linspace(0.001, 0.05, N_BANDS)
    clean = fuse(endmembers, abundances, bias=bias)
    noisy = fuse(endmembers, abundances, bias=bias, noise_std=std, rng=3)
    residual = noisy - clean
    np.testing.assert_allclose(estimate_noise_std(residual), std, rtol=0.02)  # 40k pixels
    assert np.abs(residual.mean(axis=(0, 1))).max() < 3 * std.max() / 200
    assert np.array_equal(noisy, fuse(endmembers, abundances, bias=bias, noise_std=std, rng=3))


def test_estimate_noise_std_is_the_per_band_rms(rng):
    residuals = rng.normal(0, [0.1, 0.2, 0.4], size=(300, 300, 3))
    np.testing.assert_allclose(estimate_noise_std(residuals), [0.1, 0.2, 0.4], rtol=0.01)


def test_shape_mismatches_are_one_line_errors(scene):
    endmembers, abundances, bias = scene
    with pytest.raises(
        DataFormatError, match="abundances have 3 endmember channels, endmembers have 4"
    ):
        fuse(endmembers, abundances[..., :3])
    with pytest.raises(DataFormatError, match=r"bias must have shape \(12,\), got \(11,\)"):
        fuse(endmembers, abundances, bias=bias[:11])


@pytest.mark.parametrize("fmt", ["mat", "npy", "envi", "tif"])
def test_write_sample_files(tmp_path, scene, fmt):
    from msfdiff.data.readers import read_hsi

    endmembers, abundances, bias = scene
    wavelengths = np.linspace(400, 700, N_BANDS)
    hsi = fuse(endmembers, abundances[0], bias=bias)
    files = write_sample(
        tmp_path,
        3,
        abundances[0],
        hsi,
        wavelengths_nm=wavelengths,
        endmembers=endmembers,
        format=fmt,
    )
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "sample_0003_abundance.npy" in names and "sample_0003_false_colour.png" in names
    assert files[-1].name == "sample_0003_abundance.npy"  # written last: marks completion
    assert np.array_equal(np.load(files[-1]), abundances[0])
    cube = read_hsi(files[0])
    np.testing.assert_allclose(np.asarray(cube.data), hsi, atol=1e-6)
    np.testing.assert_allclose(cube.wavelengths_nm, wavelengths, atol=1e-4)
    assert Image.open(tmp_path / "sample_0003_false_colour.png").size == (9, 10)
    assert Image.open(tmp_path / "sample_0003_profiles.png").format == "PNG"
    if fmt == "mat":
        mat = loadmat(files[0])
        assert mat["Abu"].shape == (10, 9, 4) and mat["End"].shape == (N_BANDS, 4)
    with pytest.raises(OutputExistsError, match="sample_0003"):
        write_sample(
            tmp_path, 3, abundances[0], hsi, wavelengths_nm=wavelengths, endmembers=endmembers
        )
