"""MST++: the paper's size, padding to any size, a known linear spectral map learned, samples
that are the photos converted, folders that load back."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from msfdiff.baselines.mstpp import (
    PHOTOS_NAME,
    MSTPlusPlus,
    MSTPlusPlusGenerator,
    SpectralPairs,
)
from msfdiff.checkpoints import latest_checkpoint
from msfdiff.errors import ConfigError, DataFormatError
from msfdiff.generator import load_generator

BANDS = 7
TINY = {"n_feat": 8, "stages": 1, "crop": 16, "batch_size": 4, "checkpoint_every": 100}


def smooth_images(rng: np.random.Generator, n: int, height: int, width: int) -> np.ndarray:
    """Smooth 3-channel images in [0, 1], like photos at a coarse scale."""
    noise = rng.random((n, height, width, 3))
    images = gaussian_filter(noise, sigma=(0, 2, 2, 0))
    low, high = images.min(), images.max()
    return ((images - low) / (high - low)).astype(np.float32)


@pytest.fixture(scope="module")
def linear():
    """Pairs whose HSI is a fixed non-negative linear map of the 3 inputs (the known answer),
    and photos (20 x 28: not a multiple of 8) whose true HSIs that map gives too."""
    rng = np.random.default_rng(0)
    mixing = rng.uniform(0.05, 0.6, size=(3, BANDS)).astype(np.float32)
    inputs = smooth_images(rng, 6, 32, 32)
    photos = smooth_images(rng, 3, 20, 28)
    pairs = SpectralPairs(
        inputs=inputs,
        targets=inputs @ mixing,
        photos=photos,
        wavelengths_nm=np.linspace(400.0, 700.0, BANDS),
        photo_labels=("farm", None, "farm"),
    )
    return pairs, photos @ mixing


@pytest.fixture(scope="module")
def fitted(linear, tmp_path_factory):
    pairs, _ = linear
    folder = tmp_path_factory.mktemp("mstpp") / "g"
    return MSTPlusPlusGenerator(max_steps=200, learning_rate=3e-3, **TINY).fit(
        pairs, folder
    ), folder


def test_the_paper_model_has_the_papers_parameter_count():
    network = MSTPlusPlusGenerator.paper().build({"channels": 31})["network"]
    count = sum(p.numel() for p in network.parameters())
    assert abs(count - 1.62e6) < 0.01 * 1.62e6, count


@pytest.mark.parametrize(("height", "width"), [(8, 8), (13, 21), (30, 17)])
def test_the_output_keeps_the_input_size(height, width):
    network = MSTPlusPlus(BANDS, n_feat=8, stages=2).eval()
    with torch.inference_mode():
        out = network(torch.rand(2, 3, height, width))
    assert out.shape == (2, BANDS, height, width)


def test_learns_a_known_linear_map_far_better_than_the_mean_spectrum(linear, fitted):
    pairs, truth = linear
    generator, folder = fitted
    losses = [float(row.split(",")[1]) for row in (folder / "losses.csv").read_text().splitlines()]
    assert np.mean(losses[-20:]) < np.mean(losses[:20]) / 3
    samples = generator.generate(3)
    error = np.abs(samples - truth).mean()
    mean_spectrum_error = np.abs(pairs.targets.mean(axis=(0, 1, 2)) - truth).mean()
    assert error < mean_spectrum_error / 4, (error, mean_spectrum_error)


def test_samples_are_the_photos_converted(fitted):
    generator, _ = fitted
    samples = generator.generate(5, seed=3)
    assert samples.dtype == np.float32 and samples.shape == (5, 20, 28, BANDS)
    assert samples.min() >= 0.0
    np.testing.assert_array_equal(samples[3], samples[0])  # photo 3 % 3 = photo 0
    np.testing.assert_array_equal(generator.generate(2, seed=9), samples[:2])  # seed unused
    np.testing.assert_array_equal(generator.wavelengths_nm, np.linspace(400.0, 700.0, BANDS))
    alone = generator.sample([4], seed=0, class_name=None, size=None)
    np.testing.assert_array_equal(alone[0], samples[4])


def test_a_class_draws_its_photos_only(fitted):
    generator, _ = fitted
    assert generator.classes == ["farm"]
    farm = generator.generate(3, class_name="farm")
    everything = generator.generate(3)
    np.testing.assert_array_equal(farm[:2], everything[[0, 2]])
    np.testing.assert_array_equal(farm[2], everything[0])
    with pytest.raises(ConfigError, match="unknown class"):
        generator.generate(1, class_name="city")


def test_refuses_a_size_other_than_the_photos(fitted):
    generator, _ = fitted
    with pytest.raises(ConfigError, match="20x28"):
        generator.generate(1, size=20)


def test_the_folder_loads_back_with_identical_samples(fitted):
    generator, folder = fitted
    assert np.load(folder / PHOTOS_NAME, allow_pickle=False).dtype == np.float16
    again = load_generator(folder)
    assert isinstance(again, MSTPlusPlusGenerator)
    assert again.fingerprint() == generator.fingerprint()
    np.testing.assert_array_equal(again.generate(4), generator.generate(4))
    np.testing.assert_array_equal(again.wavelengths_nm, generator.wavelengths_nm)


def test_resume_repeats_an_uninterrupted_run(linear, tmp_path):
    """The cosine schedule reads Adam's checkpointed step count, so resuming from the middle
    checkpoint of a finished run retraces it exactly."""
    pairs, _ = linear
    settings = {**TINY, "max_steps": 6, "checkpoint_every": 3}
    whole = MSTPlusPlusGenerator(**settings).fit(pairs, tmp_path / "whole")
    shutil.copytree(tmp_path / "whole", tmp_path / "part")
    shutil.rmtree(latest_checkpoint(tmp_path / "part" / "checkpoints"))
    assert latest_checkpoint(tmp_path / "part" / "checkpoints").name.endswith("3")
    resumed = MSTPlusPlusGenerator(**settings).fit(pairs, tmp_path / "part", resume=True)
    assert resumed.fingerprint() == whole.fingerprint()


def test_pairs_refuse_mismatched_shapes(linear):
    pairs, _ = linear
    with pytest.raises(DataFormatError, match="do not pair"):
        SpectralPairs(pairs.inputs, pairs.targets[:, :16], pairs.photos, pairs.wavelengths_nm)
    with pytest.raises(DataFormatError, match="wavelengths"):
        SpectralPairs(pairs.inputs, pairs.targets, pairs.photos, pairs.wavelengths_nm[:-1])
    with pytest.raises(DataFormatError, match="photos must be"):
        SpectralPairs(pairs.inputs, pairs.targets, pairs.photos[..., :2], pairs.wavelengths_nm)
