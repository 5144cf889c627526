"""Photo discovery and reading: true R, G, B order, bit depths, grey and corrupt files."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image

from msfdiff.data.rgb import list_photos, read_photo
from msfdiff.errors import DataFormatError, DataNotFoundError


def _png16(path, rgb: np.ndarray) -> None:
    """A 16-bit colour PNG (Pillow cannot write one), filter type 0 on every row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    height, width, _ = rgb.shape
    rows = b"".join(b"\x00" + rgb[r].astype(">u2").tobytes() for r in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_list_photos_labels_and_empty(tmp_path):
    (tmp_path / "Farmland" / "sub").mkdir(parents=True)
    pixel = np.zeros((2, 2, 3), np.uint8)
    for rel in ("loose.jpg", "Farmland/a.PNG", "Farmland/sub/b.tif"):
        Image.fromarray(pixel).save(tmp_path / rel, format="PNG")
    (tmp_path / "notes.txt").write_text("not a photo")
    photos = list_photos(tmp_path)
    assert [(p.path.name, p.label) for p in photos] == [
        ("a.PNG", "Farmland"), ("b.tif", "Farmland"), ("loose.jpg", None),
    ]  # fmt: skip
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match=r"empty: no photos"):
        list_photos(tmp_path / "empty")
    with pytest.raises(DataNotFoundError, match=r"nowhere: folder not found"):
        list_photos(tmp_path / "nowhere")


def test_rgb_order_alpha_and_range(tmp_path):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 255, 10  # pure red, nearly transparent
    rgba[0, 0, 2] = 51
    Image.fromarray(rgba, "RGBA").save(tmp_path / "red.png")
    photo = read_photo(tmp_path / "red.png")
    assert photo.shape == (2, 3, 3) and photo.dtype == np.float32
    np.testing.assert_allclose(photo[1, 1], [1.0, 0.0, 0.0])
    assert photo[0, 0, 2] == pytest.approx(0.2)


def test_sixteen_bit_png_and_tiff(tmp_path, rng):
    rgb = rng.integers(0, 65536, (4, 5, 3), dtype=np.uint16)
    _png16(tmp_path / "deep.png", rgb)
    np.testing.assert_allclose(read_photo(tmp_path / "deep.png"), rgb / 65535, atol=1 / 255)
    tifffile.imwrite(tmp_path / "deep.tif", rgb, photometric="rgb")
    np.testing.assert_allclose(read_photo(tmp_path / "deep.tif"), rgb / 65535, rtol=1e-6)


def test_grey_and_corrupt(tmp_path):
    Image.fromarray(np.full((4, 4), 90, np.uint8)).save(tmp_path / "grey.png")
    with pytest.raises(DataFormatError, match=r"grey\.png: is grey-scale, need a colour photo"):
        read_photo(tmp_path / "grey.png")
    Image.fromarray(np.full((4, 4, 3), 90, np.uint8)).save(tmp_path / "grey_rgb.jpg")
    with pytest.raises(DataFormatError, match=r"grey_rgb\.jpg: is grey-scale"):
        read_photo(tmp_path / "grey_rgb.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DataFormatError, match=r"broken\.jpg: not a readable image"):
        read_photo(tmp_path / "broken.jpg")
    with pytest.raises(DataNotFoundError, match=r"gone\.png"):
        read_photo(tmp_path / "gone.png")


def test_size_center_crop_and_resize(tmp_path):
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :6] = (255, 0, 0)  # red band on the left, cropped away by a centre crop
    image[:, 6:34] = (0, 255, 0)
    Image.fromarray(image).save(tmp_path / "wide.png")
    square = read_photo(tmp_path / "wide.png", size=10)
    assert square.shape == (10, 10, 3)
    assert square[:, :, 0].max() < 0.05 and square[5, 5, 1] > 0.95
    stretched = read_photo(tmp_path / "wide.png", size=(10, 20), crop="resize")
    assert stretched.shape == (10, 20, 3) and stretched[5, 1, 0] > 0.95
