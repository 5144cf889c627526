"""Response curves, illuminants and reflectance libraries from colour-science (and Jiang 2013)."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.data.spectra import (
    illuminant,
    library_spectra,
    list_response_curves,
    read_jiang2013,
    response_curves,
)
from msfdiff.errors import DataFormatError


def test_cie1931_and_cameras_without_shared_data():
    wl, xyz = response_curves("CIE1931")
    assert xyz.shape == (wl.size, 3)
    assert wl[np.argmax(xyz[:, 1])] == pytest.approx(555, abs=2)  # photopic peak
    for name in ("Nikon 5100 (NPL)", "Sigma SDMerill (NPL)", "Canon EOS 5D Mark II (rawtoaces)"):
        assert name in list_response_curves()
        wl, rgb = response_curves(name)
        peaks = wl[np.argmax(rgb, axis=0)]
        assert peaks[0] > peaks[1] > peaks[2]  # R peaks at longer wavelengths than G, then B
    with pytest.raises(DataFormatError, match="unknown response curves 'nope'"):
        response_curves("nope")


def test_illuminant_d65():
    wl, power = illuminant("D65")
    assert power[wl == 560][0] == pytest.approx(100.0, abs=0.5)  # normalised at 560 nm
    with pytest.raises(DataFormatError, match="unknown illuminant"):
        illuminant("D99")


def test_jiang_parser(tmp_path):
    rows = "\n".join("\t".join(str(v) for v in np.linspace(0, 1, 33) * k) for k in (1, 2, 3))
    path = tmp_path / "cams.txt"
    path.write_text(f"header\n400nm-720nm\n---------\n\nCam A\n{rows}\nCam B\n{rows}\n")
    cameras = read_jiang2013(path)
    assert list(cameras) == ["Cam A", "Cam B"]
    assert cameras["Cam A"].shape == (33, 3) and cameras["Cam A"][-1].tolist() == [1, 2, 3]
    bad = tmp_path / "bad.txt"
    bad.write_text("---------\nCam C\n1 2 3\n")
    with pytest.raises(DataFormatError, match=r"bad\.txt: camera 'Cam C'"):
        read_jiang2013(bad)


def test_jiang_shared_file(shared_data):
    cameras = read_jiang2013(shared_data / "spectra" / "camspec_jiang2013_28cameras.txt")
    assert len(cameras) == 28
    wl, rgb = response_curves("jiang2013:nikon d5100")
    assert wl[0] == 400 and wl[-1] == 720 and rgb.shape == (33, 3)


def test_library_spectra():
    grid = np.linspace(400, 700, 31)
    names, spectra = library_spectra(grid, sets=["colorchecker-ohta", "pmc"])
    assert spectra.shape == (24 + 30, 31) and len(names) == 54
    assert names[0] == "colorchecker-ohta:dark skin"
    white = spectra[names.index("colorchecker-ohta:white 9.5 (.05 D)")]
    assert np.all(white[5:] > 0.85)  # white from 450 nm on (it dips in the violet)
    assert 0.0 <= spectra.min() and spectra.max() <= 1.0
    with pytest.raises(DataFormatError, match="'pmc' covers 400-700 nm, not 400-900 nm"):
        library_spectra(np.linspace(400, 900, 11), sets=["pmc"])
    names_all, _ = library_spectra(np.linspace(390, 760, 20))
    assert not any(n.startswith("pmc:") for n in names_all)  # skipped: not covering 390-760
