"""Wavelength specs, CSV quirks, the embedded Chikusei table and resampling."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.data.cube import HyperCube
from msfdiff.data.wavelengths import chikusei_msfdiff_wavelengths, parse_wavelengths, resample
from msfdiff.errors import DataFormatError, DataNotFoundError


def test_range_spec():
    np.testing.assert_allclose(parse_wavelengths("400:700:31"), np.arange(400, 701, 10.0))
    with pytest.raises(DataFormatError, match="START <= STOP"):
        parse_wavelengths("700:400:3")


def test_csv_header_trailing_comma_and_nan(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("wavelength (nm)\n400.5\n410.25,\n\n420\n")
    np.testing.assert_allclose(parse_wavelengths(good), [400.5, 410.25, 420.0])
    bad = tmp_path / "bad.csv"
    bad.write_text("wavelength (nm)\n400\nnan\n420\n")
    with pytest.raises(DataFormatError, match=r"bad\.csv, line 3: wavelength is nan"):
        parse_wavelengths(bad)
    words = tmp_path / "words.csv"
    words.write_text("400\nfour hundred\n")
    with pytest.raises(DataFormatError, match=r"words\.csv, line 2"):
        parse_wavelengths(words)
    with pytest.raises(DataFormatError, match="strictly ascending"):
        parse_wavelengths([400, 390, 410])
    with pytest.raises(DataNotFoundError, match=r"missing\.csv: wavelength file not found"):
        parse_wavelengths(tmp_path / "missing.csv")


def test_chikusei_constants_match_shared_table(shared_data):
    wl = chikusei_msfdiff_wavelengths()
    assert wl.shape == (59,) and wl[0] == 398.71 and wl[-1] == 698.04
    table = parse_wavelengths(shared_data / "hsi" / "wavelengths" / "chikusei.csv")
    np.testing.assert_array_equal(wl, table[7:66])  # bands 8..66, 1-based


def test_chikusei_indices_used_by_the_official_code():
    wl = chikusei_msfdiff_wavelengths()
    np.testing.assert_allclose(wl[[7, 17, 27]], [434.84, 486.45, 538.06])
    np.testing.assert_allclose(wl[[14, 33, 53]], [470.96, 569.02, 672.24])


def test_resample_linear_spectrum_is_exact():
    source = np.linspace(400, 700, 31)
    offsets = np.arange(12, dtype=np.float64).reshape(3, 4, 1)
    cube = HyperCube((2.0 * source + offsets).astype(np.float64), source, "lin")
    target = chikusei_msfdiff_wavelengths()[1:-1]  # inside 400-700
    out = resample(cube, target, rows_per_chunk=1)
    np.testing.assert_allclose(out.data, 2.0 * target + offsets, rtol=1e-6)
    np.testing.assert_array_equal(out.wavelengths_nm, target)


def test_resample_cubic_is_exact_on_cubics_and_writes_into_out():
    source = np.linspace(400, 700, 16)
    spectrum = ((source - 550) / 100) ** 3
    cube = HyperCube(np.tile(spectrum, (2, 3, 1)), source, "cubic")
    target = np.linspace(405, 695, 9)
    out = np.zeros((2, 3, 9), dtype=np.float32)
    result = resample(cube, target, method="cubic", out=out)
    assert result.data is out
    np.testing.assert_allclose(out[1, 2], ((target - 550) / 100) ** 3, atol=1e-5)


def test_resample_refuses_extrapolation():
    cube = HyperCube(np.ones((2, 2, 4)), np.array([400.0, 500, 600, 700]), "scene.hdr")
    with pytest.raises(DataFormatError, match=r"scene\.hdr: target 380-700 nm lies outside"):
        resample(cube, "380:700:5")
    with pytest.raises(DataFormatError, match="no wavelengths"):
        resample(HyperCube(np.ones((2, 2, 4)), None, "bare"), "400:700:5")
