"""The BigGAN-style baseline: the discriminator learns, the EMA generator moves toward the
data, samples lie on the simplex and never depend on their batch, folders round-trip,
resume repeats an uninterrupted run."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from msfdiff.baselines.gan import AbundanceGAN, GANConfig
from msfdiff.data.abundances import make_synthetic_abundances
from msfdiff.data.maps import MapDataset
from msfdiff.errors import ConfigError
from msfdiff.generator import load_generator

SIZE, K = 16, 3
TINY = GANConfig(
    max_steps=40,
    batch_size=8,
    learning_rate=2e-3,
    discriminator_learning_rate=4e-3,
    latent_dim=16,
    width=8,
    attention_resolution=8,
    ema_decay=0.8,
    ema_start=5,
    checkpoint_every=10,
)


@pytest.fixture(scope="module")
def dataset():
    return MapDataset(make_synthetic_abundances(24, SIZE, SIZE, K, smoothness=2.0, seed=0))


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gan") / "run"
    return AbundanceGAN(TINY).fit(dataset, folder), folder


def test_the_discriminator_learns_and_the_generator_follows_the_data(dataset, trained, tmp_path):
    gan, folder = trained
    with open(folder / "losses.csv", newline="") as file:
        d_hinge = np.array([float(row[1]) for row in csv.reader(file)])
    assert len(d_hinge) == TINY.max_steps
    # a critic that scores real and fake maps alike has a hinge loss >= 2
    assert d_hinge.min() < 1.75
    # the EMA generator's maps go from nearly flat mixtures to the data's nearly pure pixels
    purity = dataset.array.max(-1).mean()
    start = AbundanceGAN(TINY, max_steps=1).fit(dataset, tmp_path / "start")
    before = abs(start.generate(16).max(-1).mean() - purity)
    after = abs(gan.generate(16).max(-1).mean() - purity)
    assert before > 0.3 and after < 0.25 * before


def test_samples_lie_on_the_simplex_and_never_depend_on_their_batch(trained):
    gan, _ = trained
    maps = gan.generate(5, seed=3, batch_size=5)
    assert maps.shape == (5, SIZE, SIZE, K) and maps.dtype == np.float32
    assert maps.min() >= 0 and np.abs(maps.sum(-1) - 1).max() < 1e-5
    assert np.abs(maps[0] - maps[1]).max() > 1e-3  # different latents, different maps
    np.testing.assert_array_equal(gan.sample([3], seed=3), maps[3:4])
    np.testing.assert_array_equal(gan.generate(5, seed=3, batch_size=2), maps)


def test_the_folder_round_trips(trained, tmp_path):
    gan, folder = trained
    again = load_generator(folder)
    assert isinstance(again, AbundanceGAN) and again.config == TINY
    assert again.fingerprint() == gan.fingerprint()
    np.testing.assert_array_equal(again.generate(3, seed=1), gan.generate(3, seed=1))
    copy = load_generator(gan.save_pretrained(tmp_path / "copy"))
    assert copy.fingerprint() == gan.fingerprint()
    # the EMA copy is not counted as parameters a second time
    networks = [gan.modules[name] for name in ("generator", "discriminator")]
    assert gan.facts()["parameters"] == sum(p.numel() for m in networks for p in m.parameters())


def test_resume_repeats_an_uninterrupted_run(dataset, trained, tmp_path):
    whole, _ = trained
    AbundanceGAN(TINY, max_steps=20).fit(dataset, tmp_path / "part")
    resumed = AbundanceGAN(TINY).fit(dataset, tmp_path / "part", resume=True)
    assert resumed.fingerprint() == whole.fingerprint()


def test_refuses_sizes_it_cannot_draw_or_build(trained, dataset, tmp_path):
    gan, _ = trained
    assert gan.check_request() == {"size": SIZE}
    with pytest.raises(ConfigError, match="training size 16"):
        gan.check_request(size=32)
    with pytest.raises(ConfigError, match="training size 16"):
        gan.sample([0], seed=0, size=8)
    with pytest.raises(ConfigError, match="attention_resolution"):
        AbundanceGAN(TINY, attention_resolution=16).fit(dataset, tmp_path / "bad")
