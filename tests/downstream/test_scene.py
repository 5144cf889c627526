"""Labelled scenes: reading, renumbering, band removal, one-line errors; the two shared scenes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from msfdiff.downstream.scene import (
    INDIAN_PINES_DROPPED,
    SALINAS_A_DROPPED,
    list_class_folders,
    load_indian_pines,
    load_salinas_a,
    read_labelled_scene,
)
from msfdiff.errors import DataFormatError


@pytest.fixture
def scene_files(tmp_path, rng):
    cube = (rng.random((6, 7, 5)) * 1000).astype(np.int16)
    labels = np.array([-1, 1, 10, 14, -1, 10, 1] * 6).reshape(6, 7)
    scipy.io.savemat(tmp_path / "cube.mat", {"cube": cube})
    scipy.io.savemat(tmp_path / "gt.mat", {"gt": labels.astype(np.float64)})  # MATLAB doubles
    return tmp_path / "cube.mat", tmp_path / "gt.mat", cube, labels


def test_dict_names_renumber_and_bands_drop_and_sort(scene_files):
    cube_path, labels_path, cube, raw = scene_files
    wavelengths = [400.0, 500.0, 450.0, 600.0, 700.0]  # not ascending, like AVIRIS's table
    scene = read_labelled_scene(
        cube_path,
        labels_path,
        class_names={1: "a", 10: "b", 14: "c"},
        unlabelled=-1,
        wavelengths=wavelengths,
        drop_bands=[3],
        scale=1000.0,
    )
    assert scene.class_names == ["a", "b", "c"]
    assert scene.data.shape == (6, 7, 4) and scene.data.dtype == np.float32
    np.testing.assert_array_equal(scene.wavelengths_nm, [400, 450, 500, 700])
    np.testing.assert_allclose(scene.data, cube[..., [0, 2, 1, 4]] / 1000.0, rtol=1e-6)
    expected = np.select([raw == 1, raw == 10, raw == 14], [1, 2, 3], 0)
    np.testing.assert_array_equal(scene.labels, expected)
    np.testing.assert_array_equal(scene.counts(), [(raw == v).sum() for v in (1, 10, 14)])


def test_without_names_the_values_become_classes(scene_files, tmp_path):
    cube_path, _, _, raw = scene_files
    np.save(tmp_path / "gt.npy", np.where(raw < 0, 0, raw))
    scene = read_labelled_scene(cube_path, tmp_path / "gt.npy", scale=1000.0)
    assert scene.class_names == ["1", "10", "14"]


def test_errors_are_one_line(scene_files, tmp_path):
    cube_path, labels_path, _, raw = scene_files
    np.save(tmp_path / "small.npy", raw[:5])
    with pytest.raises(DataFormatError, match=r"label map is \(5, 7\), cube is \(6, 7\)"):
        read_labelled_scene(cube_path, tmp_path / "small.npy", scale=1000.0, unlabelled=-1)
    np.save(tmp_path / "frac.npy", raw + 0.5)
    with pytest.raises(DataFormatError, match="frac.npy: labels are not integers"):
        read_labelled_scene(cube_path, tmp_path / "frac.npy", scale=1000.0)
    with pytest.raises(DataFormatError, match=r"label values \[10, 14\] have no class name"):
        read_labelled_scene(cube_path, labels_path, class_names=["x"], unlabelled=-1, scale=1000.0)
    with pytest.raises(DataFormatError, match="3 wavelengths for 5 stored / 5 kept"):
        read_labelled_scene(
            cube_path, labels_path, unlabelled=-1, scale=1000.0, wavelengths=[1.0, 2.0, 3.0]
        )
    with pytest.raises(DataFormatError, match="needs a scale"):
        read_labelled_scene(cube_path, labels_path, unlabelled=-1)


def test_class_folders(tmp_path, rng):
    for name, n in (("water", 2), ("farmland", 3)):
        (tmp_path / name).mkdir()
        for i in range(n):
            np.save(tmp_path / name / f"{i}.npy", rng.random((4, 4, 3), dtype=np.float32))
    paths, labels, names = list_class_folders(tmp_path)
    assert names == ["farmland", "water"]
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])
    assert [p.parent.name for p in paths] == ["farmland"] * 3 + ["water"] * 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataFormatError, match="empty: class folder holds no HSI files"):
        list_class_folders(tmp_path)


def test_dropped_band_lists_match_the_readme():
    assert len(SALINAS_A_DROPPED) == 20 and SALINAS_A_DROPPED[0] == 107  # band 108, 1-based
    assert len(INDIAN_PINES_DROPPED) == 20 and INDIAN_PINES_DROPPED[-1] == 219  # band 220


@pytest.mark.shared_data
def test_salinas_a(shared_data):
    scene = load_salinas_a(shared_data)
    assert scene.data.shape == (83, 86, 204)
    assert scene.class_names[1] == "Corn_senesced_green_weeds"
    np.testing.assert_array_equal(scene.counts(), [391, 1343, 616, 1525, 674, 799])
    assert (scene.labels == 0).sum() == 1790
    wl = scene.wavelengths_nm
    assert np.all(np.diff(wl) > 0) and 360 < wl[0] < 410 and 2450 < wl[-1] < 2510
    assert not np.any((wl > 1360) & (wl < 1400))  # the 1.4 um water band is gone
    assert float(scene.data.max()) < 1.0


@pytest.mark.shared_data
def test_indian_pines(shared_data):
    scene = load_indian_pines(shared_data)
    assert scene.data.shape == (145, 145, 200) and scene.n_classes == 16
    assert scene.counts().sum() == 10366 and scene.class_names[9] == "Oats"
    assert scene.data.min() == 0.0 and scene.data.max() == 1.0
    wl = scene.wavelengths_nm
    assert np.all(np.diff(wl) > 0) and 395 < wl[0] < 405 and 2480 < wl[-1] < 2500
    # nearest class mean on spectra, 50/50: the README's sanity check gives OA about 0.40
    rng = np.random.default_rng(0)
    pixels = np.argwhere(scene.labels > 0)
    first = rng.random(len(pixels)) < 0.5
    spectra, classes = (
        scene.data[pixels[:, 0], pixels[:, 1]],
        scene.labels[pixels[:, 0], pixels[:, 1]],
    )
    means = np.stack([spectra[first & (classes == k)].mean(0) for k in range(1, 17)])
    guess = np.argmin(((spectra[~first, None] - means) ** 2).sum(-1), axis=1) + 1
    assert 0.3 < np.mean(guess == classes[~first]) < 0.5
