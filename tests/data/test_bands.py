"""BandSelector: rendering against colour-science, white balance, domain match, round trips."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.data.bands import BandSelector, parse_band_selector, srgb_encode
from msfdiff.data.cube import HyperCube
from msfdiff.data.readers import read_band_images
from msfdiff.data.rgb import read_photo
from msfdiff.data.spectra import library_spectra
from msfdiff.data.wavelengths import chikusei_msfdiff_wavelengths
from msfdiff.errors import ConfigError, DataFormatError

WL = chikusei_msfdiff_wavelengths()


@pytest.mark.parametrize(
    "spec",
    ["camera:cie1931", "camera:cie1931+srgb", "camera:Nikon 5100 (NPL)", "camera:cie1931@D50"],
)
def test_white_renders_white(spec):
    white = np.ones((2, 3, WL.size), dtype=np.float32)
    np.testing.assert_allclose(
        parse_band_selector(spec).hsi_to_rgb(white, wavelengths_nm=WL), 1.0, atol=1e-5
    )


@pytest.mark.filterwarnings("ignore:Aligning")  # colour's reference path resamples the curves
@pytest.mark.parametrize("encoding", ["linear", "srgb"])
def test_cie1931_matches_colour_science(encoding):
    """Our weight-matrix rendering equals colour's sd_to_XYZ + XYZ_to_sRGB on the ColorChecker."""
    import colour

    grid = np.arange(380.0, 781.0, 5.0)
    _, spectra = library_spectra(grid, sets=["colorchecker-ohta"])
    ours = BandSelector("camera", encoding=encoding).hsi_to_rgb(spectra[None], wavelengths_nm=grid)[
        0
    ]
    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    light = colour.SDS_ILLUMINANTS["D65"]
    reference = np.array(
        [
            colour.XYZ_to_sRGB(colour.sd_to_XYZ(sd, cmfs, light) / 100, apply_cctf_encoding=False)
            for sd in colour.SDS_COLOURCHECKERS["ColorChecker N Ohta"].values()
        ]
    ).clip(0, 1)
    if encoding == "srgb":
        reference = colour.models.eotf_inverse_sRGB(reference)
    np.testing.assert_allclose(ours, reference, atol=1e-3)


def test_nearest_and_indices_pick_bands_in_rgb_order(rng):
    data = rng.random((4, 5, WL.size), dtype=np.float32) * 0.9
    nearest = BandSelector("nearest", wavelengths_nm=(672, 569, 471)).hsi_to_rgb(
        HyperCube(data, WL)
    )
    np.testing.assert_array_equal(nearest, data[..., [53, 33, 14]])
    indices = parse_band_selector("indices:27,17,7").hsi_to_rgb(data)  # no wavelengths needed
    np.testing.assert_array_equal(indices, data[..., [27, 17, 7]])


def test_batches_and_memmaps_match_single_images(tmp_path, rng):
    batch = rng.random((3, 4, 5, WL.size), dtype=np.float32)
    selector = BandSelector()
    rendered = selector.hsi_to_rgb(batch, wavelengths_nm=WL)
    assert rendered.shape == (3, 4, 5, 3)
    np.save(tmp_path / "b.npy", batch[1])
    mapped = np.load(tmp_path / "b.npy", mmap_mode="r")
    np.testing.assert_allclose(
        selector.hsi_to_rgb(mapped, wavelengths_nm=WL), rendered[1], rtol=1e-6
    )


def test_coverage_and_range_errors():
    nir = HyperCube(np.ones((2, 2, 20)), np.linspace(600, 1000, 20), "nir.hdr")
    with pytest.raises(DataFormatError, match=r"nir\.hdr: covers 600-1000 nm but camera 'cie1931'"):
        BandSelector().hsi_to_rgb(nir)
    with pytest.raises(DataFormatError, match=r"nir\.hdr: no band near 550 nm \(nearest 600 nm\)"):
        parse_band_selector("nearest").hsi_to_rgb(nir)
    with pytest.raises(
        DataFormatError, match=r"nir\.hdr: band indices \(27, 17, 7\) need more than 20"
    ):
        parse_band_selector("indices:27,17,7").hsi_to_rgb(nir)
    with pytest.raises(
        DataFormatError, match=r"bare: band selector camera:cie1931 needs wavelengths"
    ):
        BandSelector().hsi_to_rgb(HyperCube(np.ones((2, 2, 5)), None, "bare"))


def test_photo_to_input_undoes_the_encoding(rng):
    linear = rng.random((4, 4, 3)).astype(np.float32)
    photo = srgb_encode(linear)
    np.testing.assert_allclose(BandSelector().photo_to_input(photo), linear, atol=1e-5)
    np.testing.assert_array_equal(BandSelector(encoding="srgb").photo_to_input(photo), photo)


@pytest.mark.parametrize(
    "spec",
    [
        "nearest:672,569,471",
        "indices:27,17,7+srgb",
        "camera:cie1931",
        "camera:Nikon 5100 (NPL)+srgb",
        "camera:cie1931@A",
    ],
)
def test_round_trips(spec):
    selector = parse_band_selector(spec)
    assert parse_band_selector(selector.spec) == selector
    assert BandSelector.from_dict(selector.to_dict()) == selector


def test_parse_defaults_and_errors():
    assert parse_band_selector("nearest").wavelengths_nm == (650.0, 550.0, 450.0)
    assert parse_band_selector("camera+linear") == BandSelector()
    with pytest.raises(ConfigError, match="'foo': unknown band selector"):
        parse_band_selector("foo")
    with pytest.raises(ConfigError, match="needs 3 values"):
        parse_band_selector("nearest:650,550")
    with pytest.raises(ConfigError, match="not a list of numbers"):
        parse_band_selector("indices:a,b,c")
    with pytest.raises(ConfigError, match="unknown response curves 'nope'"):
        parse_band_selector("camera:nope")
    with pytest.raises(ConfigError, match="needs indices"):
        BandSelector("indices")
    with pytest.raises(ConfigError, match="unknown key"):
        BandSelector.from_dict({"method": "camera", "gamma": 2.2})
    with pytest.raises(ConfigError, match="does not apply"):
        BandSelector("nearest", camera="cie1931")


def test_cave_rendering_matches_the_real_srgb_image(shared_data):
    folder = shared_data / "hsi" / "cave_ms" / "balloons_ms"
    cube = read_band_images(
        sorted(folder.glob("balloons_ms_[0-9][0-9].png")), wavelengths="400:700:31", scale=65535
    )
    photo = read_photo(folder / "balloons_RGB.bmp")
    selector = BandSelector()
    rendered = selector.hsi_to_rgb(cube).reshape(-1, 3)
    real = selector.photo_to_input(photo).reshape(-1, 3)
    for channel in range(3):
        assert np.corrcoef(rendered[:, channel], real[:, channel])[0, 1] >= 0.9
