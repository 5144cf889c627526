"""Diffusion in HSI-cube space: cubes standardised per band, samples >= 0 with the training
cubes' wavelengths, folders round-trip, sample i never depends on its batch, no guidance."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from msfdiff.baselines.cube import WAVELENGTHS_NAME, CubeDiffusion
from msfdiff.data.abundances import make_synthetic_abundances
from msfdiff.data.maps import MapDataset
from msfdiff.diffusion.generator import AbundanceDiffusion
from msfdiff.errors import ConfigError, DataFormatError
from msfdiff.generator import GENERATOR_FILE, Guidance, load_generator
from tests.diffusion.tiny import SIZE, one_thread, tiny_config

BANDS = 6
FAST = {"sampler": "ddim", "steps": 3}


@pytest.fixture(autouse=True)
def _one_thread():
    with one_thread():
        yield


def make_cubes(n: int = 6, seed: int = 1) -> MapDataset:
    """Cubes (n, 20, 20, 6): smooth abundances of 3 endmembers fused with random spectra;
    bands differ in mean and spread, as a real cube's do."""
    abundances = make_synthetic_abundances(n, 20, 20, 3, smoothness=2.0, seed=seed)
    spectra = np.random.default_rng(seed).uniform(0.05, 0.9, (3, BANDS))
    cubes = (abundances @ spectra).astype(np.float32)
    labels = ["farmland", "river"] * (n // 2)
    return MapDataset(cubes, labels, name="cubes", wavelengths_nm=np.linspace(450, 900, BANDS))


@pytest.fixture(scope="module")
def cubes() -> MapDataset:
    return make_cubes()


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cubes) -> CubeDiffusion:
    with one_thread():
        return CubeDiffusion(tiny_config()).fit(cubes, tmp_path_factory.mktemp("cube") / "gen")


def test_samples_are_non_negative_cubes_with_the_training_wavelengths(trained, cubes):
    hsi = trained.generate(3, seed=1, **FAST)
    assert hsi.shape == (3, SIZE, SIZE, BANDS) and hsi.dtype == np.float32
    assert hsi.min() >= 0 and np.isfinite(hsi).all()
    assert trained.output_space == "hsi" and trained.n_channels == BANDS
    np.testing.assert_array_equal(trained.wavelengths_nm, cubes.wavelengths_nm)
    config = trained.pipeline.config
    assert config.representation == "standard" and config.n_endmembers == BANDS
    # offset and scale are each band's mean and spread in the data (all six maps: < 256 rows)
    bands = cubes.array.reshape(-1, BANDS).astype(np.float64)
    np.testing.assert_allclose(config.standard_offset, bands.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(config.standard_scale, bands.std(axis=0), rtol=1e-6)


def test_the_folder_loads_back_with_identical_samples(trained, tmp_path):
    folder = trained.save_pretrained(tmp_path / "copy")
    assert (folder / WAVELENGTHS_NAME).is_file() and (folder / GENERATOR_FILE).is_file()
    again = load_generator(folder)
    assert isinstance(again, CubeDiffusion)
    assert again.fingerprint() == trained.fingerprint()
    np.testing.assert_array_equal(again.wavelengths_nm, trained.wavelengths_nm)
    np.testing.assert_array_equal(
        again.generate(2, seed=4, **FAST), trained.generate(2, **FAST, seed=4)
    )


def test_sample_i_does_not_depend_on_its_batch(trained):
    batch = trained.generate(3, seed=7, batch_size=3, **FAST)
    alone = trained.sample([2], seed=7, class_name=None, size=None, **FAST)
    np.testing.assert_array_equal(alone[0], batch[2])


def test_a_few_steps_lower_the_loss(cubes, tmp_path):
    config = tiny_config(max_steps=120, checkpoint_every=120, log_every=20)
    config = config.replace(training={"learning_rate": 3e-3, "ema_decay": None})
    CubeDiffusion(config).fit(cubes, tmp_path / "gen")
    with open(tmp_path / "gen" / "loss.csv") as f:
        losses = [float(row["loss"]) for row in csv.DictReader(f)]
    assert losses[-1] < 0.6 * losses[0]


def test_resume_checks_the_wavelengths(cubes, tmp_path):
    CubeDiffusion(tiny_config(max_steps=2)).fit(cubes, tmp_path / "gen")
    moved = MapDataset(cubes.array, cubes.labels, wavelengths_nm=cubes.wavelengths_nm + 1)
    with pytest.raises(DataFormatError, match="wavelengths differ"):
        CubeDiffusion(tiny_config()).fit(moved, tmp_path / "gen", resume=True)
    resumed = CubeDiffusion(tiny_config()).fit(cubes, tmp_path / "gen", resume=True, max_steps=4)
    assert resumed.pipeline.config.training.max_steps == 4
    assert (tmp_path / "gen" / "checkpoints" / "step_00000004").is_dir()


def test_refusals(trained, cubes, tmp_path):
    unlabelled = MapDataset(cubes.array, name="bare")
    with pytest.raises(DataFormatError, match="wavelengths_nm"):
        CubeDiffusion(tiny_config()).fit(unlabelled, tmp_path / "gen")
    with pytest.raises(ConfigError, match="standard representation"):
        CubeDiffusion(tiny_config(), overrides={"representation": "logratio"}).initial_config()
    with pytest.raises(ConfigError, match="simplex"):
        AbundanceDiffusion(tiny_config(), overrides={"representation": "standard"}).fit(
            cubes, tmp_path / "abundances"
        )
    sources = make_synthetic_abundances(1, SIZE, SIZE, BANDS, seed=0)
    with pytest.raises(ConfigError, match="no guidance"):
        trained.generate(1, guidance=Guidance(sources), **FAST)
    with pytest.raises(ConfigError, match="standard representation"):
        trained.pipeline(1, guidance=Guidance(sources), **FAST)
