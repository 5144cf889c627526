"""Diffusion in an autoencoder's latent space: the autoencoder learns to reconstruct, samples
are non-negative cubes with the training wavelengths, folders round-trip, sample i never
depends on its batch, and resuming continues whichever part is unfinished."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from msfdiff.baselines.latent import DIFFUSION_DIR, LatentDiffusion
from msfdiff.data.maps import MapDataset
from msfdiff.diffusion.config import load_config
from msfdiff.errors import ConfigError, DataFormatError
from msfdiff.generator import GENERATOR_FILE, load_generator
from tests.baselines.test_cube import BANDS, make_cubes
from tests.diffusion.tiny import SIZE, one_thread, tiny_config

K = 2
FAST = {"sampler": "ddim", "steps": 3}
AE = {
    "max_steps": 80,
    "checkpoint_every": 40,
    "crop_size": 8,
    "hidden_channels": 16,
    "learning_rate": 3e-3,
}


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


@pytest.fixture(scope="module")
def cubes() -> MapDataset:
    return make_cubes()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("latent") / "gen"


@pytest.fixture(scope="module")
def trained(folder, cubes) -> LatentDiffusion:
    with one_thread():
        return LatentDiffusion(tiny_config(), latent_channels=K, autoencoder=AE).fit(cubes, folder)


def _column(path, name):
    with open(path) as f:
        return [float(row[name]) for row in csv.DictReader(f)]


def test_the_autoencoder_learns_to_reconstruct(trained, folder, cubes):
    with open(folder / "losses.csv") as f:
        losses = [float(row[1]) for row in csv.reader(f)]
    assert len(losses) == AE["max_steps"] and losses[-1] < 0.5 * losses[0]
    again = trained.reconstruct(cubes.array)
    assert again.shape == cubes.array.shape and again.dtype == np.float32 and again.min() >= 0
    error = np.abs(again - cubes.array).mean()
    assert error < 0.5 * np.abs(cubes.array - cubes.array.mean(axis=(0, 1, 2))).mean()
    assert trained.encode(cubes.array).shape == (len(cubes), 20, 20, K)


def test_samples_are_non_negative_cubes_with_the_training_wavelengths(trained, cubes):
    hsi = trained.generate(3, seed=1, **FAST)
    assert hsi.shape == (3, SIZE, SIZE, BANDS) and hsi.dtype == np.float32
    assert hsi.min() >= 0 and np.isfinite(hsi).all()
    assert trained.output_space == "hsi" and trained.n_channels == BANDS
    np.testing.assert_array_equal(trained.wavelengths_nm, cubes.wavelengths_nm)
    pipe = trained.diffusion.pipeline
    assert pipe.config.representation == "standard" and pipe.k == K
    facts = trained.facts()
    assert facts["training_steps"] == AE["max_steps"] + pipe.config.training.max_steps
    assert facts["parameters"] > sum(p.numel() for p in pipe.unet.parameters())


def test_the_folder_loads_back_with_identical_samples(trained, tmp_path):
    folder = trained.save_pretrained(tmp_path / "copy")
    assert (folder / GENERATOR_FILE).is_file()
    assert not (folder / DIFFUSION_DIR / GENERATOR_FILE).exists()  # part of this folder only
    again = load_generator(folder)
    assert isinstance(again, LatentDiffusion) and again.config == trained.config
    assert again.fingerprint() == trained.fingerprint()
    np.testing.assert_array_equal(again.wavelengths_nm, trained.wavelengths_nm)
    expected = trained.generate(2, seed=4, **FAST)
    np.testing.assert_array_equal(again.generate(2, seed=4, **FAST), expected)


def test_sample_i_does_not_depend_on_its_batch(trained):
    batch = trained.generate(3, seed=7, batch_size=3, **FAST)
    alone = trained.sample([2], seed=7, class_name=None, size=None, **FAST)
    np.testing.assert_array_equal(alone[0], batch[2])


def test_resume_continues_the_unfinished_part(cubes, tmp_path):
    out = tmp_path / "gen"
    small = {**AE, "max_steps": 40}
    first = LatentDiffusion(tiny_config(), latent_channels=K, autoencoder=small).fit(cubes, out)
    offset = load_config(out / DIFFUSION_DIR).standard_offset
    # finished: resuming trains nothing
    same = LatentDiffusion(tiny_config(), latent_channels=K, autoencoder=small)
    assert same.fit(cubes, out, resume=True).fingerprint() == first.fingerprint()
    # the diffusion resumes to a new total; the autoencoder is kept
    longer = LatentDiffusion(tiny_config(), latent_channels=K, autoencoder=small)
    longer.fit(cubes, out, resume=True, max_steps=6)
    assert _column(out / DIFFUSION_DIR / "loss.csv", "step")[-1] == 6
    assert load_config(out / DIFFUSION_DIR).standard_offset == offset
    # the autoencoder trains further: the diffusion restarts on the new latents
    LatentDiffusion(tiny_config(), latent_channels=K, autoencoder=AE).fit(cubes, out, resume=True)
    assert len((out / "losses.csv").read_text().splitlines()) == AE["max_steps"]
    assert load_config(out / DIFFUSION_DIR).standard_offset != offset
    assert _column(out / DIFFUSION_DIR / "loss.csv", "step")[-1] == 4


def test_refusals(trained, folder, cubes, tmp_path):
    with pytest.raises(DataFormatError, match="wavelengths_nm"):
        LatentDiffusion(tiny_config()).fit(MapDataset(cubes.array), tmp_path / "gen")
    assert not (tmp_path / "gen").exists()
    with pytest.raises(ConfigError, match="standard representation"):
        LatentDiffusion(tiny_config(), overrides={"representation": "logratio"})
    with pytest.raises(ConfigError, match="latent_channels"):
        LatentDiffusion(latent_channels=0)
    spec = json.loads((folder / "config.json").read_text())
    assert spec["config"]["latent_channels"] == K
