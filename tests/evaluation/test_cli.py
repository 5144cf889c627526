"""``msfdiff evaluate`` end to end on tiny files (network-free, so fast)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from msfdiff.cli.evaluate import register
from msfdiff.errors import OutputExistsError


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
