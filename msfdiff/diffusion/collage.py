"""Collages: new layouts cut from real maps, their seams harmonised by masked denoising.

A collage splits the canvas into Voronoi cells around random points and fills each cell from a
different real map (of one scene class when the maps are labelled), so every region has real
edges, roofs and field boundaries, and the layout is new. Only the seams between cells are
pixels no real map had. Harmonising them is inpainting at a low strength: the pixels within
``band`` of a seam are noised to the strength and regenerated, the cell interiors are kept
(``band=None`` noises the whole canvas instead: a variation of the collage).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.ndimage import distance_transform_edt, morphological_gradient
from scipy.spatial import cKDTree

from msfdiff.errors import ConfigError
from msfdiff.generator import COLLAGE_BAND, COLLAGE_CELLS, COLLAGE_STRENGTH, Guidance


def voronoi_cells(shape: tuple[int, int], n_cells: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W) int labels: the nearest of ``n_cells`` uniform random points to each pixel."""
    height, width = shape
    points = rng.uniform((0, 0), (height, width), size=(n_cells, 2))
    grid = np.stack(np.mgrid[:height, :width], axis=-1).reshape(-1, 2) + 0.5
    return cKDTree(points).query(grid)[1].reshape(height, width)


def seam_band(cells: np.ndarray, width: int) -> np.ndarray:
    """(H, W) bool: pixels less than ``width`` px from a pixel touching another cell."""
    boundary = morphological_gradient(cells, size=3) > 0
    if not boundary.any():
        return boundary
    return distance_transform_edt(~boundary) < width


def make_collages(
    maps: np.ndarray,
    n: int,
    *,
    labels: Sequence[str | None] | None = None,
    size: int | None = None,
    cells: int = COLLAGE_CELLS,
    band: int | None = COLLAGE_BAND,
    strength: float = COLLAGE_STRENGTH,
    resample: int = 0,
    seed: int = 0,
) -> Guidance:
    """``n`` collages of ``maps`` (m, H, W, k) as a guide for :meth:`AbundancePipeline.generate`.

    Collage ``i`` depends on ``(seed, i)`` alone: its class (when ``labels`` are given) is the
    ``i``-th of the sorted distinct labels in turn, its ``cells`` parts are random ``size``-px
    crops of distinct maps of that class (repeated only when the class has fewer maps), and its
    label is that class, so a conditional model harmonises it in the class it came from.
    ``band`` px each side of a seam are regenerated at ``strength``; the rest is kept.
    """
    m, height, width, _ = maps.shape
    size = size or min(height, width)
    if not 0 < size <= min(height, width):
        raise ConfigError(f"collage size {size} must be in 1..{min(height, width)} (the maps)")
    if cells < 1 or (band is not None and band < 0):
        raise ConfigError(f"cells must be >= 1 and band >= 0, got {cells} and {band}")
    classes = sorted({label for label in labels or () if label is not None})
    canvases, keeps, names = [], [], []
    for i in range(n):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
        name = classes[i % len(classes)] if classes else None
        pool = [j for j in range(m) if name is None or labels[j] == name]
        parts = rng.choice(pool, size=cells, replace=len(pool) < cells)
        layout = voronoi_cells((size, size), cells, rng)
        canvas = np.empty((size, size, maps.shape[-1]), dtype=np.float32)
        for cell, j in enumerate(parts):
            top, left = rng.integers(0, height - size + 1), rng.integers(0, width - size + 1)
            crop = np.asarray(maps[j, top : top + size, left : left + size], dtype=np.float32)
            canvas[layout == cell] = crop[layout == cell]
        canvases.append(canvas / canvas.sum(-1, keepdims=True))  # float16 maps: sums to 1e-3
        keeps.append(None if band is None else ~seam_band(layout, band))
        names.append(name)
    return Guidance(
        np.stack(canvases),
        strength=strength,
        keep=None if band is None else np.stack(keeps),
        labels=names if classes else None,
        resample=resample,
    )
