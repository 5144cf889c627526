"""Novelty: how far each synthetic abundance map is from the nearest map the generator trained on.

Every distribution metric is perfect for a generator that returns its training maps, so
realism must be read beside novelty. Definitions (docs/metrics.md, "Novelty"):

- **distance** between two maps of equal size: the L1 norm over endmembers, averaged over
  pixels, ``mean_px Σ_k |a_k − b_k|`` (0 for equal maps, at most 2 on the simplex);
- **orientation**: with ``dihedral`` (the default) the least distance over the 8 rotations and
  flips of the sample, because the trainer augments with exactly these: a turned copy is a copy;
- **maps of different sizes**: the smaller is compared with the window of its size in the
  larger that fits it best in least squares (FFT cross-correlation), so a crop taken at any
  offset scores 0;
- **real-to-real reference**: each training map's distance to its nearest *other* training map;
- **memorisation rate**: the share of samples at most as far from a training map as the 5th
  percentile of the real-to-real distances. Fresh real maps of the same scenes score about 5 %.
- **local copies** (:func:`local_novelty`): the same test for square tiles of the samples,
  each placed at its best offset in every training map. A collage of real regions is far
  from every whole training map, yet its tiles are copies; this is the share that says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.spatial.distance import cdist

from msfdiff.errors import DataFormatError

Maps = Sequence[np.ndarray] | np.ndarray
"""Abundance maps (height, width, k): a list (sizes may differ) or an (n, H, W, k) array."""

MEMORISATION_QUANTILE = 0.05
MAX_REFERENCE_QUERIES = 256  # training maps whose nearest neighbour sets the reference
LOCAL_TILE = 16  # side of the tiles local_novelty compares
MAX_TILES = 128  # tiles per side (samples, training) local_novelty searches; seeded choice
_BUDGET = 2**22  # float64 elements of the maps one block stacks (32 MB)
_STATS = {"p05": 5, "p25": 25, "median": 50, "p75": 75, "p95": 95}


def nearest_distances(
    samples: Maps, references: Maps, *, exclude_self: bool = False, dihedral: bool = True
) -> np.ndarray:
    """Distance from each sample to its nearest reference map (definitions: module docstring).

    Parameters
    ----------
    samples, references : sequence of ndarray of shape (height, width, k), or one array
        A memory-mapped (n, H, W, k) data set is read a block at a time.
    exclude_self : bool
        ``samples`` *are* ``references``: skip each map's pair with itself (leave-one-out).
    dihedral : bool
        Also compare each sample's 8 rotations and flips.

    Returns
    -------
    ndarray of shape (n_samples,), float64
    """
    if exclude_self and len(samples) != len(references):
        raise DataFormatError("exclude_self needs the samples to be the references")
    skip = np.arange(len(samples)) if exclude_self else None
    return _nearest(samples, references, skip=skip, dihedral=dihedral)


def paired_distances(samples: Maps, sources: Maps) -> np.ndarray:
    """Distance from each sample to its own source map, pixel by pixel (a variation stays put)."""
    if len(samples) != len(sources):
        raise DataFormatError(f"{len(samples)} samples but {len(sources)} source maps")
    distances = np.empty(len(samples))
    for i, (sample, source) in enumerate(zip(samples, sources, strict=True)):
        if np.shape(sample) != np.shape(source):
            raise DataFormatError(
                f"sample {i} has shape {np.shape(sample)}, its source {np.shape(source)}"
            )
        diff = np.asarray(sample, dtype=np.float64) - np.asarray(source, dtype=np.float64)
        distances[i] = np.abs(diff).sum(axis=-1).mean()
    return distances


def novelty_summary(
    samples: Maps,
    training: Maps,
    *,
    sources: Maps | None = None,
    dihedral: bool = True,
    max_queries: int = MAX_REFERENCE_QUERIES,
    seed: int = 0,
) -> dict:
    """Nearest-training distances of the samples against the real-to-real reference.

    Parameters
    ----------
    samples : maps
        The synthetic abundance maps.
    training : maps
        The maps the generator trained on (at least 2).
    sources : maps, optional
        For variations: sample ``i``'s source map, same size.
    max_queries : int
        The reference uses at most this many training maps (seeded choice) as queries,
        each against all training maps: its quantiles need hundreds, not thousands.

    Returns
    -------
    dict
        Plain numbers: counts; ``nearest_training``, ``real_to_real`` (and ``source``)
        statistics (mean, min, p05 … p95, max); ``nearest_training_relative`` (median over
        median, None when the reference median is 0); ``memorisation_threshold``,
        ``memorisation_rate`` and the indices of the ``memorised`` samples; ``distances``
        (every value, for histograms).
    """
    if len(samples) < 1 or len(training) < 2:
        raise DataFormatError("novelty needs at least 1 sample and 2 training maps")
    nearest = nearest_distances(samples, training, dihedral=dihedral)
    queries = np.arange(len(training))
    if len(training) > max_queries:
        rng = np.random.default_rng(seed)
        queries = np.sort(rng.choice(len(training), size=max_queries, replace=False))
    reference = _nearest([training[i] for i in queries], training, skip=queries, dihedral=dihedral)
    threshold = float(np.quantile(reference, MEMORISATION_QUANTILE))
    memorised = np.flatnonzero(nearest <= threshold)
    summary = {
        "n_samples": len(samples),
        "n_training": len(training),
        "n_reference_queries": len(queries),
        "dihedral": dihedral,
        "nearest_training": _statistics(nearest),
        "real_to_real": _statistics(reference),
        "nearest_training_relative": _relative(nearest, reference),
        "memorisation_quantile": MEMORISATION_QUANTILE,
        "memorisation_threshold": threshold,
        "memorisation_rate": len(memorised) / len(nearest),
        "memorised": memorised.tolist(),
        "distances": {"nearest_training": nearest.tolist(), "real_to_real": reference.tolist()},
    }
    if sources is not None:
        to_source = paired_distances(samples, sources)
        summary["source"] = {
            **_statistics(to_source),
            "relative": _relative(to_source, reference),
        }
        summary["distances"]["source"] = to_source.tolist()
    return summary


def local_novelty(
    samples: Maps,
    training: Maps,
    *,
    tile: int = LOCAL_TILE,
    dihedral: bool = False,
    max_tiles: int = MAX_TILES,
    seed: int = 0,
) -> dict:
    """The share of the samples' tiles that copy part of a training map, against real maps.

    Each map is cut into non-overlapping ``tile`` × ``tile`` tiles. A sample tile's distance
    is to its best window in any training map; a training tile's, the reference, to its best
    window in any *other* training map. ``copied_share`` is the share of sample tiles at most
    as far as the closest 5 % of the reference (real maps: about 0.05). Up to ``max_tiles``
    tiles per side are searched (seeded choice). Tiles are not turned by default: pasted
    regions keep their orientation, and the 8 orientations cost 8 times the search (128
    tiles of 64² maps against 520 take about 8 s on 2 cores unturned).

    Returns
    -------
    dict
        ``tile``, ``n_tiles``, ``nearest_training`` and ``real_to_real`` statistics,
        ``relative`` (median over median), ``threshold`` and ``copied_share``.
    """
    rng = np.random.default_rng(seed)
    sample_tiles, _ = _tiles(samples, tile, max_tiles, rng)
    training_tiles, owners = _tiles(training, tile, max_tiles, rng)
    if not len(sample_tiles) or not len(training_tiles):
        raise DataFormatError(f"local novelty needs maps of at least {tile} x {tile} pixels")
    nearest = nearest_distances(sample_tiles, training, dihedral=dihedral)
    reference = _nearest(training_tiles, training, skip=owners, dihedral=dihedral)
    threshold = float(np.quantile(reference, MEMORISATION_QUANTILE))
    return {
        "tile": tile,
        "n_tiles": len(sample_tiles),
        "nearest_training": _statistics(nearest),
        "real_to_real": _statistics(reference),
        "relative": _relative(nearest, reference),
        "threshold": threshold,
        "copied_share": float(np.mean(nearest <= threshold)),
    }


def _tiles(
    maps: Maps, tile: int, limit: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``limit`` non-overlapping tiles (n, tile, tile, k) and the map each came from."""
    places = [
        (i, y, x)
        for i in range(len(maps))
        for y in range(0, np.shape(maps[i])[0] - tile + 1, tile)
        for x in range(0, np.shape(maps[i])[1] - tile + 1, tile)
    ]
    if len(places) > limit:
        places = [places[j] for j in np.sort(rng.choice(len(places), limit, replace=False))]
    k = np.shape(maps[0])[-1]
    tiles = np.empty((len(places), tile, tile, k))
    for j, (i, y, x) in enumerate(places):
        tiles[j] = np.asarray(maps[i][y : y + tile, x : x + tile], dtype=np.float64)
    return tiles, np.array([i for i, _, _ in places], dtype=np.int64)


def _statistics(values: np.ndarray) -> dict[str, float]:
    stats = {"mean": float(values.mean()), "min": float(values.min())}
    stats.update({name: float(np.percentile(values, q)) for name, q in _STATS.items()})
    return {**stats, "max": float(values.max())}


def _relative(values: np.ndarray, reference: np.ndarray) -> float | None:
    """Median over the reference median: 1 means as far as real maps are from one another."""
    scale = float(np.median(reference))
    return float(np.median(values)) / scale if scale > 0 else None


# ------------------------------------------------------------------------------- the search


def _nearest(
    samples: Maps, references: Maps, *, skip: np.ndarray | None, dihedral: bool
) -> np.ndarray:
    """Nearest distances, block by block; ``skip[i]`` is a reference sample ``i`` never meets."""
    best = np.full(len(samples), np.inf)
    for s_rows, s_shape in _groups(samples):
        for r_rows, r_shape in _groups(references):
            if s_shape[2] != r_shape[2]:
                raise DataFormatError(f"maps with {s_shape[2]} and {r_shape[2]} endmembers")
            if not (_fits(s_shape, r_shape) or dihedral and _fits(s_shape[1::-1], r_shape)):
                raise DataFormatError(f"maps of {s_shape[:2]} and {r_shape[:2]}: neither fits")
            for s_block in _blocks(s_rows, s_shape):
                a = _stack(samples, s_block)
                for r_block in _blocks(r_rows, r_shape):
                    block = _block(a, _stack(references, r_block), dihedral)
                    if skip is not None:
                        block[skip[s_block][:, None] == r_block[None, :]] = np.inf
                    best[s_block] = np.minimum(best[s_block], block.min(axis=1))
    return best


def _groups(maps: Maps) -> Iterator[tuple[np.ndarray, tuple[int, ...]]]:
    """Row indices of each map shape (one group for an (n, H, W, k) array)."""
    if isinstance(maps, np.ndarray):
        yield np.arange(len(maps)), tuple(maps.shape[1:])
        return
    shapes = [np.shape(m) for m in maps]
    if any(len(shape) != 3 for shape in shapes):
        raise DataFormatError("abundance maps must be (height, width, k)")
    for shape in dict.fromkeys(shapes):
        yield np.array([i for i, s in enumerate(shapes) if s == shape]), shape


def _blocks(rows: np.ndarray, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    size = max(1, _BUDGET // int(np.prod(shape)))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _stack(maps: Maps, rows: np.ndarray) -> np.ndarray:
    if isinstance(maps, np.ndarray):
        return np.asarray(maps[rows], dtype=np.float64)
    return np.stack([np.asarray(maps[i], dtype=np.float64) for i in rows])


def _fits(small: Sequence[int], large: Sequence[int]) -> bool:
    """One map's (height, width) fits inside the other's (either way round)."""
    return (small[0] <= large[0] and small[1] <= large[1]) or (
        large[0] <= small[0] and large[1] <= small[1]
    )


def _block(samples: np.ndarray, references: np.ndarray, dihedral: bool) -> np.ndarray:
    """(n_samples, n_references) distances, least over the samples' orientations."""
    best = np.full((len(samples), len(references)), np.inf)
    turns = [np.rot90(samples, t, axes=(1, 2)) for t in range(4)] if dihedral else [samples]
    for turned in turns:
        for oriented in (turned, turned[:, :, ::-1]) if dihedral else (turned,):
            if _fits(oriented.shape[1:3], references.shape[1:3]):
                best = np.minimum(best, _distances(oriented, references))
    return best


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) distances of two stacks whose maps fit one inside the other."""
    if a.shape[1:3] == b.shape[1:3]:
        pixels = a.shape[1] * a.shape[2]
        return cdist(a.reshape(len(a), -1), b.reshape(len(b), -1), "cityblock") / pixels
    if a.shape[1] <= b.shape[1] and a.shape[2] <= b.shape[2]:
        return _window_distances(a, b)
    return _window_distances(b, a).T


def _window_distances(small: np.ndarray, large: np.ndarray) -> np.ndarray:
    """(len(small), len(large)): each small map against its least-squares window in each large map.

    ``|s − w|² = |w|² − 2 s·w + |s|²``; the cross-correlation ``s·w`` at every window comes
    from one FFT per pair (circular at the large size, exact at the valid offsets), window
    energies ``|w|²`` from cumulative sums. The distance is then the L1 one, in that window.
    """
    _, h, w, _ = small.shape
    _, height, width, _ = large.shape
    spectra = np.fft.rfft2(large, axes=(1, 2))
    energy = _window_sums((large**2).sum(axis=-1), h, w)
    windows = sliding_window_view(large, (h, w), axis=(1, 2))  # (n, H-h+1, W-w+1, k, h, w)
    rows = np.arange(len(large))
    distances = np.empty((len(small), len(large)))
    for i, s in enumerate(small):
        pattern = np.fft.rfft2(s, s=(height, width), axes=(0, 1))
        product = np.einsum("nyxk,yxk->nyx", spectra, pattern.conj())
        correlation = np.fft.irfft2(product, s=(height, width), axes=(1, 2))
        squared = energy - 2 * correlation[:, : height - h + 1, : width - w + 1]
        y, x = np.unravel_index(squared.reshape(len(large), -1).argmin(axis=1), squared.shape[1:])
        chosen = windows[rows, y, x]  # (n, k, h, w)
        distances[i] = np.abs(chosen - s.transpose(2, 0, 1)).sum(axis=(1, 2, 3)) / (h * w)
    return distances


def _window_sums(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sum of every h×w window of each (H, W) plane of ``x`` (n, H, W)."""
    c = np.pad(x, ((0, 0), (1, 0), (1, 0))).cumsum(axis=1).cumsum(axis=2)
    return c[:, h:, w:] - c[:, :-h, w:] - c[:, h:, :-w] + c[:, :-h, :-w]
