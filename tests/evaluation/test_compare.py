"""evaluate and write_evaluation: which metrics apply, the JSON contract, and the docs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from msfdiff.errors import OutputExistsError
from msfdiff.evaluation import evaluate, write_evaluation
from msfdiff.evaluation.families import SRGB_DOMINANT_NM
from msfdiff.evaluation.metrics import DEFINITIONS, PLOT_NAMES, EvaluationOptions
from msfdiff.evaluation.output import check_outputs
from msfdiff.evaluation.sets import SampleSet

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
    real = SampleSet(_cubes(rng), "hsi", WL, "real")
    synthetic = SampleSet(_cubes(rng, gain=1.2), "hsi", WL, "synthetic")
    abund_r = [rng.dirichlet(np.ones(3), size=(32, 32)) for _ in range(3)]
    abund_s = [a[::-1] for a in abund_r]  # same values, same spectra: distances 0
    out = tmp_path / "r.json"
    result = evaluate(
        real,
        synthetic,
        options=EvaluationOptions(generative=False, niqe_patch_size=16),
        real_abundances=abund_r,
        synthetic_abundances=abund_s,
    )
    report = write_evaluation(result, out, tmp_path / "plots")
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
    quick = evaluate(real, synthetic, options=EvaluationOptions(generative=False, quality=False))
    with pytest.raises(OutputExistsError):
        write_evaluation(quick, out)


def test_identical_sets_score_zero_distance(rng):
    cubes = _cubes(rng)
    same = SampleSet(cubes, "hsi", WL)
    report = evaluate(
        same, same, options=EvaluationOptions(generative=False, quality=False)
    ).summary
    assert report["metrics"]["spectral_fd"]["value"] == pytest.approx(0, abs=1e-12)
    assert report["metrics"]["spectral_angle_w1"]["value"] == pytest.approx(0, abs=1e-9)


def test_wavelengths_are_shared_between_sets(rng):
    real = SampleSet(_cubes(rng), "hsi", None)
    synthetic = SampleSet(_cubes(rng), "hsi", WL)
    report = evaluate(real, synthetic, options=EvaluationOptions(generative=False, quality=False))
    report = report.summary
    assert report["sets"]["real"]["wavelengths_nm"] == WL.tolist()
    assert any("real set stores no wavelengths" in note for note in report["notes"])


def test_photos_versus_hsis_skip_spectral_distances(rng):
    photos = SampleSet([rng.random((32, 32, 3)).astype(np.float32) for _ in range(2)], "rgb")
    cubes = SampleSet(_cubes(rng, n=2), "hsi", WL)
    report = evaluate(photos, cubes, options=EvaluationOptions(generative=False)).summary
    assert "spectral_fd" not in report["metrics"]
    assert report["per_band"]["real"]["positions"] == list(SRGB_DOMINANT_NM)
    assert len(report["per_band"]["synthetic"]["piqe"]["mean"]) == WL.size


def test_outputs_are_checked_before_computing_and_force_overwrites(tmp_path, rng):
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / f"{PLOT_NAMES[0]}.png").write_bytes(b"old")
    with pytest.raises(OutputExistsError, match=PLOT_NAMES[0]):
        check_outputs(tmp_path / "m.json", plots)
    check_outputs(tmp_path / "m.json", plots, force=True)
    sets = SampleSet(_cubes(rng, n=2), "hsi", WL)
    result = evaluate(sets, sets, options=EvaluationOptions(generative=False, quality=False))
    written = write_evaluation(result, tmp_path / "m.json", plots, force=True)
    assert set(written["plots"]) == set(result.figures) == {"spectra", "histograms"}
    assert "plots" not in result.summary  # writing leaves the evaluation as it was
    assert json.loads((tmp_path / "m.json").read_text())["metrics"] == result.metrics


def test_progress_counts_every_scored_image_once(rng):
    calls = []
    lines = []
    real = SampleSet(_cubes(rng, n=3), "hsi", WL)
    synthetic = SampleSet(_cubes(rng, n=2), "hsi", WL)
    options = EvaluationOptions(generative=False, niqe_patch_size=16, max_quality_images=2)
    evaluate(
        real,
        synthetic,
        options=options,
        progress=lambda done, total, status="": calls.append((done, total, status)),
        log=lines.append,
    )
    assert [c[:2] for c in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]  # 2 real + 2 synthetic
    assert [c[2] for c in calls] == ["band quality, real"] * 2 + ["band quality, synthetic"] * 2
    assert lines == ["per-band quality of 2 + 2 images"]


def test_every_definition_is_documented():
    text = DOCS.read_text()
    for key in DEFINITIONS:
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
    cubes = SampleSet(_cubes(rng, n=4, size=24), "hsi", WL)
    options = EvaluationOptions(quality=False)
    report = evaluate(cubes, cubes, options=options, inception=network).summary
    metrics = report["metrics"]
    assert metrics["fid"]["value"] == pytest.approx(0, abs=1e-6)
    assert metrics["precision"]["value"] == 1.0 and metrics["recall"]["value"] == 1.0
    assert metrics["precision"]["better"] == "higher"
    assert report["feature_network"]["sha1"] == network.weights_sha1
