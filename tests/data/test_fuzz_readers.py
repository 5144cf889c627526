"""Untrusted files: truncated and garbled HSI and photo files give one-line errors, never a
traceback of another kind or a hang (hypothesis mutates valid files written by the formats'
own libraries)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import tifffile
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from spectral.io import envi

from msfdiff.data.readers import read_hsi
from msfdiff.data.rgb import read_photo
from msfdiff.errors import MsfdiffError

CUBE = np.random.default_rng(0).random((6, 5, 4), dtype=np.float32)
FUZZ = settings(
    max_examples=40,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _write(kind: str, folder: Path) -> Path:
    """A valid file of ``kind``; returns the path read_hsi (or read_photo) is given."""
    if kind == "envi":
        envi.save_image(str(folder / "c.hdr"), CUBE, metadata={"wavelength": [400, 500, 600, 700]})
        return folder / "c.hdr"
    if kind == "mat":
        scipy.io.savemat(folder / "c.mat", {"cube": CUBE})
        return folder / "c.mat"
    if kind == "mat73":
        with h5py.File(folder / "c73.mat", "w") as f:
            f["cube"] = CUBE.transpose(2, 1, 0)
        return folder / "c73.mat"
    if kind == "tif":
        tifffile.imwrite(folder / "c.tif", CUBE)
        return folder / "c.tif"
    if kind == "npy":
        np.save(folder / "c.npy", CUBE)
        return folder / "c.npy"
    Image.fromarray((CUBE[..., :3] * 255).astype(np.uint8)).save(folder / "p.png")
    return folder / "p.png"


def _read(kind: str, path: Path) -> None:
    if kind == "png":
        read_photo(path)
    else:
        read_hsi(path)


def _mutate(data: bytes, cut: float, flips: list[tuple[float, int]]) -> bytes:
    out = bytearray(data[: max(1, int(len(data) * cut))])
    for where, value in flips:
        out[int(where * (len(out) - 1))] = value
    return bytes(out)


@pytest.mark.parametrize("kind", ["envi", "mat", "mat73", "tif", "npy", "png"])
@FUZZ
@given(
    cut=st.floats(0.0, 1.0),
    flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255)), max_size=8),
)
@example(cut=1.0, flips=[(0.28125, 1)])  # once broke HDF5 link iteration (h5py RuntimeError)
def test_damaged_files_fail_with_one_line_errors(kind, cut, flips, tmp_path_factory):
    folder = tmp_path_factory.mktemp(kind)
    path = _write(kind, folder)
    # the ENVI header is the part users edit by hand; its binary goes through the same reader
    target = path if kind != "envi" else path.with_suffix(".img")
    target.write_bytes(_mutate(target.read_bytes(), cut, flips))
    try:
        _read(kind, path)
    except MsfdiffError as exc:
        assert "\n" not in str(exc) and str(folder) in str(exc)


@FUZZ
@given(text=st.text(max_size=300))
def test_garbled_envi_headers_fail_with_one_line_errors(text, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hdr")
    path = _write("envi", folder)
    path.write_text("ENVI\n" + text)
    try:
        read_hsi(path)
    except MsfdiffError as exc:
        assert "\n" not in str(exc)
