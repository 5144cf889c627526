"""N-FINDR endmember extraction (the decoder's data-driven start)."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.evaluation.reconstruction import match_endmembers
from msfdiff.unmixing.endmembers import fcls, nfindr, simplex_nmf
from tests.synthetic import known_scene


@pytest.mark.parametrize("k", [3, 4, 5])
def test_pure_pixels_are_found_exactly(k):
    cube, endmembers, _ = known_scene(size=24, k=k, sharpness=1.0)  # mixed, few near-pure
    pixels = cube.data.reshape(-1, cube.n_bands).copy()
    where = np.random.default_rng(k).choice(len(pixels), k, replace=False)
    pixels[where] = endmembers  # one exactly pure pixel per endmember
    found = nfindr(pixels, k, seed=1)
    order, _ = match_endmembers(found, endmembers)
    np.testing.assert_array_equal(found[order], endmembers)


def test_vertices_are_data_pixels_spanning_the_largest_simplex():
    cube, _, _ = known_scene(size=24, k=3, sharpness=1.0)
    pixels = cube.data.reshape(-1, cube.n_bands).astype(np.float64)
    found = nfindr(pixels, 3)
    assert all((pixels == v).all(1).any() for v in found)

    def area(v):  # of the triangle, in the full spectral space
        e1, e2 = v[1] - v[0], v[2] - v[0]
        return np.sqrt(max(e1 @ e1 * (e2 @ e2) - (e1 @ e2) ** 2, 0))

    rng = np.random.default_rng(0)
    random_areas = [area(pixels[rng.choice(len(pixels), 3, replace=False)]) for _ in range(200)]
    assert area(found) > max(random_areas)


def test_too_few_spectra_rejected():
    with pytest.raises(ValueError, match="at least k=4"):
        nfindr(np.ones((3, 10)), 4)


def _inside(vertices: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Whether each pixel is a convex combination of the vertices (pixels lie in their plane)."""
    system = np.vstack([vertices.T, np.ones(len(vertices))])
    target = np.vstack([pixels.T, np.ones(len(pixels))])
    bary = np.linalg.lstsq(system, target, rcond=None)[0].T
    return bary.min(1) >= -1e-6


def test_enclose_widens_the_simplex_to_hold_that_fraction():
    cube, _, _ = known_scene(size=24, k=3, sharpness=0.5)  # few near-pure pixels
    pixels = cube.data.reshape(-1, cube.n_bands).astype(np.float64)
    inscribed = nfindr(pixels, 3)
    widened = nfindr(pixels, 3, enclose=0.95)
    assert _inside(inscribed, pixels).mean() < 0.95
    assert 0.95 <= _inside(widened, pixels).mean() < 0.96  # the smallest scale that does it
    np.testing.assert_allclose(widened.mean(0), inscribed.mean(0), atol=1e-9)  # same centroid


def test_enclose_leaves_a_simplex_of_pure_pixels_alone():
    cube, endmembers, _ = known_scene(size=24, k=3, sharpness=1.0)
    pixels = np.concatenate([cube.data.reshape(-1, cube.n_bands), endmembers])
    found = nfindr(pixels, 3, enclose=1.0)
    order, _ = match_endmembers(found, endmembers)
    np.testing.assert_allclose(found[order], endmembers, atol=1e-6)
    with pytest.raises(ValueError, match="enclose is a fraction"):
        nfindr(pixels, 3, enclose=1.5)


def test_simplex_nmf_grows_an_inscribed_simplex_until_it_holds_the_pixels():
    _, endmembers, _ = known_scene(size=8, k=3)
    abundances = np.random.default_rng(0).dirichlet(np.ones(3), size=2000)
    pixels = abundances @ endmembers.astype(np.float64)
    found = nfindr(pixels, 3)
    start = found.mean(0) + 0.6 * (found - found.mean(0))  # well inside the data
    refined = simplex_nmf(pixels, start)
    assert refined.min() >= 0

    def error(vertices):  # of the best convex combination (FCLS) of each pixel
        return np.abs(fcls(vertices, pixels) @ vertices - pixels) / pixels.max()

    assert error(start).max() > 0.2  # many pixels outside the inscribed simplex
    assert error(refined).mean() < 0.02 * error(start).mean()
    assert error(refined).max() < 0.25 * error(start).max()
    _, sad_start = match_endmembers(start, endmembers)
    _, sad_refined = match_endmembers(refined, endmembers)
    assert sad_refined.max() <= sad_start.max()  # it grew towards the true vertices


def test_fcls_abundances_are_on_the_simplex_and_exact_inside_it(rng):
    endmembers = rng.uniform(0.05, 0.6, size=(4, 12))
    truth = rng.dirichlet(np.ones(4), size=50)
    found = fcls(endmembers, truth @ endmembers)
    np.testing.assert_allclose(found.sum(1), 1, atol=1e-6)
    np.testing.assert_allclose(found, truth, atol=1e-5)
    outside = fcls(endmembers, -np.ones((3, 12)))  # no convex combination fits: still valid
    assert outside.min() >= 0 and np.allclose(outside.sum(1), 1, atol=1e-6)
