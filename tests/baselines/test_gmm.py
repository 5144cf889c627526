"""The GMM baseline: a known mixture of CLR pixels comes back, whole maps keep their mean map
and their spatial coherence, folders round-trip, sample i never depends on its batch."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from msfdiff.baselines.gmm import GaussianMixtureAbundances, helmert_basis
from msfdiff.data.abundances import make_synthetic_abundances
from msfdiff.data.maps import MapDataset
from msfdiff.errors import ConfigError, NotFittedError, OutputExistsError
from msfdiff.generator import load_generator

FLOOR = 1e-3
K = 4
WEIGHTS = np.array([0.3, 0.7])
MEANS = np.array([[0.6, -0.3, 0.2, -0.5], [-0.4, 0.5, -0.3, 0.2]])
ROOTS = [  # covariance factors in k dims, strongly correlated so a transposed factor shows
    np.array([[0.45, 0, 0, 0], [0.4, 0.08, 0, 0], [-0.35, 0.05, 0.08, 0], [0, 0, 0, 0.1]]),
    np.array([[0.1, 0, 0, 0], [0.05, 0.4, 0, 0], [0, -0.35, 0.1, 0], [0, 0.3, 0, 0.1]]),
]
CENTRE = np.eye(K) - 1 / K  # projects onto the CLR subspace (rows summing to zero)


def clr(abundances: np.ndarray) -> np.ndarray:
    logs = np.log(np.asarray(abundances, dtype=np.float64) + FLOOR)
    return logs - logs.mean(axis=-1, keepdims=True)


def known_mixture(n_pixels: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Abundances whose CLR (with FLOOR) is exactly a draw of the mixture, and that CLR."""
    chosen = rng.choice(2, size=n_pixels, p=WEIGHTS)
    noise = rng.standard_normal((n_pixels, K))
    raw = MEANS[chosen] + np.einsum("nij,nj->ni", np.stack(ROOTS)[chosen], noise)
    values = raw @ CENTRE
    soft = np.exp(values) / np.exp(values).sum(axis=-1, keepdims=True)
    return soft * (1 + K * FLOOR) - FLOOR, values


def mixture_moments() -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the known mixture's CLR values."""
    means = MEANS @ CENTRE
    covs = [CENTRE @ root @ root.T @ CENTRE for root in ROOTS]
    mean = WEIGHTS @ means
    second = sum(w * (c + np.outer(m, m)) for w, c, m in zip(WEIGHTS, covs, means, strict=True))
    return mean, second - np.outer(mean, mean)


@pytest.fixture(scope="module")
def pixel_data():
    abundances, values = known_mixture(20 * 32 * 32, np.random.default_rng(0))
    assert abundances.min() > 0  # no pixel clipped: the data's CLR is the mixture draw
    np.testing.assert_allclose(clr(abundances), values, atol=1e-9)
    return MapDataset(abundances.reshape(20, 32, 32, K).astype(np.float32))


@pytest.fixture(scope="module")
def map_data():
    """Smooth random maps pulled half-way to a fixed left/right pattern: a mean map with
    structure, and strong correlation between neighbouring pixels."""
    noise = make_synthetic_abundances(40, 16, 16, 3, smoothness=3.0, seed=1)
    pattern = np.zeros((16, 16, 3), dtype=np.float32)
    pattern[:, :8, 0] = pattern[:, 8:, 1] = 1.0
    return MapDataset(0.5 * noise + 0.5 * pattern, ["a"] * 20 + ["b"] * 20)


@pytest.fixture(scope="module")
def pixel_gmm(pixel_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gmm") / "pixels"
    return GaussianMixtureAbundances(n_components=2, max_pixels=50_000).fit(pixel_data, folder)


@pytest.fixture(scope="module")
def map_gmm(map_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("gmm") / "maps"
    gmm = GaussianMixtureAbundances("maps", n_components=2, pca_components=16)
    return gmm.fit(map_data, folder)


def test_pixel_mode_recovers_a_known_mixture(pixel_gmm):
    order = np.argsort(pixel_gmm.weights_)
    np.testing.assert_allclose(pixel_gmm.weights_[order], WEIGHTS, atol=0.02)
    component_means = pixel_gmm.means_[order] @ pixel_gmm.components_ + pixel_gmm.clr_mean_
    np.testing.assert_allclose(component_means, MEANS @ CENTRE, atol=0.03)
    assert pixel_gmm.facts()["parameters"] == 1 + 2 * 3 + 2 * 6  # weights, means, covariances

    samples = pixel_gmm.generate(4, seed=1, size=64)
    values = clr(samples).reshape(-1, K)
    mean, cov = mixture_moments()
    scale = np.sqrt(np.trace(cov))
    assert np.abs(values.mean(axis=0) - mean).max() < 0.03 * scale
    assert np.linalg.norm(np.cov(values.T) - cov) < 0.05 * np.linalg.norm(cov)


def test_samples_are_float32_maps_on_the_simplex(pixel_gmm, map_gmm):
    for gmm, size in ((pixel_gmm, 32), (pixel_gmm, 7), (map_gmm, 16)):
        maps = gmm.generate(3, seed=2, size=size)
        assert maps.shape == (3, size, size, gmm.n_channels) and maps.dtype == np.float32
        assert maps.min() >= 0
        np.testing.assert_allclose(maps.sum(axis=-1), 1.0, atol=1e-5)
    assert pixel_gmm.generate(1).shape == (1, 32, 32, K)  # size None: the training size


def test_map_mode_keeps_the_mean_map_and_the_spatial_coherence(map_data, map_gmm, pixel_gmm):
    samples = map_gmm.generate(60, seed=0, batch_size=30)
    truth = map_data.array.mean(axis=0)
    assert np.abs(samples.mean(axis=0) - truth).mean() < 0.04  # measured 0.02
    assert np.abs(truth - truth.mean(axis=(0, 1))).mean() > 0.15  # the mean map has structure

    def neighbour_correlation(maps: np.ndarray) -> float:
        left, right = maps[:, :, :-1, 0].ravel(), maps[:, :, 1:, 0].ravel()
        return float(np.corrcoef(left, right)[0, 1])

    assert neighbour_correlation(samples) > 0.8
    assert abs(neighbour_correlation(pixel_gmm.generate(4, seed=0, size=64))) < 0.05


@pytest.mark.parametrize("mode", ["pixel", "map"])
def test_round_trip_through_load_generator(mode, request, tmp_path):
    gmm = request.getfixturevalue(f"{mode}_gmm")
    again = load_generator(gmm.save_pretrained(tmp_path / "saved"))
    assert again.get_params() == gmm.get_params()
    assert again.fingerprint() == gmm.fingerprint()
    np.testing.assert_array_equal(again.generate(3, seed=5), gmm.generate(3, seed=5))


def test_sample_i_is_the_same_alone_and_in_a_batch(pixel_gmm, map_gmm):
    for gmm in (pixel_gmm, map_gmm):
        batch = gmm.generate(5, seed=3, batch_size=2)
        alone = gmm.sample([3], seed=3, class_name=None, size=None)
        np.testing.assert_array_equal(alone[0], batch[3])
        assert not np.array_equal(batch[0], batch[1])
        assert not np.array_equal(gmm.generate(1, seed=4)[0], batch[0])


def test_refusals(pixel_data, map_gmm, tmp_path):
    with pytest.raises(ConfigError, match="training size 16x16"):
        map_gmm.generate(1, size=32)
    with pytest.raises(ConfigError, match="unknown class"):
        map_gmm.generate(1, class_name="a")
    assert map_gmm.classes == [] and map_gmm.facts_["data_classes"] == ["a", "b"]
    with pytest.raises(ConfigError, match="mode"):
        GaussianMixtureAbundances("voxels").fit(pixel_data, tmp_path / "bad")
    with pytest.raises(ConfigError, match="at least 3 maps, got 2"):
        GaussianMixtureAbundances("maps", n_components=3).fit(
            MapDataset(pixel_data.array[:2]), tmp_path / "b"
        )
    with pytest.raises(NotFittedError):
        GaussianMixtureAbundances().generate(1)


def test_folder_refused_resumed_and_forced(pixel_data, tmp_path):
    small = MapDataset(pixel_data.array[:2])
    first = GaussianMixtureAbundances(n_components=2, max_pixels=500).fit(small, tmp_path / "g")
    assert first.facts_["n_fitted"] == 500
    with pytest.raises(OutputExistsError):
        GaussianMixtureAbundances(n_components=3).fit(small, tmp_path / "g")
    resumed = GaussianMixtureAbundances(n_components=3).fit(small, tmp_path / "g", resume=True)
    assert resumed.n_components == 2 and resumed.fingerprint() == first.fingerprint()
    forced = GaussianMixtureAbundances(n_components=3).fit(small, tmp_path / "g", force=True)
    assert load_generator(tmp_path / "g").fingerprint() == forced.fingerprint()
    assert forced.fingerprint() != first.fingerprint()
    unfitted = clone(forced)
    assert unfitted.get_params() == forced.get_params() and not hasattr(unfitted, "facts_")


def test_helmert_basis_is_orthonormal_and_sums_to_zero():
    basis = helmert_basis(5)
    np.testing.assert_allclose(basis @ basis.T, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(basis.sum(axis=1), 0.0, atol=1e-12)
