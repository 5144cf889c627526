"""The demo's unmixer on the embedded scene: no collapse, whatever the seed or the start.

The demo's unmixing once lost four of its five endmembers on one machine and not on another:
which endmembers survived was decided by small numerical differences early in training.
Re-seeding makes that outcome irrelevant; this test runs the demo's exact settings for five
seeds and both kinds of start (geometric, and jittered copies of the mean spectrum, the one
most prone to ties).
"""

from __future__ import annotations

import numpy as np
import pytest

from msfdiff.data import read_hsi
from msfdiff.data.embedded import build_embedded_dataset
from msfdiff.evaluation.reconstruction import reconstruction_metrics
from msfdiff.pipeline.demo import DEMO_UNMIXING
from msfdiff.unmixing import SceneUnmixer


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embedded")
    build_embedded_dataset(folder)
    cubes = [read_hsi(p) for p in sorted((folder / "hsi").glob("*.mat"))]
    return cubes[:-1], cubes[-1]  # as the demo: four cubes train, rocket is held out


@pytest.mark.slow
@pytest.mark.parametrize("decoder_init", ["nmf", "mean"])
@pytest.mark.parametrize("seed", range(5))
def test_demo_unmixing_uses_every_endmember(embedded, seed, decoder_init):
    train, held_out = embedded
    overrides = {**DEMO_UNMIXING["overrides"], "decoder_init": decoder_init}
    # fit raises DegenerateModelError if an endmember is unused at the end
    unmixer = SceneUnmixer(preset=DEMO_UNMIXING["preset"], overrides=overrides, random_state=seed)
    unmixer.fit(train)
    assert unmixer.usage_.min() >= 0.01, unmixer.usage_
    assert unmixer.endmembers_.min() >= -0.01
    held = reconstruction_metrics(unmixer.reconstruct(held_out), np.asarray(held_out.data))
    # the demo itself (seed 0, default start) must reach 28 dB on the held-out photo; every
    # other seed and start must at least be in that league (the linear map: 29.55 dB)
    assert held["psnr"] >= (28 if (seed, decoder_init) == (0, "nmf") else 25), held
