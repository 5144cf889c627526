"""Unmixing on real scenes from the shared data (skipped, with the reason, where it is absent)."""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.data import read_hsi
from msfdiff.unmixing import SceneUnmixer
from msfdiff.unmixing.reporting import endmember_agreement, read_endmembers

pytestmark = pytest.mark.shared_data


def test_samson_loads_with_wavelengths_and_unmixes(shared_data):
    samson = shared_data / "hsi" / "samson"
    cube = read_hsi(
        samson / "samson_1.mat", wavelengths=shared_data / "hsi" / "wavelengths" / "samson.csv"
    )
    assert cube.shape == (95, 95, 156)
    assert cube.wavelengths_nm[0] == pytest.approx(400.9, abs=0.1) and cube.wavelengths_nm[
        -1
    ] == pytest.approx(899.1, abs=0.1)
    reference = read_endmembers(samson / "end3.mat", 156)  # rock, tree, water
    assert reference.shape == (3, 156)
    unmixer = SceneUnmixer(3, preset="cpu", epochs=60, random_state=0).fit(cube)
    agreement = endmember_agreement(unmixer, reference)
    # From RGB alone, rock and tree are recovered within a few degrees; dark water is not
    # (measured 1.4°, 4.6°, 59.6°; see the README). Random spectra here sit ~40-60° apart.
    assert len(agreement["sad_deg"]) == 3
    assert sorted(agreement["sad_deg"])[1] < 10, agreement
    abundances = unmixer.transform(cube)
    np.testing.assert_allclose(abundances.sum(-1), 1, atol=1e-5)
