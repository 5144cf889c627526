"""Leak-free splits: no training patch shares a pixel with a test patch, checked by brute force."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.downstream.split import make_patches, spatial_split, split_images
from msfdiff.errors import ConfigError


def random_scene(seed: int, height: int = 40, width: int = 46, n_classes: int = 4) -> np.ndarray:
    """Fields of random classes on a coarse grid, blurred edges, a scatter of unlabelled pixels."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, n_classes + 1, size=(height // 6 + 1, width // 6 + 1))
    labels = np.kron(coarse, np.ones((6, 6), dtype=np.int64))[:height, :width]
    labels[rng.random((height, width)) < 0.1] = 0
    return labels


@pytest.mark.parametrize("patch_size", [1, 3, 5, 9])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_pixel_of_a_training_patch_is_in_a_test_patch(patch_size, seed):
    labels = random_scene(seed)
    split = spatial_split(labels, patch_size=patch_size, train_fraction=0.2, seed=seed)
    # each pixel's value is its own id, so a patch's values are the pixels it is made of
    ids = np.arange(labels.size, dtype=np.float32).reshape(*labels.shape, 1)
    train_pixels = set(np.unique(split.patches(ids, "train")[:].astype(np.int64)).tolist())
    test_patches = (
        split.patches(ids, "test")[:].astype(np.int64).reshape(len(split.test_centres), -1)
    )
    assert len(split.train_centres) and len(test_patches)
    shared = [p for p in test_patches if train_pixels.intersection(p.tolist())]
    assert not shared, f"{len(shared)} test patches share pixels with training patches"
    # and the training patches' own windows (before mirroring) stay clear of test windows
    painted = np.zeros(labels.shape, dtype=bool)
    half = patch_size // 2
    for r, c in split.train_centres:
        painted[max(r - half, 0) : r + half + 1, max(c - half, 0) : c + half + 1] = True
    for r, c in split.test_centres:
        assert not painted[max(r - half, 0) : r + half + 1, max(c - half, 0) : c + half + 1].any()


def test_centres_are_labelled_and_labels_are_zero_based():
    labels = random_scene(5)
    split = spatial_split(labels, patch_size=5, train_fraction=0.2, seed=0)
    for centres, classes in (
        (split.train_centres, split.train_labels),
        (split.test_centres, split.test_labels),
    ):
        np.testing.assert_array_equal(labels[centres[:, 0], centres[:, 1]] - 1, classes)
    assert split.train_region[split.train_centres[:, 0], split.train_centres[:, 1]].all()
    assert not split.train_region[split.test_centres[:, 0], split.test_centres[:, 1]].any()


def test_every_class_trains_and_the_fraction_is_near_the_target():
    for seed in range(5):
        labels = random_scene(10 + seed, height=60, width=60)
        split = spatial_split(labels, patch_size=3, train_fraction=0.15, seed=seed)
        train, test = split.counts()
        present = np.bincount(labels.ravel(), minlength=split.n_classes + 1)[1:] > 0
        assert (train[present] > 0).all() and (test[present] > 0).all()
        share = train.sum() / (labels > 0).sum()
        assert 0.05 < share < 0.3


def test_cap_per_class_and_determinism():
    labels = random_scene(3, height=60, width=60)
    a = spatial_split(labels, patch_size=3, train_fraction=0.3, max_per_class=20, seed=4)
    b = spatial_split(labels, patch_size=3, train_fraction=0.3, max_per_class=20, seed=4)
    c = spatial_split(labels, patch_size=3, train_fraction=0.3, max_per_class=20, seed=5)
    assert a.counts()[0].max() <= 20
    np.testing.assert_array_equal(a.train_centres, b.train_centres)
    np.testing.assert_array_equal(a.test_centres, b.test_centres)
    assert not np.array_equal(a.train_region, c.train_region)


def test_patches_are_cut_with_mirrored_borders():
    data = np.arange(5 * 6 * 2, dtype=np.float32).reshape(5, 6, 2)
    patches = make_patches(data, np.array([[0, 0], [2, 3]]), 3)
    assert patches.shape == (2, 3, 3, 2) and patches[:].shape == (2, 3, 3, 2)
    np.testing.assert_array_equal(patches[1], data[1:4, 2:5])
    np.testing.assert_array_equal(patches[0][:, :, 0], data[[1, 0, 1]][:, [1, 0, 1], 0])
    np.testing.assert_array_equal(patches.centre_spectra(), data[[0, 2], [0, 3]])


def test_bad_arguments_are_one_line_errors():
    labels = random_scene(0)
    with pytest.raises(ConfigError, match="odd"):
        spatial_split(labels, patch_size=4)
    with pytest.raises(ConfigError, match="train_fraction"):
        spatial_split(labels, patch_size=3, train_fraction=1.5)
    with pytest.raises(ConfigError, match="no test|0 test|left"):
        spatial_split(labels[:6, :6], patch_size=9, train_fraction=0.5)


def test_image_split_is_stratified_and_seeded():
    labels = np.repeat(np.arange(3), [10, 25, 2])
    a = split_images(labels, train_fraction=0.4, seed=1)
    assert np.intersect1d(a.train, a.test).size == 0
    assert np.union1d(a.train, a.test).size == labels.size
    np.testing.assert_array_equal(np.bincount(labels[a.train]), [4, 10, 1])
    b = split_images(labels, train_fraction=0.4, seed=1)
    np.testing.assert_array_equal(a.train, b.train)
    assert not np.array_equal(a.train, split_images(labels, train_fraction=0.4, seed=2).train)
    capped = split_images(labels, train_fraction=0.4, max_per_class=3, seed=1)
    assert np.bincount(labels[capped.train]).max() == 3
