"""Novelty: nearest-training distances against brute force, copies and crops caught, fresh maps not."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.data.abundances import make_synthetic_abundances
from msfdiff.errors import DataFormatError
from msfdiff.evaluation import novelty
from msfdiff.evaluation.novelty import nearest_distances, novelty_summary, paired_distances

K = 3


def _maps(n: int, size: int = 24, *, seed: int, height: int | None = None) -> np.ndarray:
    maps = make_synthetic_abundances(n, height or size, size, K, smoothness=2.5, seed=seed)
    return maps.astype(np.float64)


@pytest.fixture(scope="module")
def training() -> np.ndarray:
    return _maps(30, seed=1)


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """The documented distance: L1 over endmembers, mean over pixels."""
    return float(np.abs(a - b).sum(axis=-1).mean())


def _orientations(a: np.ndarray) -> list[np.ndarray]:
    return [f(np.rot90(a, t)) for t in range(4) for f in (lambda m: m, np.fliplr)]


def _brute(samples, references, *, dihedral: bool, skip_self: bool = False) -> np.ndarray:
    """Every pair, every orientation; in every window of the smaller map in the larger one the
    squared error, and the L1 distance in the window where that is least."""
    out = []
    for i, sample in enumerate(samples):
        best = np.inf
        for j, reference in enumerate(references):
            if skip_self and i == j:
                continue
            for oriented in _orientations(sample) if dihedral else [sample]:
                small, large = sorted((oriented, reference), key=lambda m: m.shape[0])
                h, w = small.shape[:2]
                if h > large.shape[0] or w > large.shape[1]:
                    continue
                windows = [
                    large[y : y + h, x : x + w]
                    for y in range(large.shape[0] - h + 1)
                    for x in range(large.shape[1] - w + 1)
                ]
                fitted = min(windows, key=lambda window: np.sum((window - small) ** 2))
                best = min(best, _distance(small, fitted))
        out.append(best)
    return np.array(out)


@pytest.mark.parametrize("dihedral", [False, True])
def test_nearest_distances_match_brute_force(rng, dihedral) -> None:
    references = [_maps(1, 8, seed=s)[0] for s in range(4)]
    samples = [
        _maps(1, 8, seed=10)[0],
        _maps(1, 5, seed=11, height=6)[0],  # smaller, not square: every offset is searched
        _maps(1, 10, seed=12)[0],  # larger: every window of it against each reference
    ]
    expected = _brute(samples, references, dihedral=dihedral)
    found = nearest_distances(samples, references, dihedral=dihedral)
    assert found == pytest.approx(expected, abs=1e-12)
    assert np.all(found > 0.05)  # the maps are all different: not a vacuous 0 == 0


def test_a_noisy_crop_is_found_where_it_was_cut(rng) -> None:
    references = rng.dirichlet(np.ones(K), size=(3, 12, 12))
    window = references[1, 3:10, 2:8]
    crop = window + 0.01 * rng.standard_normal(window.shape)
    found = nearest_distances([crop], references, dihedral=False)
    assert found[0] == pytest.approx(_distance(crop, window), abs=1e-12)


def test_exclude_self_is_leave_one_out(training) -> None:
    maps = training[:8]
    assert np.all(nearest_distances(maps, maps) == 0)
    loo = nearest_distances(maps, maps, exclude_self=True)
    assert loo == pytest.approx(_brute(maps, maps, dihedral=True, skip_self=True), abs=1e-12)
    assert np.all(loo > 0)
    with pytest.raises(DataFormatError, match="exclude_self"):
        nearest_distances(maps[:3], maps, exclude_self=True)


def test_blocks_and_memory_mapped_input_change_nothing(training, tmp_path, monkeypatch) -> None:
    samples = _maps(7, seed=3)
    whole = nearest_distances(samples, training)
    np.save(tmp_path / "train.npy", training.astype(np.float32))
    mapped = np.load(tmp_path / "train.npy", mmap_mode="r")
    monkeypatch.setattr(novelty, "_BUDGET", 3 * 24 * 24 * K)  # blocks of 3 maps
    assert nearest_distances(samples, mapped) == pytest.approx(whole, abs=1e-6)


def test_copies_turned_copies_and_crops_are_memorised(training) -> None:
    source = training[4]
    canvas = np.full((40, 36, K), 1 / K)
    canvas[9:33, 5:29] = np.rot90(source)  # outpainted: a training map inside a larger map
    samples = [
        source.copy(),
        np.fliplr(np.rot90(source, 3)).copy(),
        source[5:21, 3:20].copy(),  # a crop at an arbitrary offset
        canvas,
    ]
    summary = novelty_summary(samples, training)
    assert summary["distances"]["nearest_training"] == pytest.approx([0, 0, 0, 0], abs=1e-12)
    assert summary["memorisation_rate"] == 1.0 and summary["memorised"] == [0, 1, 2, 3]
    assert summary["nearest_training_relative"] == pytest.approx(0, abs=1e-12)
    # without the orientation search a turned copy is a new map
    plain = nearest_distances(samples[1:2], training, dihedral=False)
    assert plain[0] > summary["memorisation_threshold"]


def test_fresh_maps_are_as_new_as_real_ones(rng, training) -> None:
    """Maps from the training distribution, but not in it: relative novelty ~1, rate ~5 %."""
    fresh = _maps(30, seed=2)
    summary = novelty_summary(fresh, training)
    assert 0.8 < summary["nearest_training_relative"] < 1.25
    assert summary["memorisation_rate"] <= 0.15
    noise = rng.dirichlet(np.ones(K), size=(1, 24, 24))  # a fresh random map, unlike any
    one = novelty_summary(noise, training)
    assert one["memorisation_rate"] == 0.0 and one["memorised"] == []
    assert one["nearest_training"]["min"] > one["memorisation_threshold"]
    # the same fresh maps are caught as soon as they are training maps
    both = novelty_summary(fresh, np.concatenate([training, fresh]))
    assert both["memorisation_rate"] == 1.0


def test_summary_reference_and_sources(training) -> None:
    samples = _maps(4, seed=5)
    summary = novelty_summary(samples, training, sources=samples, max_queries=12, seed=3)
    assert summary["n_reference_queries"] == 12 and summary["n_training"] == 30
    reference = np.array(summary["distances"]["real_to_real"])
    assert summary["memorisation_threshold"] == pytest.approx(np.quantile(reference, 0.05))
    stats = summary["nearest_training"]
    assert stats["min"] <= stats["p05"] <= stats["median"] <= stats["p95"] <= stats["max"]
    assert summary["source"]["median"] == 0 and summary["source"]["relative"] == 0
    moved = samples[:, ::-1].copy()
    expected = [_distance(a, b) for a, b in zip(moved, samples, strict=True)]
    assert paired_distances(moved, samples) == pytest.approx(expected, abs=1e-12)


def test_refuses_what_it_cannot_compare(training) -> None:
    with pytest.raises(DataFormatError, match="endmembers"):
        nearest_distances(training[:1, ..., :2], training)
    with pytest.raises(DataFormatError, match="neither fits"):
        nearest_distances([np.full((30, 10, K), 1 / K)], training, dihedral=False)
    with pytest.raises(DataFormatError, match="2 training maps"):
        novelty_summary(training[:1], training[:1])
    with pytest.raises(DataFormatError, match="source"):
        paired_distances(training[:2], training[:2, :10])


def test_local_novelty_sees_the_copied_regions_of_a_collage_that_whole_maps_miss():
    from msfdiff.data.abundances import make_synthetic_abundances
    from msfdiff.evaluation.novelty import local_novelty, novelty_summary

    maps = make_synthetic_abundances(24, 32, 32, 3, smoothness=2.0, seed=0)
    training, fresh = maps[:16], maps[16:]
    rng = np.random.default_rng(1)
    collages = np.empty((4, 32, 32, 3), np.float32)
    for collage in collages:  # 16 cells of 8 x 8, each from another training map, in place
        donors = rng.permutation(16)
        for cell, donor in enumerate(donors):
            y, x = 8 * (cell // 4), 8 * (cell % 4)
            collage[y : y + 8, x : x + 8] = training[donor][y : y + 8, x : x + 8]
    assert novelty_summary(collages, training)["memorisation_rate"] == 0.0  # whole maps: new
    copied = local_novelty(collages, training, tile=8)
    assert copied["copied_share"] == 1.0 and copied["nearest_training"]["max"] < 1e-9
    new = local_novelty(fresh, training, tile=8)
    assert new["copied_share"] < 0.3 and new["relative"] > 0.5
