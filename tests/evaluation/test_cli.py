"""``msfdiff evaluate`` end to end on tiny files (network-free, so fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from msfdiff.cli.evaluate import register
from msfdiff.data.abundances import make_synthetic_abundances, write_abundance_dataset
from msfdiff.errors import OutputExistsError
from msfdiff.layout import SAMPLING_MANIFEST, sample_abundance_path


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")  # a second command keeps `evaluate` a sub-command, as in msfdiff
    def _noop() -> None: ...

    return app


def _write_cubes(folder, rng, n=3, gain=1.0):
    folder.mkdir()
    for i in range(n):
        cube = gain * rng.random((24, 24, 8)).astype(np.float32) * 0.3 + 0.05
        np.save(folder / f"cube_{i}.npy", cube)
    return folder


def test_evaluate_hsi_folders(tmp_path, rng, app):
    real = _write_cubes(tmp_path / "real", rng)
    synthetic = _write_cubes(tmp_path / "synthetic", rng, gain=1.5)
    out = tmp_path / "report.json"
    args = ["evaluate", "--real", str(real), "--synthetic", str(synthetic), "--json", str(out)]
    args += ["--plots", str(tmp_path / "plots"), "--wavelengths", "450:800:8", "--no-fid"]
    result = CliRunner().invoke(app, [*args, "--niqe-patch", "16"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["sets"]["real"]["n_images"] == 3
    assert report["sets"]["synthetic"]["wavelengths_nm"][0] == 450.0
    assert report["metrics"]["spectral_fd"]["value"] > 0
    assert {"niqe_real", "piqe_synthetic"} <= set(report["metrics"])
    assert (tmp_path / "plots" / "band_quality.png").is_file()
    again = CliRunner().invoke(app, args)
    assert isinstance(again.exception, OutputExistsError)


def test_evaluate_photos_against_cubes(tmp_path, rng, app):
    photos = tmp_path / "photos" / "Farmland"  # class sub-folder, as in AID
    photos.mkdir(parents=True)
    for i in range(2):
        pixels = (rng.random((20, 20, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(photos / f"farmland_{i}.png")
    cubes = _write_cubes(tmp_path / "cubes", rng)
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        ["evaluate", "--real", str(tmp_path / "photos"), "--synthetic", str(cubes)]
        + ["--json", str(out), "--no-fid", "--max-images", "2"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["sets"]["real"]["kind"] == "rgb"
    assert report["sets"]["synthetic"]["n_images"] == 2
    assert "spectral_fd" not in report["metrics"]


def test_evaluate_integer_real_cubes_with_scale(tmp_path, rng, app):
    real = tmp_path / "real"
    real.mkdir()
    for i in range(3):
        np.save(real / f"cube_{i}.npy", rng.integers(0, 4096, (24, 24, 8), dtype=np.uint16))
    synthetic = _write_cubes(tmp_path / "synthetic", rng)
    out = tmp_path / "report.json"
    args = ["evaluate", "--real", str(real), "--synthetic", str(synthetic), "--json", str(out)]
    args += ["--no-fid", "--no-quality", "--wavelengths", "450:800:8"]
    unscaled = CliRunner().invoke(app, args)
    assert "needs a scale" in str(unscaled.exception)
    result = CliRunner().invoke(app, [*args, "--real-scale", "4095"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["metrics"]["spectral_fd"]["value"] > 0


def _write_samples(folder, maps, **manifest):
    """A samples folder as ``msfdiff sample`` leaves it: abundance maps and sampling.json."""
    folder.mkdir()
    for i, abundance in enumerate(maps):
        np.save(sample_abundance_path(folder, i), abundance)
    (folder / SAMPLING_MANIFEST).write_text(json.dumps({"seed": 0, **manifest}))
    return folder


def test_evaluate_novelty_of_samples_against_training_maps(tmp_path, rng, app):
    real = _write_cubes(tmp_path / "real", rng)
    cubes = _write_cubes(tmp_path / "synthetic", rng)
    training = make_synthetic_abundances(12, 16, 16, 3, seed=1)
    write_abundance_dataset(tmp_path / "train", training)
    fresh = make_synthetic_abundances(3, 16, 16, 3, seed=2)
    samples = _write_samples(tmp_path / "samples", [training[5], *fresh])  # one copy
    out = tmp_path / "report.json"
    args = ["evaluate", "--real", str(real), "--synthetic", str(cubes), "--json", str(out)]
    args += ["--no-fid", "--no-quality", "--plots", str(tmp_path / "plots")]
    args += ["--synthetic-abundances", str(samples), "--train-abundances", str(tmp_path / "train")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    metrics, novelty = report["metrics"], report["novelty"]
    assert metrics["memorisation_rate"]["value"] >= 0.25 and 0 in novelty["memorised"]
    assert metrics["memorisation_rate"]["better"] == "lower"
    assert metrics["novelty_nearest_train"]["better"] == "higher"
    assert metrics["novelty_nearest_train"]["value"] > 0
    assert novelty["distances"]["nearest_training"][0] == 0
    assert {"novelty_nearest_train", "memorisation_rate"} <= set(report["definitions"])
    assert "novelty_source" not in metrics  # plain samples: no sources
    assert (tmp_path / "plots" / "novelty.png").is_file()
    assert "memorisation_rate" in result.output


def test_evaluate_novelty_of_variations_reads_their_sources(tmp_path, rng, app):
    real = _write_cubes(tmp_path / "real", rng)
    training = make_synthetic_abundances(10, 16, 16, 3, seed=1)
    write_abundance_dataset(tmp_path / "train", training)
    sources = make_synthetic_abundances(2, 16, 16, 3, seed=3)
    write_abundance_dataset(tmp_path / "like", sources)
    # sample i follows source i % 2; samples 0 and 3 are their sources unchanged
    maps = [sources[0], training[0], training[1], sources[1]]
    variations = _write_samples(tmp_path / "variations", maps, like=str(tmp_path / "like"))
    out = tmp_path / "report.json"
    args = ["evaluate", "--real", str(real), "--synthetic", str(real), "--json", str(out)]
    args += ["--no-fid", "--no-quality", "--synthetic-abundances", str(variations)]
    args += ["--train-abundances", str(tmp_path / "train")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    to_source = report["novelty"]["distances"]["source"]
    assert to_source[0] == 0 and to_source[3] == 0 and min(to_source[1:3]) > 0
    assert report["metrics"]["novelty_source"]["value"] > 0
    # photos as sources: no maps on file, a note says so; an explicit data set still works
    photos = _write_samples(tmp_path / "photo_variations", maps, like=str(real))
    args[args.index(str(variations))] = str(photos)
    result = CliRunner().invoke(app, [*args, "--force"])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert "novelty_source" not in report["metrics"]
    assert any("distance to the source skipped" in note for note in report["notes"])
    guided = _write_samples(tmp_path / "guided", maps, like_sha256="0" * 64, strength=0.3)
    args[args.index(str(photos))] = str(guided)  # sources recorded only by their digest
    result = CliRunner().invoke(app, [*args, "--force"])
    assert result.exit_code == 0, result.output
    (note,) = [n for n in json.loads(out.read_text())["notes"] if "source" in n]
    assert "names no source maps on file (pass --source-abundances)" in note
    explicit = [*args, "--force", "--source-abundances", str(tmp_path / "like")]
    assert CliRunner().invoke(app, explicit).exit_code == 0
    assert json.loads(out.read_text())["novelty"]["distances"]["source"] == to_source


def test_a_missing_network_fails_before_any_set_is_read(tmp_path, app, monkeypatch):
    from msfdiff.errors import DataNotFoundError

    monkeypatch.setenv("MSFDIFF_INCEPTION", str(tmp_path / "gone.pt"))
    args = ["evaluate", "--real", str(tmp_path / "no-real"), "--synthetic",
            str(tmp_path / "no-synthetic"), "--json", str(tmp_path / "r.json")]  # fmt: skip
    result = CliRunner().invoke(app, args)
    # the network is named, not the (also missing) sets: it was looked for first
    assert isinstance(result.exception, DataNotFoundError)
    assert "gone.pt" in str(result.exception) and not (tmp_path / "r.json").exists()
    without_fid = CliRunner().invoke(app, [*args, "--no-fid"])
    assert "no-real" in str(without_fid.exception)
