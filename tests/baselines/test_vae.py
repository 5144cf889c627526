"""The hierarchical VAE baseline: the negative ELBO falls, samples lie on the simplex and never
depend on their batch, folders round-trip, resume repeats an uninterrupted run."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
import torch

from msfdiff.baselines.vae import HierarchicalVAE, VAEConfig, _LatentGroup
from msfdiff.data.abundances import make_synthetic_abundances
from msfdiff.data.maps import MapDataset
from msfdiff.errors import ConfigError
from msfdiff.generator import load_generator

SIZE, K = 16, 3
TINY = VAEConfig(
    max_steps=100,
    batch_size=8,
    learning_rate=5e-3,
    width=16,
    latent_channels=2,
    latent_resolutions=(4, 8),
    warmup_steps=10,
    checkpoint_every=25,
)


@pytest.fixture(scope="module")
def dataset():
    maps = make_synthetic_abundances(24, SIZE, SIZE, K, smoothness=2.0, seed=0)
    return MapDataset(maps)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    folder = tmp_path_factory.mktemp("vae") / "run"
    return HierarchicalVAE(TINY).fit(dataset, folder), folder


def test_the_negative_elbo_falls(trained):
    _, folder = trained
    with open(folder / "losses.csv", newline="") as file:
        neg_elbo = np.array([float(row[1]) for row in csv.reader(file)])
    assert len(neg_elbo) == TINY.max_steps
    assert neg_elbo[-10:].mean() < 0.8 * neg_elbo[:5].mean()


def test_samples_lie_on_the_simplex_and_never_depend_on_their_batch(trained):
    vae, _ = trained
    maps = vae.generate(5, seed=3, batch_size=5)
    assert maps.shape == (5, SIZE, SIZE, K) and maps.dtype == np.float32
    assert maps.min() >= 0 and np.abs(maps.sum(-1) - 1).max() < 1e-5
    assert np.abs(maps[0] - maps[1]).max() > 1e-3  # different latents, different maps
    np.testing.assert_array_equal(vae.sample([3], seed=3), maps[3:4])
    np.testing.assert_array_equal(vae.generate(5, seed=3, batch_size=2), maps)
    # temperature 0 draws every latent at its prior mean: no randomness left
    cold = HierarchicalVAE.from_pretrained(trained[1])
    cold.config = dataclasses.replace(cold.config, temperature=0.0)
    cold_maps = cold.generate(2, seed=3)
    np.testing.assert_array_equal(cold_maps[0], cold_maps[1])


def test_the_folder_round_trips(trained, tmp_path):
    vae, folder = trained
    again = load_generator(folder)
    assert isinstance(again, HierarchicalVAE) and again.config == TINY
    assert again.fingerprint() == vae.fingerprint()
    np.testing.assert_array_equal(again.generate(3, seed=1), vae.generate(3, seed=1))
    copy = load_generator(vae.save_pretrained(tmp_path / "copy"))
    assert copy.fingerprint() == vae.fingerprint()


def test_resume_repeats_an_uninterrupted_run(dataset, trained, tmp_path):
    whole, _ = trained
    HierarchicalVAE(TINY, max_steps=50).fit(dataset, tmp_path / "part")
    resumed = HierarchicalVAE(TINY).fit(dataset, tmp_path / "part", resume=True)
    assert resumed.fingerprint() == whole.fingerprint()


def test_refuses_sizes_it_cannot_draw_or_build(trained, dataset, tmp_path):
    vae, _ = trained
    assert vae.check_request() == {"size": SIZE}
    with pytest.raises(ConfigError, match="training size 16"):
        vae.check_request(size=32)
    with pytest.raises(ConfigError, match="training size 16"):
        vae.sample([0], seed=0, size=8)
    with pytest.raises(ConfigError, match="latent_resolutions"):
        HierarchicalVAE(TINY, latent_resolutions=(3, 8)).fit(dataset, tmp_path / "bad")


def test_a_group_kl_is_the_closed_form_of_two_gaussians():
    """Known answer: with the prior at N(0, 1) (its zero-initialised head), a posterior
    N(m, s^2) costs 0.5 (m^2 + s^2 - 1) - log s per latent."""
    torch.manual_seed(0)
    group = _LatentGroup(width=8, latent_channels=1, depth=1)
    mean, raw = 0.7, 1.5
    std = np.log1p(np.exp(np.log(2) * raw)) / np.log(2)  # softplus, beta ln 2
    with torch.no_grad():
        last = group.posterior.convs[-1]
        last.weight.zero_()
        last.bias.copy_(torch.tensor([mean, raw]))
        _, kl = group(torch.randn(1, 8, 2, 2), torch.zeros(1, 1, 2, 2), torch.randn(1, 8, 2, 2))
    expected = 4 * (0.5 * (mean**2 + std**2 - 1) - np.log(std))
    np.testing.assert_allclose(kl.item(), expected, rtol=1e-4)
