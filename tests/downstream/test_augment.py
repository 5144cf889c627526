"""Classic augmentation: counts per class, labels, symmetry-only geometry, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.downstream.augment import augment_patches, counts_to_target
from msfdiff.errors import DataFormatError


@pytest.fixture
def training(rng):
    patches = rng.random((12, 5, 5, 3), dtype=np.float32)
    labels = np.array([0] * 7 + [1] * 4 + [3])  # class 2 has no training patch
    return patches, labels


def test_counts_to_target():
    np.testing.assert_array_equal(counts_to_target([0] * 7 + [1] * 4 + [3], 4, 6), [0, 2, 0, 5])


def test_shapes_labels_and_per_class_counts(training):
    patches, labels = training
    extra, extra_labels = augment_patches(patches, labels, [3, 5, 4, 2], seed=0)
    assert extra.shape == (10, 5, 5, 3) and extra.dtype == np.float32
    np.testing.assert_array_equal(extra_labels, [0] * 3 + [1] * 5 + [3] * 2)  # none for class 2
    empty, empty_labels = augment_patches(patches, labels, 0, seed=0)
    assert empty.shape == (0, 5, 5, 3) and empty_labels.shape == (0,)


def test_without_noise_or_mixup_each_sample_is_a_turned_source_of_its_class(training):
    patches, labels = training
    extra, extra_labels = augment_patches(patches, labels, 6, seed=1, noise=0.0, mixup=0.0)
    for sample, k in zip(extra, extra_labels, strict=True):
        variants = [
            np.rot90(p[:, ::-1] if m else p, t, axes=(0, 1))
            for p in patches[labels == k]
            for t in range(4)
            for m in (0, 1)
        ]
        assert any(np.array_equal(sample, v) for v in variants)


def test_mixup_keeps_the_larger_part_and_noise_is_small(training):
    patches, labels = training
    mixed, _ = augment_patches(patches, labels, 40, seed=2, noise=0.0, mixup=1.0)
    plain, _ = augment_patches(patches, labels, 40, seed=2, noise=0.0, mixup=0.0)  # same sources
    assert not np.array_equal(mixed, plain)
    for m, p in zip(mixed, plain, strict=True):
        # m = lam * p + (1 - lam) * q for some training patch q, with the source's share lam >= 0.5
        fits = []
        for q in patches:
            d = (q - p).ravel()
            if not d.any():  # the partner is the source itself: any share fits
                fits.append(1.0 if np.allclose(m, p, atol=1e-5) else 0.0)
                continue
            share = 1.0 - float(d @ (m - p).ravel()) / float(d @ d)
            if np.allclose(m, share * p + (1 - share) * q, atol=1e-5):
                fits.append(share)
        assert fits and max(fits) >= 0.5 - 1e-6
    noisy, _ = augment_patches(patches, labels, 40, seed=2, noise=0.01, mixup=0.0)
    difference = np.abs(noisy - plain)
    assert 0 < difference.mean() < 0.05 * patches.std()


def test_same_seed_same_patches_and_classes_independent(training):
    patches, labels = training
    a, _ = augment_patches(patches, labels, [3, 5, 0, 2], seed=7)
    b, _ = augment_patches(patches, labels, [3, 5, 0, 2], seed=7)
    np.testing.assert_array_equal(a, b)
    c, _ = augment_patches(patches, labels, [3, 9, 0, 2], seed=7)  # more of class 1 only
    np.testing.assert_array_equal(a[:3], c[:3])
    np.testing.assert_array_equal(a[-2:], c[-2:])
    assert not np.array_equal(a, augment_patches(patches, labels, [3, 5, 0, 2], seed=8)[0])


def test_rejects_non_square_patches(training):
    patches, labels = training
    with pytest.raises(DataFormatError, match="square"):
        augment_patches(patches[:, :, :4], labels, 2)
