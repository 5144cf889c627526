"""Real sensors' ENVI files: overlapping band tables, bad-band lists, no-data values."""

from __future__ import annotations

import numpy as np
import pytest
from spectral.io import envi

from msfdiff.data.readers import read_hsi
from msfdiff.errors import DataFormatError

# AVIRIS-like: the second spectrometer starts below where the first one ended
AVIRIS_WL = np.array([650.0, 660.0, 675.6, 664.1, 673.9, 683.6])


@pytest.fixture
def cube(rng) -> np.ndarray:
    return rng.random((4, 5, AVIRIS_WL.size), dtype=np.float32)


def test_overlapping_band_table_is_sorted_with_its_bands(tmp_path, cube):
    envi.save_image(str(tmp_path / "a.hdr"), cube, metadata={"wavelength": AVIRIS_WL.tolist()})
    with pytest.warns(UserWarning, match="675.6 nm is followed by 664.1 nm"):
        result = read_hsi(tmp_path / "a.hdr")
    order = np.argsort(AVIRIS_WL)
    np.testing.assert_array_equal(result.wavelengths_nm, AVIRIS_WL[order])
    np.testing.assert_array_equal(result.data, cube[..., order])  # each band kept its centre
    back = np.empty_like(result.data)  # a result put back in the file's band order
    back[..., result.meta["stored_bands"]] = result.data
    np.testing.assert_array_equal(back, cube)


def test_bad_band_list_drops_those_bands(tmp_path, cube):
    bbl = [1, 1, 0, 1, 0, 1]
    wl = np.sort(AVIRIS_WL)
    envi.save_image(str(tmp_path / "b.hdr"), cube, metadata={"wavelength": wl.tolist(), "bbl": bbl})
    with pytest.warns(UserWarning, match="2 bands marked bad"):
        result = read_hsi(tmp_path / "b.hdr")
    good = np.array(bbl, dtype=bool)
    np.testing.assert_array_equal(result.wavelengths_nm, wl[good])
    np.testing.assert_array_equal(result.data, cube[..., good])
    assert result.meta["stored_bands"] == np.flatnonzero(good).tolist()


def test_every_band_bad_is_one_line_error(tmp_path, cube):
    envi.save_image(str(tmp_path / "c.hdr"), cube, metadata={"bbl": [0] * cube.shape[2]})
    with pytest.raises(DataFormatError, match="c.hdr: .*every band bad"):
        read_hsi(tmp_path / "c.hdr")


def test_no_data_pixels_are_blanked(tmp_path, cube):
    counts = np.round(cube * 10000).astype(np.int16)
    counts[0, 0, :] = -9999
    counts[2, 3, 1] = -9999  # one band is enough to make the pixel no-data
    envi.save_image(
        str(tmp_path / "d.hdr"),
        counts,
        metadata={"data ignore value": -9999, "reflectance scale factor": 10000},
    )
    with pytest.warns(UserWarning, match="2 pixels hold the no-data value -9999"):
        result = read_hsi(tmp_path / "d.hdr")
    assert np.all(result.data[0, 0] == 0) and np.all(result.data[2, 3] == 0)
    np.testing.assert_allclose(result.data[1, 1], counts[1, 1] / 10000, rtol=1e-6)


def test_duplicate_wavelengths_are_refused(tmp_path, cube):
    wl = np.sort(AVIRIS_WL)
    wl[3] = wl[2]
    envi.save_image(str(tmp_path / "e.hdr"), cube, metadata={"wavelength": wl.tolist()})
    with pytest.raises(DataFormatError, match="e.hdr: two bands share the wavelength"):
        read_hsi(tmp_path / "e.hdr")


def test_band_table_given_by_the_user_is_sorted_too(tmp_path, cube):
    np.save(tmp_path / "f.npy", cube)
    with pytest.warns(UserWarning, match="bands reordered"):
        result = read_hsi(tmp_path / "f.npy", wavelengths=AVIRIS_WL)
    np.testing.assert_array_equal(result.wavelengths_nm, np.sort(AVIRIS_WL))


def _band_images(folder, cube_u16):
    from PIL import Image

    folder.mkdir(parents=True)
    for b in range(cube_u16.shape[2]):
        Image.fromarray(cube_u16[..., b]).save(folder / f"scene_ms_{b + 1:02d}.png")
    Image.fromarray(np.zeros((*cube_u16.shape[:2], 3), np.uint8)).save(folder / "scene_RGB.bmp")


def test_band_image_folders_are_hsi_paths(tmp_path, rng):
    """CAVE layout: one 16-bit PNG per band; a folder of such folders is a collection."""
    from msfdiff.data.readers import read_hsi_collection

    cubes = [rng.integers(0, 65535, (6, 7, 12), dtype=np.uint16) for _ in range(2)]
    for name, cube in zip(("a_ms", "b_ms"), cubes, strict=True):
        _band_images(tmp_path / "cave" / name / name, cube)
    read = read_hsi_collection([tmp_path / "cave"], scale=65535, wavelengths="400:700:12")
    assert [c.source for c in read] == [str(tmp_path / "cave" / n / n) for n in ("a_ms", "b_ms")]
    for cube, result in zip(cubes, read, strict=True):
        np.testing.assert_allclose(result.data, cube / 65535, rtol=1e-6)  # band order kept
        assert result.wavelengths_nm[0] == 400 and result.wavelengths_nm[-1] == 700


def test_folder_without_band_images_is_one_line_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(DataFormatError, match="empty: a folder, but not of band images"):
        read_hsi(tmp_path / "empty")
