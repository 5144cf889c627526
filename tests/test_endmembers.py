"""N-FINDR endmember extraction (the decoder's data-driven start)."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.evaluation.reconstruction import match_endmembers
from msfdiff.unmixing.endmembers import nfindr
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
