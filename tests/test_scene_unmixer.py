"""SceneUnmixer end to end on a scene with known endmembers and abundances."""

from __future__ import annotations

from contextlib import suppress

import numpy as np
import pytest
import torch
from sklearn.base import clone

from msfdiff.errors import DataFormatError, DegenerateModelError, NotFittedError
from msfdiff.evaluation.reconstruction import match_endmembers, reconstruction_metrics
from msfdiff.fusion import fuse
from msfdiff.unmixing import DEFAULT_PRESET, SceneUnmixer
from msfdiff.unmixing.estimator import check_all_used
from msfdiff.unmixing.model import UnmixingAutoencoder
from tests.synthetic import known_scene

TINY = dict(
    widths=(16, 16), steps=150, batch_size=4, crop_size=16, learning_rate=3e-3, linear_skip=True
)


@pytest.fixture(scope="module")
def fitted():
    cube, endmembers, abundances = known_scene(size=32, k=3)
    overrides = {**TINY, "band_selection": "nearest:620,540,460"}
    unmixer = SceneUnmixer(3, preset="cpu", overrides=overrides).fit(cube)
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


def test_data_with_no_positive_signal_is_refused_before_training(tmp_path):
    cube, _, _ = known_scene(size=16, k=3)
    negative = cube.with_data(-cube.data)  # e.g. a sign flip, or a wrong key
    unmixer = SceneUnmixer(3, overrides={"steps": 5})
    with pytest.raises(DataFormatError, match="<synthetic scene>: 99% of the values are <= 0"):
        unmixer.fit(negative, checkpoint_dir=tmp_path / "ckpt")
    assert not (tmp_path / "ckpt").exists()  # nothing trained, nothing written


def test_not_fitted():
    with pytest.raises(NotFittedError):
        SceneUnmixer(3).transform(np.zeros((4, 4, 3), np.float32))


def test_scikit_learn_params_and_clone():
    unmixer = SceneUnmixer(4, preset="paper", overrides={"steps": 5}, random_state=3)
    params = unmixer.get_params()
    assert params == {
        "n_endmembers": 4,
        "preset": "paper",
        "overrides": {"steps": 5},
        "config": None,
        "random_state": 3,
    }
    twin = clone(unmixer)
    assert twin is not unmixer and twin.get_params() == params
    assert twin.set_params(random_state=7).random_state == 7 and unmixer.random_state == 3
    assert SceneUnmixer().preset == DEFAULT_PRESET == "cpu"  # the default of every face


def test_clone_of_a_fitted_unmixer_is_unfitted(fitted):
    unmixer, cube, _, _ = fitted
    twin = clone(unmixer)
    assert twin.get_params() == unmixer.get_params()
    with pytest.raises(NotFittedError):
        twin.transform(cube)


def _encoded(unmixer: SceneUnmixer, rgb: np.ndarray) -> np.ndarray:
    """The network applied straight to encoder inputs (N, H, W, 3)."""
    with torch.no_grad():
        x = torch.from_numpy(rgb).permute(0, 3, 1, 2)
        return unmixer.model_.encode(x).permute(0, 2, 3, 1).numpy()


def test_a_photo_is_decoded_as_a_photo(fitted):
    unmixer, _, _, _ = fitted
    photo = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    floats = photo.astype(np.float32) / np.float32(255)  # as read_photo reads a file
    expected = _encoded(unmixer, unmixer.rgb_from_photo(floats, gain=1.5))
    np.testing.assert_array_equal(unmixer.transform(photo, gain=1.5), expected)
    np.testing.assert_array_equal(unmixer.transform(floats, gain=1.5), expected)
    np.testing.assert_allclose(unmixer.transform(photo[0], gain=1.5), expected[0], atol=1e-6)
    np.testing.assert_array_equal(
        unmixer.transform(photo), _encoded(unmixer, unmixer.rgb_from_photo(floats))
    )


def test_an_hsi_array_is_read_like_its_cube(fitted):
    unmixer, cube, _, _ = fitted
    np.testing.assert_array_equal(unmixer.transform(np.asarray(cube.data)), unmixer.transform(cube))
    flipped = cube.with_data(np.ascontiguousarray(cube.data[::-1]))
    batch = unmixer.transform(np.stack([cube.data, flipped.data]))
    assert batch.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(batch[1], unmixer.transform(flipped), atol=1e-6)


def test_inputs_it_cannot_read_are_refused_naming_what_it_reads(fitted):
    unmixer, cube, _, _ = fitted
    expected = r"HSI \(H, W, 31\) or \(N, H, W, 31\), or a photo \(H, W, 3\) or \(N, H, W, 3\)"
    with pytest.raises(DataFormatError, match=expected + r"; got shape \(8, 8, 5\)"):
        unmixer.transform(np.zeros((8, 8, 5), np.float32))
    with pytest.raises(DataFormatError, match=r"got shape \(8, 3\)"):
        unmixer.transform(np.zeros((8, 3), np.float32))
    with pytest.raises(DataFormatError, match=r"sRGB in \[0, 1\], got values in \[0, 255\]"):
        unmixer.transform(np.linspace(0, 255, 192, dtype=np.float32).reshape(8, 8, 3))
    with pytest.raises(DataFormatError, match="uint8 or floats in"):
        unmixer.transform(np.zeros((8, 8, 3), np.int64))
    with pytest.raises(ValueError, match="photos only"):
        unmixer.transform(cube, gain=2.0)


def test_inverse_transform_is_the_mixing_model_of_fuse(fitted):
    unmixer, cube, _, _ = fitted
    abundances = unmixer.transform(cube)
    np.testing.assert_array_equal(
        unmixer.inverse_transform(abundances), fuse(unmixer.endmembers_, abundances)
    )
    with pytest.raises(DataFormatError, match="4 endmember channels, the unmixer has 3"):
        unmixer.inverse_transform(np.zeros((2, 2, 4), np.float32))


def test_the_encoder_starts_at_the_start_simplex_usage(monkeypatch):
    """With a geometric start, every pixel starts at the mean abundances the start's simplex
    gives the training pixels; on a scene with known abundances those are the true means."""
    seen = {}
    original = UnmixingAutoencoder.init_abundance_prior_

    def spy(model, prior):
        seen["prior"], seen["endmembers"] = prior.clone(), model.folded_endmembers.detach().clone()
        original(model, prior)

    monkeypatch.setattr(UnmixingAutoencoder, "init_abundance_prior_", spy)
    cube, endmembers, abundances = known_scene(size=32, k=3, seed=3)
    overrides = {**TINY, "steps": 20, "band_selection": "nearest:620,540,460"}
    with suppress(DegenerateModelError):  # 20 steps may not make a model; the start is seen
        SceneUnmixer(3, preset="cpu", overrides=overrides).fit(cube)
    order, sad = match_endmembers(seen["endmembers"].numpy(), endmembers)
    assert sad.max() < 5.0, sad
    prior = seen["prior"].numpy()
    np.testing.assert_allclose(prior.sum(), 1.0, atol=1e-5)
    np.testing.assert_allclose(prior[order], abundances.reshape(-1, 3).mean(0), atol=0.03)

    seen.clear()
    with suppress(DegenerateModelError):
        SceneUnmixer(3, preset="cpu", overrides={**overrides, "abundance_prior": False}).fit(cube)
    assert not seen
