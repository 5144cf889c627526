"""evaluate_sets: which metrics apply, the JSON contract, rendering, and the docs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from msfdiff.data.bands import parse_band_selector
from msfdiff.errors import DataFormatError, OutputExistsError
from msfdiff.evaluation import report as rp

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
WL = np.linspace(400, 700, 16)


def _cubes(rng, n=4, size=32, gain=1.0):
    wl = np.linspace(0, 1, WL.size)
    ends = np.stack([0.1 + 0.05 * np.cos(5 * wl + p) for p in (0.0, 2.0)])
    out = []
    for _ in range(n):
        ab = rng.dirichlet(np.ones(2), size=(size, size))
        out.append(
            (gain * ab @ ends + rng.normal(0, 0.003, (size, size, WL.size))).astype(np.float32)
        )
    return out


def test_hsi_report_without_network(tmp_path, rng):
    real = rp.SampleSet(_cubes(rng), "hsi", WL, "real")
    synthetic = rp.SampleSet(_cubes(rng, gain=1.2), "hsi", WL, "synthetic")
    abund_r = [rng.dirichlet(np.ones(3), size=(32, 32)) for _ in range(3)]
    abund_s = [a[::-1] for a in abund_r]  # same values, same spectra: distances 0
    out = tmp_path / "r.json"
    report = rp.evaluate_sets(
        real,
        synthetic,
        json_path=out,
        plots_dir=tmp_path / "plots",
        generative=False,
        real_abundances=abund_r,
        synthetic_abundances=abund_s,
        niqe_patch_size=16,
    )
    written = json.loads(out.read_text())
    assert written["metrics"] == json.loads(json.dumps(report["metrics"]))
    metrics = written["metrics"]
    assert {"spectral_fd", "spectral_angle_w1", "piqe_real", "piqe_synthetic"} <= set(metrics)
    assert metrics["spectral_fd"]["value"] > 0
    assert metrics["abundance_hist_w1"]["value"] == pytest.approx(0, abs=1e-12)
    assert metrics["abundance_psd_log_mad"]["value"] == pytest.approx(
        0, abs=1e-9
    )  # |FFT| of a flip
    coherence = metrics["abundance_edge_coherence_gap"]
    assert 0 < coherence["real"] < 1
    assert coherence["value"] == pytest.approx(0, abs=1e-9)  # a flip keeps every edge
    spread = metrics["abundance_composition_spread_gap"]
    assert spread["real"] > 0 and spread["value"] == pytest.approx(0, abs=1e-12)  # and means
    for entry in metrics.values():
        assert entry["better"] in ("lower", "higher")
        assert entry["definition"] in written["definitions"]
    assert len(written["per_band"]["real"]["piqe"]["mean"]) == WL.size
    for name in ("band_quality", "spectra", "histograms", "abundance_power_spectra"):
        assert Path(written["plots"][name]).read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(OutputExistsError):
        rp.evaluate_sets(real, synthetic, json_path=out, generative=False, quality=False)


def test_identical_sets_score_zero_distance(rng):
    cubes = _cubes(rng)
    same = rp.SampleSet(cubes, "hsi", WL)
    report = rp.evaluate_sets(same, same, generative=False, quality=False)
    assert report["metrics"]["spectral_fd"]["value"] == pytest.approx(0, abs=1e-12)
    assert report["metrics"]["spectral_angle_w1"]["value"] == pytest.approx(0, abs=1e-9)


def test_wavelengths_are_shared_between_sets(rng):
    real = rp.SampleSet(_cubes(rng), "hsi", None)
    synthetic = rp.SampleSet(_cubes(rng), "hsi", WL)
    report = rp.evaluate_sets(real, synthetic, generative=False, quality=False)
    assert report["sets"]["real"]["wavelengths_nm"] == WL.tolist()
    assert any("real set stores no wavelengths" in note for note in report["notes"])


def test_photos_versus_hsis_skip_spectral_distances(rng):
    photos = rp.SampleSet([rng.random((32, 32, 3)).astype(np.float32) for _ in range(2)], "rgb")
    cubes = rp.SampleSet(_cubes(rng, n=2), "hsi", WL)
    report = rp.evaluate_sets(photos, cubes, generative=False)
    assert "spectral_fd" not in report["metrics"]
    assert report["per_band"]["real"]["positions"] == list(rp.SRGB_DOMINANT_NM)
    assert len(report["per_band"]["synthetic"]["piqe"]["mean"]) == WL.size


def test_render_rgb_picks_nearest_bands_and_stretches(rng):
    cube = np.zeros((10, 10, WL.size), dtype=np.float32)
    red, green, blue = (int(np.argmin(np.abs(WL - t))) for t in (640, 550, 460))
    cube[..., red] = np.linspace(0, 0.2, 100).reshape(10, 10)
    cube[..., green] = 0.05
    image = rp.render_rgb(cube, WL, selector=parse_band_selector("nearest:640,550,460"))
    lo, hi = np.percentile(cube[..., [red, green, blue]], rp.STRETCH_PERCENTILES)
    np.testing.assert_allclose(
        image[..., 0], np.clip((cube[..., red] - lo) / (hi - lo), 0, 1), atol=1e-6
    )
    assert image[..., 2].max() == 0.0
    srgb = rp.render_rgb(cube, WL, selector=parse_band_selector("nearest:640,550,460+srgb"))
    assert srgb[..., 1].mean() > image[..., 1].mean()  # the sRGB curve lifts mid-tones


def test_sample_set_checks(rng):
    with pytest.raises(DataFormatError, match="3 channels"):
        rp.SampleSet([np.zeros((4, 4, 5))], "rgb")
    with pytest.raises(DataFormatError, match="no images"):
        rp.SampleSet([], "hsi")
    with pytest.raises(DataFormatError, match="wavelengths for"):
        rp.SampleSet([np.zeros((4, 4, 5))], "hsi", np.arange(4.0))


def test_every_definition_is_documented():
    text = DOCS.read_text()
    for key in rp.DEFINITIONS:
        assert f"`{key}`" in text, f"docs/metrics.md does not define `{key}`"


@pytest.fixture(scope="module")
def network():
    from msfdiff.errors import DataNotFoundError
    from msfdiff.evaluation.inception import InceptionFeatures

    try:
        return InceptionFeatures()
    except DataNotFoundError as err:
        pytest.skip(str(err))


def test_generative_metrics_for_identical_sets(network, rng):
    cubes = rp.SampleSet(_cubes(rng, n=4, size=24), "hsi", WL)
    report = rp.evaluate_sets(cubes, cubes, inception=network, quality=False)
    metrics = report["metrics"]
    assert metrics["fid"]["value"] == pytest.approx(0, abs=1e-6)
    assert metrics["precision"]["value"] == 1.0 and metrics["recall"]["value"] == 1.0
    assert metrics["precision"]["better"] == "higher"
    assert report["feature_network"]["sha1"] == network.weights_sha1
