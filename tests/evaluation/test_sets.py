"""load_set and SampleSet: which files a set holds, how they are read, and the set checks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from msfdiff.data.cube import HyperCube
from msfdiff.data.readers import expand_hsi_paths
from msfdiff.data.writers import write_hsi
from msfdiff.errors import DataFormatError
from msfdiff.evaluation.sets import SampleSet, load_set
from msfdiff.layout import sample_abundance_path, sample_stem

WL = np.linspace(400, 700, 6)


def _cube(rng, size=8) -> np.ndarray:
    return rng.random((size, size, WL.size)).astype(np.float32)


def test_sample_set_checks(rng):
    with pytest.raises(DataFormatError, match="3 channels"):
        SampleSet([np.zeros((4, 4, 5))], "rgb")
    with pytest.raises(DataFormatError, match="no images"):
        SampleSet([], "hsi")
    with pytest.raises(DataFormatError, match="wavelengths for"):
        SampleSet([np.zeros((4, 4, 5))], "hsi", np.arange(4.0))


def test_integer_set_with_scale_loads_as_the_float_set(tmp_path, rng):
    counts = [rng.integers(0, 4096, (8, 8, WL.size), dtype=np.uint16) for _ in range(3)]
    reflectance = [c.astype(np.float32) / np.float32(4095) for c in counts]
    for folder, cubes in (("int", counts), ("float", reflectance)):
        (tmp_path / folder).mkdir()
        for i, cube in enumerate(cubes):
            np.save(tmp_path / folder / f"cube_{i}.npy", cube)
    as_float = load_set([tmp_path / "float"], kind="hsi", wavelengths_nm=WL)
    with pytest.raises(DataFormatError, match="needs a scale"):
        load_set([tmp_path / "int"], kind="hsi", wavelengths_nm=WL)
    scaled = load_set([tmp_path / "int"], kind="hsi", wavelengths_nm=WL, scale=4095)
    assert len(scaled.images) == 3
    for a, b in zip(scaled.images, as_float.images, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)


def test_hsi_folders_follow_the_readers_rule(tmp_path, rng):
    folder = tmp_path / "cubes"
    (folder / "more").mkdir(parents=True)
    np.save(folder / "a.npy", _cube(rng))
    np.save(folder / "more" / "b.npy", _cube(rng))  # sub-folders are read, as for training
    np.save(folder / ".c.npy.tmp.npy", _cube(rng))  # an interrupted atomic write: hidden
    np.save(sample_abundance_path(folder, 0), rng.random((8, 8, 2)))  # not an HSI
    loaded = load_set([folder], wavelengths_nm=WL)
    expected = [str(p) for p in expand_hsi_paths([folder])]
    assert list(loaded.sources) == expected == [str(folder / "a.npy"), str(folder / "more/b.npy")]


def test_a_samples_folder_is_hsis_whatever_their_format(tmp_path, rng):
    samples = tmp_path / "samples"
    for i in range(2):
        write_hsi(samples / f"{sample_stem(i)}.tif", HyperCube(_cube(rng), WL, "test"))
        np.save(sample_abundance_path(samples, i), rng.random((8, 8, 2)))
    loaded = load_set([samples])
    assert loaded.kind == "hsi" and len(loaded.images) == 2
    np.testing.assert_allclose(loaded.wavelengths_nm, WL)


def test_photo_folders_and_mixed_sets(tmp_path, rng):
    photos = tmp_path / "photos" / "Farmland"
    photos.mkdir(parents=True)
    for i in range(4):
        Image.fromarray((rng.random((10, 10, 3)) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    loaded = load_set([tmp_path / "photos"], max_images=2, seed=1)
    assert loaded.kind == "rgb" and len(loaded.images) == 2
    assert loaded.sources == load_set([tmp_path / "photos"], max_images=2, seed=1).sources
    np.save(tmp_path / "cube.npy", _cube(rng))
    with pytest.raises(DataFormatError, match="mixes photos and hyperspectral"):
        load_set([tmp_path / "photos", tmp_path / "cube.npy"])
