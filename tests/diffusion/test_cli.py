"""``msfdiff diffusion train`` and ``msfdiff sample`` through Typer's CliRunner."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from msfdiff.cli.diffusion import register
from msfdiff.data.abundances import load_abundance_dataset
from msfdiff.diffusion.config import load_config
from msfdiff.errors import ConfigError, DataNotFoundError, OutputExistsError
from msfdiff.fusion import fuse
from msfdiff.generator import SamplingSettings, load_generator
from tests.diffusion.tiny import SIZE, K, tiny_config

N_BANDS = 7


@pytest.fixture(scope="module")
def cli():
    app = typer.Typer()
    app.callback()(lambda: None)  # keep `sample` a sub-command, as in msfdiff's main app
    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_train_resume_and_refusals(cli, tmp_path, abundance_dir, monkeypatch):
    monkeypatch.setattr(
        "msfdiff.diffusion.config.load_diffusion_preset", lambda name: tiny_config()
    )
    run = tmp_path / "run"
    result = cli("diffusion", "train", "--run", run, "--abundances", abundance_dir, "--steps", 2)
    assert result.exit_code == 0, result.output
    assert load_config(run / "diffusion").training.max_steps == 2
    assert (run / "diffusion" / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    result = cli(
        "diffusion", "train", "--run", run, "--abundances", abundance_dir, "--resume", "--steps", 3
    )
    assert result.exit_code == 0, result.output
    assert (run / "diffusion" / "checkpoints" / "step_00000003").is_dir()
    result = cli(
        "diffusion", "train", "--run", run, "--abundances", abundance_dir, "--resume", "--seed", 1
    )
    assert isinstance(result.exception, ConfigError) and "--seed cannot change" in str(
        result.exception
    )
    result = cli("diffusion", "train", "--run", run, "--abundances", abundance_dir)
    assert isinstance(result.exception, OutputExistsError)


@pytest.fixture
def run(tmp_path, trained_run, monkeypatch, rng):
    """A run folder with the tiny trained diffusion model and a fake unmixer beside it."""
    shutil.copytree(trained_run / "diffusion", tmp_path / "run" / "diffusion")
    unmixer = SimpleNamespace(  # endmembers_ hold the decoder bias (exact on the simplex)
        endmembers_=rng.uniform(0, 1, (K, N_BANDS)).astype(np.float32),
        wavelengths_=np.linspace(450, 650, N_BANDS),
        noise_std_=np.full(N_BANDS, 0.01, dtype=np.float32),
    )
    monkeypatch.setattr("msfdiff.unmixing.load_unmixer", lambda run_dir: unmixer)
    return tmp_path / "run", unmixer


def test_sample_writes_fused_hsis_and_resumes(cli, run, tmp_path):
    run_dir, unmixer = run
    out = tmp_path / "out"
    args = ["sample", "--run", run_dir, "--out", out, "--sampler", "ddim", "--steps", 3]
    args += ["--format", "npy", "--class", "river", "--batch-size", 2, "--no-noise"]
    result = cli(*args, "--n", 3)
    assert result.exit_code == 0, result.output
    maps = [np.load(out / f"sample_{i:04d}_abundance.npy") for i in range(3)]
    for i, a in enumerate(maps):
        assert a.shape == (SIZE, SIZE, K) and np.abs(a.sum(-1) - 1).max() < 1e-5
        expected = fuse(unmixer.endmembers_, a)
        np.testing.assert_allclose(np.load(out / f"sample_{i:04d}.npy"), expected, atol=1e-6)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}

    assert "3 of 3 samples already" in cli(*args, "--n", 3).output
    (out / "sample_0001_abundance.npy").unlink()  # as if interrupted while writing sample 1
    result = cli(*args, "--n", 4)
    assert result.exit_code == 0 and "2 of 4 samples already" in result.output
    assert out.joinpath("sample_0000.npy").stat().st_mtime_ns == stamps["sample_0000.npy"]
    np.testing.assert_allclose(np.load(out / "sample_0001_abundance.npy"), maps[1], atol=1e-4)
    assert (out / "sample_0003_abundance.npy").is_file()

    result = cli(*args, "--n", 3, "--sampler", "dpmsolver++")  # the last --sampler counts
    assert isinstance(result.exception, OutputExistsError)
    assert "other settings (sampler)" in str(result.exception)
    result = cli(*args, "--n", 3, "--size", 2 * SIZE)
    assert "other settings (size)" in str(result.exception)


def test_sample_maps_larger_than_the_training_size(cli, run, tmp_path):
    run_dir, unmixer = run
    out = tmp_path / "big"
    args = ["sample", "--run", run_dir, "--out", out, "--n", 1, "--sampler", "ddim"]
    result = cli(
        *args, "--steps", 2, "--format", "npy", "--class", "river", "--size", 2 * SIZE, "--no-noise"
    )
    assert result.exit_code == 0, result.output
    abundance = np.load(out / "sample_0000_abundance.npy")
    assert abundance.shape == (2 * SIZE, 2 * SIZE, K) and abundance.min() >= 0
    assert np.abs(abundance.sum(-1) - 1).max() < 1e-5
    hsi = np.load(out / "sample_0000.npy")
    np.testing.assert_allclose(hsi, fuse(unmixer.endmembers_, abundance), atol=1e-6)
    assert json.loads((out / "sampling.json").read_text())["size"] == 2 * SIZE
    result = cli(*args, "--out", tmp_path / "odd", "--size", SIZE + 1)
    assert isinstance(result.exception, ConfigError)
    assert "map size 17 must be a positive multiple of 2" in str(result.exception)
    assert not (tmp_path / "odd").exists()


def test_sample_refuses_foreign_folders_and_bad_requests(cli, run, tmp_path):
    run_dir, _ = run
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    result = cli(
        "sample", "--run", run_dir, "--out", tmp_path / "busy", "--n", 1, "--class", "river"
    )
    assert isinstance(result.exception, OutputExistsError)
    result = cli("sample", "--run", run_dir, "--out", tmp_path / "o", "--n", 1, "--class", "sea")
    assert isinstance(result.exception, ConfigError) and "unknown class 'sea'" in str(
        result.exception
    )
    assert not (tmp_path / "o").exists()
    # a conditional model asked for no class draws the classes in turn, and says so
    result = cli(
        "sample",
        "--run",
        run_dir,
        "--out",
        tmp_path / "mix",
        "--n",
        2,
        "--sampler",
        "ddim",
        "--steps",
        2,
        "--format",
        "npy",
    )
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / "mix" / "sampling.json").read_text())
    assert settings["class"] is None and settings["classes"] == ["farmland", "river"]


def test_noise_adds_the_unmixers_residual_std(cli, run, tmp_path):
    run_dir, unmixer = run
    out = tmp_path / "noisy"
    args = ["sample", "--run", run_dir, "--out", out, "--n", 2, "--class", "farmland"]
    result = cli(*args, "--sampler", "ddim", "--steps", 2, "--format", "npy", "--noise")
    assert result.exit_code == 0, result.output
    residuals = [
        np.load(out / f"sample_{i:04d}.npy")
        - fuse(unmixer.endmembers_, np.load(out / f"sample_{i:04d}_abundance.npy"))
        for i in range(2)
    ]
    assert np.std(residuals) == pytest.approx(0.01, rel=0.1)  # 3584 values, std known: 0.01


def test_sample_defaults_are_the_sampling_settings(cli, run, tmp_path):
    """`msfdiff sample` and the pipeline share one set of defaults: UniPC-8 with noise."""
    run_dir, _ = run
    out = tmp_path / "defaults"
    result = cli("sample", "--run", run_dir, "--out", out, "--n", 1, "--class", "river")
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "sampling.json").read_text())
    defaults = SamplingSettings()
    assert (defaults.sampler, defaults.steps, defaults.noise) == ("unipc", None, True)
    assert (settings["sampler"], settings["steps"], settings["noise"]) == ("unipc", 8, True)
    assert (settings["format"], settings["seed"]) == (defaults.format, defaults.seed) == ("envi", 0)
    assert (out / "sample_0000.hdr").is_file()
    assert settings["model_sha256"] == load_generator(run_dir / "diffusion").fingerprint()


def one_line(result) -> str:
    """The CLI prints a MsfdiffError as one line: its message must be one."""
    message = str(result.exception)
    assert "\n" not in message
    return message


def test_like_and_strength_refusals_are_one_line(cli, run, tmp_path, abundance_dir):
    run_dir, _ = run
    out = tmp_path / "refused"
    args = ["sample", "--run", run_dir, "--out", out, "--n", 1]
    result = cli(*args, "--strength", 0.5)
    assert isinstance(result.exception, ConfigError)
    assert one_line(result) == "--strength needs --like or --collage (without them S = 1)"
    result = cli(*args, "--like", abundance_dir, "--strength", 1.5)
    assert one_line(result) == "--strength must be in [0, 1], got 1.5"
    result = cli(*args, "--like", abundance_dir, "--collage", abundance_dir)
    assert "exclude each other" in one_line(result)
    result = cli(*args, "--like", tmp_path / "nowhere")
    assert isinstance(result.exception, DataNotFoundError) and "folder not found" in one_line(
        result
    )
    result = cli(*args, "--like", abundance_dir, "--size", 2 * SIZE)
    assert "--size 32 differs from the sources' 20x20 maps" in one_line(result)
    assert not out.exists()


def test_sample_like_an_abundance_dataset_resumes_only_alike(cli, run, tmp_path, abundance_dir):
    run_dir, _ = run
    out = tmp_path / "like"
    args = ["sample", "--run", run_dir, "--out", out, "--like", abundance_dir, "--n", 3]
    args += ["--sampler", "ddim", "--steps", 3, "--format", "npy", "--no-noise"]
    result = cli(*args, "--strength", 0.2)
    assert result.exit_code == 0, result.output
    sources = np.asarray(load_abundance_dataset(abundance_dir).array, dtype=np.float32)
    maps = np.stack([np.load(out / f"sample_{i:04d}_abundance.npy") for i in range(3)])
    assert maps.shape == (3, 20, 20, K) and np.abs(maps.sum(-1) - 1).max() < 1e-5
    distance = np.abs(maps[:, None] - sources[None]).mean(axis=(2, 3, 4))  # (sample, source)
    assert distance.argmin(axis=1).tolist() == [0, 1, 2]  # each stays near its own source
    settings = json.loads((out / "sampling.json").read_text())
    assert settings["strength"] == 0.2 and settings["like_shape"] == [6, 20, 20, K]
    assert settings["size"] == 20 and settings["inpainting"] is False
    assert "3 of 3 samples already" in cli(*args, "--strength", 0.2).output
    result = cli(*args, "--strength", 0.3)
    assert isinstance(result.exception, OutputExistsError)
    assert "other settings (strength)" in str(result.exception)


def test_sample_like_photos_through_the_unmixer(cli, run, tmp_path):
    from PIL import Image

    run_dir, unmixer = run
    photos = tmp_path / "photos"
    for i, label in enumerate(["river", "river", "farmland"]):
        (photos / label).mkdir(parents=True, exist_ok=True)
        pixels = np.random.default_rng(i).integers(0, 256, (24, 24, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photos / label / f"{i}.png")
    unmixer.config_ = SimpleNamespace(n_endmembers=K)
    unmixer.photo_gain = lambda images: 1.0
    unmixer.transform = lambda rgb, gain: (rgb + 0.1) / (rgb + 0.1).sum(-1, keepdims=True)
    out = tmp_path / "photo_like"
    result = cli(
        *["sample", "--run", run_dir, "--out", out, "--like", photos, "--n", 2],
        *["--sampler", "ddim", "--steps", 2, "--format", "npy", "--strength", 0.1],
    )
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "sampling.json").read_text())
    assert settings["like_shape"] == [3, SIZE, SIZE, K] and settings["strength"] == 0.1
    assert np.load(out / "sample_0001_abundance.npy").shape == (SIZE, SIZE, K)
    # the photos' maps are kept beside the samples, so evaluation can measure distance to
    # source without the photos, and no set loader takes them for an HSI
    from msfdiff.data.readers import hsi_files
    from msfdiff.evaluation.sets import recorded_sources

    kept = np.load(out / "guidance_sources.npy")
    assert kept.shape == (3, SIZE, SIZE, K)
    sources, note = recorded_sources(out, 2)
    assert note is None and all(
        np.array_equal(a, b) for a, b in zip(sources, kept[:2], strict=True)
    )
    assert [p.name for p in hsi_files(out)] == ["sample_0000.npy", "sample_0001.npy"]


def test_sample_collages_keep_their_interiors(cli, run, tmp_path, abundance_dir):
    run_dir, _ = run
    out = tmp_path / "collage"
    result = cli(
        *["sample", "--run", run_dir, "--out", out, "--collage", abundance_dir, "--n", 2],
        *["--sampler", "unipc", "--steps", 3, "--format", "npy", "--strength", 0.2],
        *["--band", 1, "--cells", 3],
    )
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "sampling.json").read_text())
    assert settings["inpainting"] is True and settings["strength"] == 0.2
    sources = np.asarray(load_abundance_dataset(abundance_dir).array, dtype=np.float32)
    collage = np.load(out / "sample_0000_abundance.npy")
    # most pixels are kept: each equals that pixel of some real map
    hits = np.all(np.isclose(sources, collage, atol=1e-6), axis=-1).any(axis=0)
    assert 0.5 < hits.mean() < 1
