"""write_hsi round-trips through read_hsi, keeps wavelengths, and never leaves partial files."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io

from msfdiff.data import writers
from msfdiff.data.cube import HyperCube
from msfdiff.data.readers import read_hsi
from msfdiff.data.writers import write_hsi
from msfdiff.errors import DataFormatError, OutputExistsError

WL = np.linspace(400.0, 700.0, 7)


@pytest.fixture
def cube(rng) -> HyperCube:
    return HyperCube(rng.random((5, 6, 7), dtype=np.float32), WL, "test")


@pytest.mark.parametrize(
    "name", ["out.hdr", "out.img", "out.mat", "out.npy", "out.tif", "out.tiff"]
)
def test_round_trip(tmp_path, cube, name):
    written = write_hsi(tmp_path / name, cube)
    back = read_hsi(written)
    np.testing.assert_array_equal(back.data, cube.data)
    np.testing.assert_allclose(back.wavelengths_nm, WL, atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_round_trip_without_wavelengths(tmp_path, cube):
    bare = HyperCube(cube.data)
    for name in ("a.hdr", "a.mat", "a.npy", "a.tif"):
        assert read_hsi(write_hsi(tmp_path / name, bare)).wavelengths_nm is None


def test_envi_writes_header_and_data(tmp_path, cube):
    assert write_hsi(tmp_path / "scene.img", cube) == tmp_path / "scene.hdr"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.hdr", "scene.img"]
    assert "wavelength units = nm" in (tmp_path / "scene.hdr").read_text()


def test_mat_extra_arrays(tmp_path, cube, rng):
    abundances, endmembers = rng.random((5, 6, 4)), rng.random((4, 7))
    path = write_hsi(
        tmp_path / "fused.mat",
        cube,
        extra={"Abu": abundances, "End": endmembers, "wavelengths": WL},
    )
    stored = scipy.io.loadmat(path)
    np.testing.assert_array_equal(stored["Abu"], abundances)
    np.testing.assert_array_equal(stored["End"], endmembers)
    assert read_hsi(path).meta["key"] == "HSI"  # HSI wins over the 4-band Abu
    with pytest.raises(DataFormatError, match=r"x\.mat: extra 'wavelengths' differ"):
        write_hsi(tmp_path / "x.mat", cube, extra={"wavelengths": WL + 1})
    with pytest.raises(DataFormatError, match=r"x\.mat: 'HSI' cannot be"):
        write_hsi(tmp_path / "x.mat", cube, extra={"HSI": abundances})
    with pytest.raises(DataFormatError, match=r"x\.npy: extra arrays can only"):
        write_hsi(tmp_path / "x.npy", cube, extra={"Abu": abundances})


def test_no_overwrite_without_force(tmp_path, cube):
    path = write_hsi(tmp_path / "c.npy", cube)
    with pytest.raises(OutputExistsError, match=r"c\.npy: already exists"):
        write_hsi(path, cube)
    write_hsi(path, HyperCube(cube.data * 2), force=True)
    back = read_hsi(path)
    np.testing.assert_allclose(back.data, cube.data * 2)
    assert back.wavelengths_nm is None  # the stale sidecar went with the old cube
    with pytest.raises(OutputExistsError, match=r"e\.img: already exists"):
        (tmp_path / "e.img").write_bytes(b"")
        write_hsi(tmp_path / "e.hdr", cube)


def test_failure_leaves_nothing(tmp_path, cube, monkeypatch):
    def broken(target, cube, arrays):
        target.write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setitem(writers._WRITERS, "npy", broken)
    with pytest.raises(RuntimeError):
        write_hsi(tmp_path / "d.npy", cube)
    assert list(tmp_path.iterdir()) == []


def test_bad_suffix_or_format(tmp_path, cube):
    with pytest.raises(DataFormatError, match=r"x\.png: suffix must be one of"):
        write_hsi(tmp_path / "x.png", cube)
    with pytest.raises(DataFormatError, match=r"x\.npy: suffix must be one of \.mat"):
        write_hsi(tmp_path / "x.npy", cube, format="mat")
