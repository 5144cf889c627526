"""The abundance dataset format: writer, loader and their one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from msfdiff.data.abundances import (
    AbundanceDatasetWriter,
    load_abundance_dataset,
    make_synthetic_abundances,
    write_abundance_dataset,
)
from msfdiff.errors import DataFormatError, DataNotFoundError, OutputExistsError


@pytest.fixture
def maps():
    return make_synthetic_abundances(3, 8, 10, 4, seed=2)


def test_round_trip_float32(tmp_path, maps):
    out = write_abundance_dataset(
        tmp_path / "abu", maps, files=["a.jpg", "b.jpg", "c.jpg"], labels=["farm", None, "airport"]
    )
    index = json.loads((out / "index.json").read_text())
    assert index == {
        "n": 3,
        "height": 8,
        "width": 10,
        "k": 4,
        "files": ["a.jpg", "b.jpg", "c.jpg"],
        "labels": ["farm", None, "airport"],
        "classes": ["airport", "farm"],
    }
    ds = load_abundance_dataset(out)
    assert isinstance(ds.array, np.memmap)
    assert (len(ds), ds.k, ds.height, ds.width, ds.classes) == (3, 4, 8, 10, ["airport", "farm"])
    item, label = ds[2]
    assert item.dtype == torch.float32 and item.shape == (4, 8, 10)
    assert torch.equal(item, torch.from_numpy(maps[2]).permute(2, 0, 1))
    assert label == 0 and ds[0][1] == 1 and ds[1][1] == -1


def test_float16_storage_passes_validation(tmp_path, maps):
    ds = load_abundance_dataset(write_abundance_dataset(tmp_path / "abu", maps, dtype="float16"))
    assert ds.array.dtype == np.float16
    assert np.abs(np.asarray(ds.array, dtype=np.float32) - maps).max() < 5e-4


def test_existing_folder_needs_force(tmp_path, maps):
    out = write_abundance_dataset(tmp_path / "abu", maps)
    with pytest.raises(OutputExistsError, match="abu"):
        write_abundance_dataset(out, maps[:1])
    write_abundance_dataset(out, maps[:1], force=True)
    assert len(load_abundance_dataset(out)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["abu"]  # no temp folders left


def test_incomplete_or_failed_writes_leave_nothing(tmp_path, maps):
    writer = AbundanceDatasetWriter(tmp_path / "abu", n=3, height=8, width=10, k=4)
    writer.write(0, maps[0], source="a.jpg")
    with pytest.raises(DataFormatError, match="2 of 3 rows never written"):
        writer.close()
    with pytest.raises(ZeroDivisionError):
        with AbundanceDatasetWriter(tmp_path / "abu", n=1, height=8, width=10, k=4) as w:
            w.write(0, maps[0], source="a.jpg")
            1 / 0  # noqa: B018
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a[:, :, :3], r"photo\.jpg: expected abundances of shape \(8, 10, 4\)"),
        (lambda a: a - 0.01, r"photo\.jpg: abundances must be >= 0"),
        (lambda a: a * 1.01, r"photo\.jpg: abundances must sum to one"),
    ],
)
def test_writer_rejects_non_abundances(tmp_path, maps, change, message):
    with AbundanceDatasetWriter(tmp_path / "abu", n=1, height=8, width=10, k=4) as writer:
        with pytest.raises(DataFormatError, match=message):
            writer.write(0, change(maps[0]), source="photo.jpg")
        writer.write(0, maps[0], source="photo.jpg")


def test_loader_errors_name_the_folder(tmp_path, maps):
    with pytest.raises(DataNotFoundError, match="nowhere: not an abundance dataset"):
        load_abundance_dataset(tmp_path / "nowhere")
    out = write_abundance_dataset(tmp_path / "abu", maps)
    array = np.load(out / "abundances.npy", mmap_mode="r+")
    array[1, 0, 0] = 0.9
    array.flush()
    del array
    with pytest.raises(DataFormatError, match=r"abu row 1: abundances must sum to one"):
        load_abundance_dataset(out)
    index = json.loads((out / "index.json").read_text())
    (out / "index.json").write_text(json.dumps({**index, "k": 5}))
    with pytest.raises(DataFormatError, match=r"abu: abundances.npy has shape \(3, 8, 10, 4\)"):
        load_abundance_dataset(out)


def test_synthetic_maps_are_smooth_simplex_maps():
    maps = make_synthetic_abundances(2, 32, 32, 5, smoothness=4.0, seed=0)
    assert maps.min() >= 0 and np.abs(maps.sum(-1) - 1).max() < 1e-5
    a, b = maps[:, :, :-1].ravel(), maps[:, :, 1:].ravel()
    assert np.corrcoef(a, b)[0, 1] > 0.8  # neighbours alike: regions, not pixel noise
    assert maps.max(-1).mean() > 0.5  # mostly dominated by one endmember
