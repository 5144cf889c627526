"""read_hsi on every format, written with the formats' own libraries, plus every error path."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
import tifffile
from spectral.io import envi

from msfdiff.data.readers import expand_hsi_paths, read_hsi, read_hsi_many
from msfdiff.errors import DataFormatError, DataNotFoundError

WL = np.linspace(400.0, 700.0, 7)


@pytest.fixture
def cube(rng) -> np.ndarray:
    """A (height=5, width=6, bands=7) float32 cube with distinct sizes on every axis."""
    return rng.random((5, 6, 7), dtype=np.float32)


def test_envi_memmap_units_and_scale_factor(tmp_path, cube):
    counts = np.round(cube * 10000).astype(np.uint16)
    envi.save_image(
        str(tmp_path / "scene.hdr"),
        counts,
        interleave="bsq",
        metadata={
            "wavelength": (WL / 1000).tolist(),
            "wavelength units": "Micrometers",
            "reflectance scale factor": 10000,
        },
    )
    for name in ("scene.hdr", "scene.img"):
        result = read_hsi(tmp_path / name)
        np.testing.assert_allclose(result.data, counts / 10000, rtol=1e-6)
        np.testing.assert_allclose(result.wavelengths_nm, WL)
    # An explicit scale wins over the header's.
    np.testing.assert_allclose(read_hsi(tmp_path / "scene.hdr", scale=1).data, counts)


def test_envi_float_stays_memory_mapped(tmp_path, cube):
    envi.save_image(str(tmp_path / "f.hdr"), cube, metadata={"wavelength": WL.tolist()})
    result = read_hsi(tmp_path / "f.hdr")
    assert isinstance(result.data, np.memmap)
    np.testing.assert_array_equal(result.data, cube)


def test_envi_truncated_and_missing_data(tmp_path, cube):
    envi.save_image(str(tmp_path / "t.hdr"), cube)
    data = tmp_path / "t.img"
    data.write_bytes(data.read_bytes()[:50])
    with pytest.raises(DataFormatError, match=r"t\.img: truncated"):
        read_hsi(tmp_path / "t.hdr")
    data.unlink()
    with pytest.raises(DataNotFoundError, match=r"t\.hdr"):
        read_hsi(tmp_path / "t.hdr")


def test_mat_v5_auto_key_and_wavelength_vector(tmp_path, cube):
    path = tmp_path / "scene.mat"
    scipy.io.savemat(
        path,
        {"Y": cube, "RGB": cube[..., :3], "wavlength": WL[:, None] / 1000, "map": cube[..., 0]},
    )
    result = read_hsi(path)
    assert result.meta["key"] == "Y"
    np.testing.assert_array_equal(result.data, cube)
    np.testing.assert_allclose(result.wavelengths_nm, WL)  # µm guessed from magnitude


def test_mat_v73_transposed_axes(tmp_path, cube):
    """MATLAB v7.3 stores (H, W, B) as HDF5 (B, W, H); h5py sees the reversed order."""
    path = tmp_path / "v73.mat"
    with h5py.File(path, "w", userblock_size=512) as handle:
        handle["cube"] = cube.T
        handle["wavelength"] = WL[None, :].T
    with open(path, "r+b") as raw:
        raw.write(b"MATLAB 7.3 MAT-file")
    result = read_hsi(path)
    assert result.meta["format"] == "mat-v7.3"
    np.testing.assert_array_equal(result.data, cube)
    np.testing.assert_allclose(result.wavelengths_nm, WL)


@pytest.mark.parametrize("planar", [True, False])
def test_tiff_bands_first_or_last(tmp_path, cube, planar):
    path = tmp_path / "scene.tif"
    stored = np.moveaxis(cube, 2, 0) if planar else cube
    tifffile.imwrite(
        path,
        stored,
        photometric="minisblack",
        planarconfig="separate" if planar else "contig",
        metadata={"wavelengths_nm": WL.tolist()},
    )
    result = read_hsi(path)
    np.testing.assert_array_equal(result.data, cube)
    np.testing.assert_allclose(result.wavelengths_nm, WL)


def test_npy_npz_and_sidecar(tmp_path, cube):
    np.save(tmp_path / "a.npy", np.moveaxis(cube, 2, 0))
    (tmp_path / "a.wavelengths.csv").write_text("wavelength (nm)\n" + "\n".join(map(str, WL)))
    result = read_hsi(tmp_path / "a.npy", layout="bhw")
    np.testing.assert_array_equal(result.data, cube)
    np.testing.assert_allclose(result.wavelengths_nm, WL)
    np.savez(tmp_path / "b.npz", hsi=cube, other=cube[..., :2])
    np.testing.assert_array_equal(read_hsi(tmp_path / "b.npz").data, cube)


def test_layout_inferred_from_wavelength_count(tmp_path, rng):
    """(7, 5, 6): nothing repeats, but 7 wavelengths name axis 0 as the bands."""
    bands_first = rng.random((7, 5, 6), dtype=np.float32)
    np.save(tmp_path / "c.npy", bands_first)
    result = read_hsi(tmp_path / "c.npy", wavelengths=WL)
    assert result.shape == (5, 6, 7)
    np.testing.assert_array_equal(result.data[2, 3], bands_first[:, 2, 3])


def test_layout_inferred_from_repeated_spatial_size(tmp_path, rng):
    stack = rng.random((9, 4, 4), dtype=np.float32)
    np.save(tmp_path / "d.npy", stack)
    assert read_hsi(tmp_path / "d.npy").shape == (4, 4, 9)


def test_bands_by_pixels_column_major(tmp_path, rng):
    height, width, bands = 3, 4, 6
    matrix = rng.random((bands, height * width))
    scipy.io.savemat(tmp_path / "u.mat", {"V": matrix})
    result = read_hsi(tmp_path / "u.mat", shape=(height, width))
    for row, col in [(0, 0), (2, 1), (1, 3)]:
        np.testing.assert_allclose(result.data[row, col], matrix[:, col * height + row], rtol=1e-6)
    with pytest.raises(DataFormatError, match=r"u\.mat: 12 pixels is not a square.*--shape"):
        read_hsi(tmp_path / "u.mat")


def test_samson_from_shared_data(shared_data):
    path = shared_data / "hsi" / "samson" / "samson_1.mat"
    result = read_hsi(path, wavelengths=shared_data / "hsi" / "wavelengths" / "samson.csv")
    assert result.shape == (95, 95, 156)
    assert result.wavelengths_nm[0] == pytest.approx(400.938721)
    matrix = scipy.io.loadmat(path)["V"]
    for row, col in [(0, 0), (10, 20), (94, 3)]:
        np.testing.assert_allclose(result.data[row, col], matrix[:, col * 95 + row], rtol=1e-6)


def test_key_errors_list_candidates(tmp_path, cube):
    path = tmp_path / "two.mat"
    scipy.io.savemat(path, {"A": cube, "B": cube + 1})
    with pytest.raises(DataFormatError, match=r"two\.mat: several arrays.*A \(5, 6, 7\).*--key"):
        read_hsi(path)
    with pytest.raises(DataFormatError, match=r"two\.mat: no array named 'C'; keys: A, B"):
        read_hsi(path, key="C")
    np.testing.assert_array_equal(read_hsi(path, key="B").data, cube + 1)


@pytest.mark.parametrize("suffix", [".mat", ".npy", ".tif", ".npz"])
def test_truncated_files(tmp_path, cube, suffix):
    path = tmp_path / f"cut{suffix}"
    writers = {
        ".mat": lambda: scipy.io.savemat(path, {"Y": cube}),
        ".npy": lambda: np.save(path, cube),
        ".tif": lambda: tifffile.imwrite(path, cube, photometric="minisblack"),
        ".npz": lambda: np.savez(path, Y=cube),
    }
    writers[suffix]()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataFormatError, match=rf"cut\{suffix}: "):
        read_hsi(path)


def test_nan_integer_ndim_count_and_missing(tmp_path, cube):
    bad = cube.copy()
    bad[1, 2, 3] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(DataFormatError, match=r"nan\.npy: contains NaN"):
        read_hsi(tmp_path / "nan.npy")
    np.save(tmp_path / "int.npy", (cube * 255).astype(np.uint8))
    with pytest.raises(DataFormatError, match=r"int\.npy: uint8 data needs a scale"):
        read_hsi(tmp_path / "int.npy")
    np.testing.assert_allclose(
        read_hsi(tmp_path / "int.npy", scale=255).data, (cube * 255).astype(np.uint8) / 255
    )
    np.save(tmp_path / "flat.npy", cube[0, 0])
    with pytest.raises(DataFormatError, match=r"flat\.npy: expected a 3-D cube"):
        read_hsi(tmp_path / "flat.npy")
    np.save(tmp_path / "ok.npy", cube)
    with pytest.raises(DataFormatError, match=r"ok\.npy: 4 wavelengths \(given\) for 7 bands"):
        read_hsi(tmp_path / "ok.npy", wavelengths="400:700:4")
    with pytest.raises(DataNotFoundError, match=r"absent\.mat: file not found"):
        read_hsi(tmp_path / "absent.mat")
    with pytest.raises(DataFormatError, match=r"x\.csv: unknown hyperspectral format"):
        (tmp_path / "x.csv").write_text("1\n")
        read_hsi(tmp_path / "x.csv")


def test_read_many_checks_bands(tmp_path, cube):
    np.save(tmp_path / "a.npy", cube)
    np.save(tmp_path / "b.npy", cube[..., :5])
    np.save(tmp_path / "c.npy", cube)
    cubes = read_hsi_many([tmp_path / "a.npy", tmp_path / "c.npy"], wavelengths=WL)
    assert [c.n_bands for c in cubes] == [7, 7]
    with pytest.raises(DataFormatError, match=r"b\.npy: 5 bands, but .*a\.npy has 7"):
        read_hsi_many([tmp_path / "a.npy", tmp_path / "b.npy"])
    (tmp_path / "c.wavelengths.csv").write_text("\n".join(str(w + 1) for w in WL))
    (tmp_path / "a.wavelengths.csv").write_text("\n".join(str(w) for w in WL))
    with pytest.raises(DataFormatError, match=r"c\.npy: wavelengths differ from those of .*a\.npy"):
        read_hsi_many([tmp_path / "a.npy", tmp_path / "c.npy"])


def test_compressed_tiff_is_read_whole(tmp_path, cube):
    tifffile.imwrite(
        tmp_path / "z.tif",
        cube,
        photometric="minisblack",
        planarconfig="contig",
        compression="zlib",
    )
    result = read_hsi(tmp_path / "z.tif")
    assert not isinstance(result.data, np.memmap)
    np.testing.assert_array_equal(result.data, cube)


def test_explicit_layouts(tmp_path, cube):
    np.save(tmp_path / "w.npy", cube.transpose(1, 0, 2))
    np.testing.assert_array_equal(read_hsi(tmp_path / "w.npy", layout="whb").data, cube)
    with pytest.raises(DataFormatError, match=r"w\.npy: layout bands-by-pixels needs a 2-D"):
        read_hsi(tmp_path / "w.npy", layout="bands-by-pixels")
    with pytest.raises(DataFormatError, match=r"w\.npy: unknown layout 'xyz'"):
        read_hsi(tmp_path / "w.npy", layout="xyz")
    with pytest.raises(DataFormatError, match=r"w\.npy: --key applies to \.mat and \.npz"):
        read_hsi(tmp_path / "w.npy", key="Y")


def test_band_images(tmp_path, rng):
    from PIL import Image

    from msfdiff.data.readers import read_band_images

    bands = rng.integers(0, 65536, (3, 4, 5), dtype=np.uint16)
    paths = []
    for i, band in enumerate(bands):
        paths.append(tmp_path / f"b_{i:02d}.png")
        Image.fromarray(band).save(paths[-1])
    result = read_band_images(paths, wavelengths="500:600:3", scale=65535)
    np.testing.assert_allclose(result.data, np.moveaxis(bands, 0, 2) / 65535, rtol=1e-6)
    Image.fromarray(np.zeros((4, 5, 4), np.uint8), "RGBA").save(tmp_path / "rgba.png")
    with pytest.raises(DataFormatError, match=r"rgba\.png: expected a single-band image"):
        read_band_images([paths[0], tmp_path / "rgba.png"], scale=65535)


def test_folders_expand_to_their_hsi_files_only(tmp_path):
    scene = tmp_path / "scene"
    (scene / "part").mkdir(parents=True)
    (scene / ".staging").mkdir()  # a writer's temporary folder
    names = ["a.npy", "part/b.mat", "part/c.hdr", "part/c.img", ".a.npy.tmp.npy", ".staging/d.npy"]
    names += ["sample_0000_abundance.npy", "notes.txt"]
    for name in names:
        (scene / name).write_bytes(b"")  # listing only: the suffix decides, nothing is read
    (tmp_path / "empty").mkdir()
    lone = tmp_path / "lone.npy"
    found = expand_hsi_paths([scene, lone])
    assert found == [scene / "a.npy", scene / "part/b.mat", scene / "part/c.hdr", lone]
    with pytest.raises(DataNotFoundError, match="holds no HSI files"):
        expand_hsi_paths([tmp_path / "empty"])
