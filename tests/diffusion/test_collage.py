"""Collages: layouts from real maps, seams regenerated, interiors kept."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from msfdiff.data.abundances import make_synthetic_abundances
from msfdiff.diffusion.collage import make_collages, seam_band, voronoi_cells
from msfdiff.diffusion.pipeline import AbundancePipeline, build_scheduler, build_unet
from msfdiff.errors import ConfigError
from tests.diffusion.tiny import SIZE, K, tiny_config

LABELS = ["field", "town", "field", "town", "field", "town"]


@pytest.fixture(scope="module")
def maps() -> np.ndarray:
    return make_synthetic_abundances(len(LABELS), SIZE, SIZE, K, smoothness=2.0, seed=8)


def test_seam_band_of_two_halves():
    cells = np.zeros((6, 8), dtype=int)
    cells[:, 4:] = 1
    band = seam_band(cells, 2)
    # columns 3 and 4 touch the other cell; the band reaches one pixel further each side
    assert band.all(axis=0).tolist() == [False, False, True, True, True, True, False, False]
    assert not band[:, [0, 1, 6, 7]].any()
    assert not seam_band(np.zeros((4, 4), dtype=int), 3).any()
    assert not seam_band(cells, 0).any()


def test_voronoi_cells_are_the_nearest_points():
    cells = voronoi_cells((12, 10), 3, np.random.default_rng(0))
    assert cells.shape == (12, 10) and set(np.unique(cells)) <= {0, 1, 2}
    np.testing.assert_array_equal(cells, voronoi_cells((12, 10), 3, np.random.default_rng(0)))


def test_collages_are_cut_from_real_maps_of_one_class(maps):
    guidance = make_collages(maps, 4, labels=LABELS, cells=3, band=2, seed=1)
    assert guidance.sources.shape == (4, SIZE, SIZE, K) and guidance.strength == 0.3
    assert list(guidance.labels) == ["field", "town", "field", "town"]  # the classes in turn
    for collage, label in zip(guidance.sources, guidance.labels, strict=True):
        # every pixel is that pixel of a map of its class (crops of full-size maps: the maps)
        same_class = maps[[i for i, lab in enumerate(LABELS) if lab == label]]
        hits = np.all(np.isclose(same_class, collage, atol=1e-6), axis=-1)  # (maps, H, W)
        assert hits.any(axis=0).all() and len(np.unique(hits.argmax(axis=0))) > 1
    assert 0 < guidance.keep.mean() < 1
    # collage i depends on (seed, i) alone
    more = make_collages(maps, 6, labels=LABELS, cells=3, band=2, seed=1)
    np.testing.assert_array_equal(more.sources[:4], guidance.sources)
    other = make_collages(maps, 4, labels=LABELS, cells=3, band=2, seed=2)
    assert not np.array_equal(other.sources, guidance.sources)
    whole = make_collages(maps, 2, band=None, size=SIZE // 2)
    assert whole.keep is None and whole.labels is None and whole.sources.shape[1] == SIZE // 2
    with pytest.raises(ConfigError, match="collage size 32"):
        make_collages(maps, 1, size=2 * SIZE)


def test_harmonising_regenerates_the_seams_only(maps):
    torch.manual_seed(0)
    config = tiny_config().replace(n_endmembers=K, clr_scale=2.0)
    pipe = AbundancePipeline(build_unet(config), build_scheduler(config).config, config)
    guidance = make_collages(maps, 2, cells=3, band=2, strength=0.3, seed=0)
    harmonised = pipe(2, sampler="unipc", seed=0, guidance=guidance)
    keep = guidance.keep
    np.testing.assert_array_equal(harmonised[keep], guidance.sources[keep])
    assert np.abs(harmonised[~keep] - guidance.sources[~keep]).max() > 1e-3
    assert harmonised.min() >= 0 and np.abs(harmonised.sum(-1) - 1).max() < 1e-5
