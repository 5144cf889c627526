"""SceneUnmixer end to end on a scene with known endmembers and abundances."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.errors import DataFormatError, DegenerateModelError, NotFittedError
from msfdiff.evaluation.reconstruction import match_endmembers, reconstruction_metrics
from msfdiff.unmixing import SceneUnmixer
from msfdiff.unmixing.estimator import check_all_used
from tests.synthetic import known_scene

TINY = dict(
    widths=(16, 16), steps=150, batch_size=4, crop_size=16, learning_rate=3e-3, linear_skip=True
)


@pytest.fixture(scope="module")
def fitted():
    cube, endmembers, abundances = known_scene(size=32, k=3)
    unmixer = SceneUnmixer(3, preset="cpu", band_selection="nearest:620,540,460", **TINY).fit(cube)
    return unmixer, cube, endmembers, abundances


def test_known_endmembers_recovered(fitted):
    unmixer, cube, endmembers, _ = fitted
    _, sad = match_endmembers(unmixer.endmembers_, endmembers)
    assert sad.max() < 5.0, sad


def test_abundances_on_simplex_to_float_precision(fitted):
    unmixer, cube, _, _ = fitted
    a = unmixer.transform(cube)
    assert a.shape == (32, 32, 3)
    assert a.min() >= 0
    np.testing.assert_allclose(a.sum(-1), 1.0, atol=1e-6)


def test_reconstruction_beats_mean_spectrum(fitted):
    unmixer, cube, _, _ = fitted
    recon = unmixer.reconstruct(cube)
    flat = np.broadcast_to(cube.data.mean((0, 1)), cube.shape)
    assert (
        reconstruction_metrics(recon, cube.data)["psnr"]
        > reconstruction_metrics(flat, cube.data)["psnr"] + 10
    )


def test_save_load_same_outputs(fitted, tmp_path):
    unmixer, cube, _, _ = fitted
    unmixer.save(tmp_path / "u")
    again = SceneUnmixer.load(tmp_path / "u")
    np.testing.assert_allclose(again.transform(cube), unmixer.transform(cube), atol=1e-6)
    np.testing.assert_array_equal(again.endmembers_, unmixer.endmembers_)
    np.testing.assert_allclose(again.noise_std_, unmixer.noise_std_)
    np.testing.assert_allclose(again.usage_, unmixer.usage_)
    assert again.band_selector_ == unmixer.band_selector_


def test_usage_is_the_mean_abundance_and_matches_the_scene(fitted):
    unmixer, cube, endmembers, abundances = fitted
    np.testing.assert_allclose(
        unmixer.usage_, unmixer.transform(cube).reshape(-1, 3).mean(0), atol=1e-6
    )
    order, _ = match_endmembers(unmixer.endmembers_, endmembers)
    true_usage = abundances.reshape(-1, 3).mean(0)
    np.testing.assert_allclose(unmixer.usage_[order], true_usage, atol=0.05)


def test_unused_endmembers_stop_training_with_the_cause_and_a_remedy():
    with pytest.raises(DegenerateModelError, match=r"E3 \(0\.4%\) of 3 unused.*2 re-seed.*--k 2"):
        check_all_used(np.array([0.7, 0.296, 0.004]), reseeds=2)
    check_all_used(np.array([0.6, 0.3, 0.1]))  # nothing raised


def test_wrong_band_count_rejected(fitted):
    unmixer, cube, _, _ = fitted
    bad = cube.with_data(cube.data[..., :10], cube.wavelengths_nm[:10])
    with pytest.raises(DataFormatError, match="expected 31 bands"):
        unmixer.transform(bad)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        SceneUnmixer(3).transform(np.zeros((4, 4, 3), np.float32))
