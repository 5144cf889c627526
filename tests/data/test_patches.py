"""Patch offsets, the seeded manifest, and lazy patch loading from memory-mapped cubes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from msfdiff.data.cube import HyperCube
from msfdiff.data.patches import PatchSet, extract_patches, load_patch, make_manifest
from msfdiff.data.readers import read_hsi
from msfdiff.errors import ConfigError, DataFormatError


def test_offsets_known_answer():
    assert extract_patches(np.zeros((10, 7, 2)), size=4, stride=3) == [
        (0, 0), (0, 3), (3, 0), (3, 3), (6, 0), (6, 3),
    ]  # fmt: skip


def test_cube_smaller_than_patch():
    with pytest.raises(DataFormatError, match=r"tiny\.mat: image 3x8 is smaller than patch size 4"):
        extract_patches(HyperCube(np.zeros((3, 8, 2)), source="tiny.mat"), size=4, stride=2)


@pytest.fixture
def cube_files(tmp_path, rng):
    paths = []
    for i, shape in enumerate([(12, 12, 5), (8, 16, 5)]):
        path = tmp_path / f"c{i}.npy"
        np.save(path, rng.random(shape, dtype=np.float32))
        paths.append(path)
    return paths


def test_manifest_split_is_seeded_disjoint_and_json(cube_files):
    manifest = make_manifest(cube_files, size=4, stride=4, val_fraction=0.25, seed=3)
    assert json.loads(json.dumps(manifest)) == manifest
    entries = manifest["train"] + manifest["val"]
    assert len(entries) == 9 + 8 and len(manifest["val"]) == 4
    keys = {(e["source"], e["row"], e["col"]) for e in entries}
    assert len(keys) == len(entries)
    again = make_manifest(cube_files, size=4, stride=4, val_fraction=0.25, seed=3)
    other = make_manifest(cube_files, size=4, stride=4, val_fraction=0.25, seed=4)
    assert again == manifest and other["val"] != manifest["val"]
    with pytest.raises(ConfigError, match="val_fraction"):
        make_manifest(cube_files, size=4, stride=4, val_fraction=1.0)


def test_manifest_rejects_mixed_band_counts(tmp_path, cube_files):
    np.save(tmp_path / "odd.npy", np.zeros((8, 8, 3), dtype=np.float32))
    with pytest.raises(DataFormatError, match=r"odd\.npy: 3 bands, but .*c0\.npy has 5"):
        make_manifest([*cube_files, tmp_path / "odd.npy"], size=4, stride=4)


def test_patches_come_from_memmaps(cube_files):
    manifest = make_manifest(cube_files, size=4, stride=2, val_fraction=0.2, seed=0)
    patches = PatchSet(manifest, "val")
    entry = patches.entries[-1]
    full = np.load(entry["source"])
    np.testing.assert_array_equal(
        patches[len(patches) - 1],
        full[entry["row"] : entry["row"] + 4, entry["col"] : entry["col"] + 4],
    )
    assert all(isinstance(c.data, np.memmap) for c in patches._cubes.values())
    opened = {e["source"]: read_hsi(e["source"]) for e in manifest["train"]}
    np.testing.assert_array_equal(
        load_patch(manifest["train"][0], opened, size=4),
        load_patch(manifest["train"][0], read_hsi, size=4),
    )
    with pytest.raises(DataFormatError, match="exceeds"):
        load_patch({"source": entry["source"], "row": 100, "col": 0}, read_hsi, size=4)
